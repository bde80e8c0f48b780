"""Bad options are refused before anything is written, with a message naming value and fix."""

import json
import subprocess
import sys

import jinja2
import pytest

from .conftest import TEMPLATE

OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())


def cookiecutter_cli(tmp_path, *assignments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(tmp_path),
            str(TEMPLATE),
            *assignments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["project_slug=My Project"], "project_slug 'My Project' is not a valid distribution name"),
        (
            ["project_slug=-leading-dash"],
            "project_slug '-leading-dash' is not a valid distribution name",
        ),
        (
            ["project_slug=ok", "package_name=2fast"],
            "package_name '2fast' is not a valid Python identifier",
        ),
        (
            ["project_slug=ok", "package_name=my-pkg"],
            "package_name 'my-pkg' is not a valid Python identifier",
        ),
        (["project_slug=ok", "package_name=class"], "package_name 'class' is a Python keyword"),
        (["project_slug=ok", "package_name=json"], "package_name 'json' would shadow the module"),
        (
            ["project_slug=ok", "package_name=mlflow"],
            "package_name 'mlflow' would shadow the module",
        ),
        (
            ["project_slug=ok", "package_name=sklearn"],
            "package_name 'sklearn' would shadow the module",
        ),
        (
            ["project_slug=ok", "package_name=fastapi"],
            "package_name 'fastapi' would shadow the module",
        ),
        (["project_slug=ok", "package_name=test"], "package_name 'test' would shadow the module"),
        (
            ["project_slug=ok", "package_name=xgboost"],
            "package_name 'xgboost' would shadow the module",
        ),
        (["task=clustering"], "clustering provided for choice variable task"),
        (["model=lightgbm"], "lightgbm provided for choice variable model"),
        (["deploy_target=gcp"], "gcp provided for choice variable deploy_target"),
        (["python_version=3.9"], "3.9 provided for choice variable python_version"),
        (["license=GPL"], "GPL provided for choice variable license"),
        (
            ["include_github_actions=maybe"],
            "maybe provided for choice variable include_github_actions",
        ),
    ],
)
def test_bad_option_is_refused_and_nothing_is_left_behind(tmp_path, assignments, message):
    result = cookiecutter_cli(tmp_path, *assignments)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == [], "a refused bake must not leave a half-written folder"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("python_version", "3.9"),
        ("task", "clustering"),
        ("deploy_target", "gcp"),
        ("license", "GPL"),
    ],
)
def test_pre_gen_hook_itself_checks_choices(tmp_path, option, value):
    """Defence in depth: a replayed or hand-edited context bypasses cookiecutter's own check."""
    defaults = {
        k: v[0] if isinstance(v, list) else v for k, v in OPTIONS.items() if not k.startswith("_")
    }
    context = defaults | {"project_slug": "ok", "package_name": "ok_pkg", option: value}
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text()
    script = tmp_path / "hook.py"
    script.write_text(jinja2.Environment().from_string(source).render(cookiecutter=context))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{option} '{value}' is not allowed" in result.stderr


def test_every_option_has_a_prompt():
    prompts = OPTIONS["__prompts__"]
    for name, value in OPTIONS.items():
        if name.startswith("_"):
            continue
        assert name in prompts, f"{name} has no __prompts__ entry"
        if isinstance(value, list) and isinstance(prompts[name], dict):
            assert set(prompts[name]) - {"__prompt__"} == set(value), (
                f"{name}: a choice lacks its text"
            )


def test_readme_options_table_matches_cookiecutter_json():
    readme = (TEMPLATE / "README.md").read_text()
    for name, value in OPTIONS.items():
        if name.startswith("_"):
            continue
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"README's options table lacks {name}"
        if isinstance(value, list):
            for choice in value:
                assert f"`{choice}`" in row, f"README's row for {name} lacks {choice}"
