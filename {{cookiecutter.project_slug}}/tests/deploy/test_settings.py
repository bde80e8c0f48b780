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


def test_every_deploy_setting_is_in_env_example_with_a_comment():
    fields = {name for settings in deploy_settings_classes() for name in settings.model_fields}
    documented = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        found = re.match(r"#\s*DEPLOY_([A-Z_]+)=", line)
        if found:
            documented[found.group(1).lower()] = line
    assert set(documented) == fields
    for line in documented.values():
        assert "#" in line.lstrip("#"), f"say what it does: {line}"
