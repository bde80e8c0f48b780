"""Every deploy setting is documented in .env.example, and nothing there is stale."""

import re
from pathlib import Path

from {{ cookiecutter.package_name }}.deploy.targets import available

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_deploy_setting_is_in_env_example_with_a_comment():
    fields = {name for module in available().values() for name in module.SETTINGS.model_fields}
    documented = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        found = re.match(r"#\s*DEPLOY_([A-Z_]+)=", line)
        if found:
            documented[found.group(1).lower()] = line
    assert set(documented) == fields
    for line in documented.values():
        assert "#" in line.lstrip("#"), f"say what it does: {line}"
