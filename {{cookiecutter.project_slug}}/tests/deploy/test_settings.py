"""Every deploy setting is documented in .env.example, and nothing there is stale."""

import importlib
import importlib.util
import re
from pathlib import Path

from {{ cookiecutter.package_name }}.deploy.targets import available

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def deploy_settings_classes() -> list:
    classes = [module.SETTINGS for module in available().values()]
    # `make push` (in projects baked with kubernetes=yes) reads DEPLOY_ settings too.
    for module, name in (("container.push", "PushSettings"), ("deploy.ecr", "EcrSettings")):
        found = f"{{ cookiecutter.package_name }}.{module}"
        if importlib.util.find_spec(found):
            classes.append(getattr(importlib.import_module(found), name))
    return classes


def environment_name(name: str, field) -> str:
    """A setting's variable: DEPLOY_<NAME>, or its own (API_KEY, the service's, is shared)."""
    return (
        field.validation_alias
        if isinstance(field.validation_alias, str)
        else f"DEPLOY_{name.upper()}"
    )


def test_every_deploy_setting_is_in_env_example_with_a_comment():
    fields = {
        environment_name(name, field)
        for settings in deploy_settings_classes()
        for name, field in settings.model_fields.items()
    }
    documented = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        found = re.match(r"#\s*([A-Z][A-Z0-9_]*)=", line)
        if found and (found.group(1).startswith("DEPLOY_") or found.group(1) in fields):
            documented[found.group(1)] = line
    assert set(documented) == fields
    for line in documented.values():
        assert "#" in line.lstrip("#"), f"say what it does: {line}"


def test_the_old_deploy_api_key_is_refused_with_the_new_name(tmp_path):
    from .test_targets import deploy_cli

    (tmp_path / ".env").write_text("DEPLOY_API_KEY=an-old-style-key-0123456789\n")
    result = deploy_cli(tmp_path, "status")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "DEPLOY_API_KEY (in .env) is no longer read" in message and "API_KEY=" in message
    assert "an-old-style-key" not in result.stdout + result.stderr


def test_a_deploy_without_a_key_makes_a_strong_one_kept_in_env_alone(tmp_path, monkeypatch):
    import stat

    from rich.console import Console

    from {{ cookiecutter.package_name }}.deploy.api_key import ensure_api_key
    from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("API_KEY", raising=False)
    (tmp_path / ".env").write_text("DEPLOY_SSH_HOST=203.0.113.7")  # no newline at the end
    console = Console(record=True, width=200)
    settings = ensure_api_key(DeploySettings(), console)
    key = settings.api_key.get_secret_value()
    assert len(key) >= 40 and key not in console.export_text()
    env = tmp_path / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert env.read_text().startswith("DEPLOY_SSH_HOST=203.0.113.7\n")
    # The next deploy, `make serve` and `make predict` read the same key from .env.
    assert DeploySettings().api_key.get_secret_value() == key
    assert ensure_api_key(DeploySettings(), Console(quiet=True)).api_key.get_secret_value() == key
    from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

    assert ServeSettings().api_key.get_secret_value() == key


def test_an_empty_api_key_is_replaced_and_a_short_one_refused(tmp_path, monkeypatch):
    import pytest
    from pydantic import SecretStr
    from rich.console import Console

    from {{ cookiecutter.package_name }}.deploy.api_key import ensure_api_key
    from {{ cookiecutter.package_name }}.deploy.errors import BadSetting
    from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("API_KEY", raising=False)
    (tmp_path / ".env").write_text("API_KEY=\n")  # copied from an example, left empty
    made = ensure_api_key(DeploySettings(), Console(quiet=True)).api_key.get_secret_value()
    assert len(made) >= 40 and DeploySettings().api_key.get_secret_value() == made
    with pytest.raises(BadSetting, match="API_KEY is shorter than 16 characters"):
        ensure_api_key(DeploySettings(api_key=SecretStr("short")), Console(quiet=True))


def test_make_deploy_checks_its_settings_before_building_the_image(tmp_path):
    """A renamed or too-short key used to be said after minutes of `docker-build`."""
    import shutil
    import subprocess

    from .test_targets import deploy_cli

    for line, said in (
        (
            "DEPLOY_API_KEY=an-old-style-key-0123456789",
            "DEPLOY_API_KEY (in .env) is no longer read",
        ),
        ("API_KEY=short", "API_KEY is shorter than 16 characters: remove it from .env"),
    ):
        (tmp_path / ".env").write_text(line + "\n")
        result = deploy_cli(tmp_path, "check")
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert said in " ".join(result.stderr.split())
    (tmp_path / ".env").write_text("")
    assert deploy_cli(tmp_path, "check").returncode == 0, "good settings pass, and build nothing"
    if shutil.which("make"):
        root = ENV_EXAMPLE.parent
        recipe = subprocess.run(
            ["make", "-n", "--no-print-directory", "deploy", "PY=python"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        assert 0 <= recipe.index(".deploy check") < recipe.index(".container build")
