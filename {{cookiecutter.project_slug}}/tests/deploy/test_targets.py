"""The deploy command line: only this project's targets, clear errors, no tracebacks."""

import os
import subprocess
import sys
from pathlib import Path

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings as DeploySettingsBase
from {{ cookiecutter.package_name }}.deploy.targets import available

PACKAGE = "{{ cookiecutter.package_name }}"
# The command runs in a fresh folder (its own .env and .deploy/): find the package from there too.
SOURCE = str(Path({{ cookiecutter.package_name }}.__file__).resolve().parents[1])


def deploy_cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the deploy command line in tmp_path, stdin not a terminal (as in a script)."""
    path = os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")]))
    environment = os.environ | {"PYTHONPATH": path, "COLUMNS": "200"} | env
    return subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.deploy", *args],
        cwd=tmp_path,
        env=environment,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_target_this_project_lacks_is_refused_clearly(tmp_path):
    result = deploy_cli(tmp_path, "status", "--target", "nowhere")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "Unknown deploy target 'nowhere'" in message
    assert f"this project deploys to {', '.join(available())}" in message


def test_a_bad_setting_is_exit_code_2(tmp_path):
    result = deploy_cli(tmp_path, "status", DEPLOY_REMOTE_PORT="99999")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "remote_port" in result.stderr.lower()


def test_the_default_target_is_one_of_ours():
    from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings

    assert DeploySettings(_env_file=None).target in available()


def test_every_target_module_provides_what_the_commands_call():
    from {{ cookiecutter.package_name }}.deploy.targets import Target

    for name, module in available().items():
        assert isinstance(module, Target), name
        assert issubclass(module.SETTINGS, DeploySettingsBase), name


def test_a_module_missing_a_function_is_no_target():
    import types

    from {{ cookiecutter.package_name }}.deploy.targets import Target

    half = types.ModuleType("target_half")
    half.SETTINGS = DeploySettingsBase
    half.deploy = half.status = half.destroy = lambda settings, console: None
    assert not isinstance(half, Target)  # no host_releases: logs, rollback, ssh would fail
