"""Refuse bad options before cookiecutter writes a single file.

Cookiecutter renders this file with Jinja first, so the values below are the
user's answers. Each check prints one line that names the bad value and what
is allowed, then exits non-zero; cookiecutter then removes the half-made folder.
"""

import keyword
import re
import sys

SLUG = {{ cookiecutter.project_slug | tojson }}
PACKAGE = {{ cookiecutter.package_name | tojson }}
CHOICES = {
    "license": ({{ cookiecutter.license | tojson }}, ["MIT", "Apache-2.0", "BSD-3-Clause", "none"]),
    "python_version": ({{ cookiecutter.python_version | tojson }}, ["3.11", "3.12", "3.13"]),
    "task": ({{ cookiecutter.task | tojson }}, ["classification", "regression"]),
    "model": (
        {{ cookiecutter.model | tojson }},
        ["hist_gradient_boosting", "random_forest", "linear", "xgboost"],
    ),
    "deploy_target": ({{ cookiecutter.deploy_target | tojson }}, ["ssh", "aws", "both", "none"]),
    "include_github_actions": ({{ cookiecutter.include_github_actions | tojson }}, ["yes", "no"]),
    "kubernetes": ({{ cookiecutter.kubernetes | tojson }}, ["yes", "no"]),
}

# Lowercase so the slug also works as a Docker image name and a folder name.
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
PACKAGE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")

# Modules the generated project imports: a package with one of these names
# would shadow the real library and break imports in confusing ways.
DEPENDENCY_MODULES = {
    "boto3", "botocore", "docker", "fastapi", "httpx", "joblib", "matplotlib",
    "mlflow", "moto", "numpy", "onnx", "onnxruntime", "pandas",
    "prometheus_client", "pydantic", "pydantic_settings", "pytest", "rich",
    "scipy", "skl2onnx", "sklearn", "skops", "starlette", "typer", "uvicorn",
    "src", "tests", "test",
    "xgboost", "onnxmltools",  # model=xgboost
}  # fmt: skip


def problems() -> list[str]:
    found = []
    if not SLUG_PATTERN.match(SLUG):
        found.append(
            f"project_slug {SLUG!r} is not a valid distribution name: use lowercase "
            "letters, digits and single dashes, starting and ending with a letter "
            "or digit (e.g. 'churn-predictor')."
        )
    if not PACKAGE_PATTERN.match(PACKAGE):
        found.append(
            f"package_name {PACKAGE!r} is not a valid Python identifier: use lowercase "
            "letters, digits and underscores, not starting with a digit "
            "(e.g. 'churn_predictor')."
        )
    elif keyword.iskeyword(PACKAGE):
        found.append(f"package_name {PACKAGE!r} is a Python keyword: choose another name.")
    elif PACKAGE in sys.stdlib_module_names or PACKAGE in DEPENDENCY_MODULES:
        found.append(
            f"package_name {PACKAGE!r} would shadow the module of the same name that "
            "the project imports: choose another name (e.g. 'my_" + PACKAGE + "')."
        )
    for option, (value, allowed) in CHOICES.items():
        if value not in allowed:
            found.append(f"{option} {value!r} is not allowed: choose one of {', '.join(allowed)}.")
    return found


if __name__ == "__main__":
    errors = problems()
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    sys.exit(1 if errors else 0)
