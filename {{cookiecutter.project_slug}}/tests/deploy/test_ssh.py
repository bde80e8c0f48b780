"""The SSH side of deploys: strict host-key checking, and errors that say what to do."""

import pytest

from {{ cookiecutter.package_name }}.deploy.errors import DeployError
from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings
from {{ cookiecutter.package_name }}.deploy.ssh import Remote

from ..conftest import free_port, require_tool
{%- if cookiecutter.deploy_target != 'aws' %}
from .test_targets import deploy_cli
{%- endif %}


def settings(tmp_path, **overrides) -> DeploySettings:
    values = {
        "ssh_host": "127.0.0.1",
        "ssh_user": "deployer",
        "known_hosts": tmp_path / "known_hosts",
    }
    return DeploySettings(_env_file=None, **(values | overrides))


def test_host_keys_are_never_trusted_blindly(tmp_path):
    require_tool("ssh")
    command = Remote(settings(tmp_path, ssh_key=tmp_path / "key")).ssh_command()
    assert "StrictHostKeyChecking=yes" in command
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in command
    assert "BatchMode=yes" in command  # never a password prompt in the middle of a deploy
    assert command[-1] == "deployer@127.0.0.1"


def test_missing_host_is_a_clear_error(tmp_path):
    with pytest.raises(DeployError, match="DEPLOY_SSH_HOST"):
        Remote(settings(tmp_path, ssh_host=""))


def test_unreachable_host_names_the_address(tmp_path):
    require_tool("ssh")
    port = free_port()  # nothing listens there
    remote = Remote(settings(tmp_path, ssh_port=port))
    with pytest.raises(DeployError, match=f"Cannot reach deployer@127.0.0.1:{port}"):
        remote.run("true")
{%- if cookiecutter.deploy_target != 'aws' %}


def test_a_deploy_without_a_login_is_a_bad_setting_and_records_nothing(tmp_path):
    from {{ cookiecutter.package_name }}.deploy import state

    (tmp_path / ".env").write_text("DEPLOY_TARGET=ssh\nDEPLOY_SSH_HOST=203.0.113.7\n")
    result = deploy_cli(tmp_path, "deploy", "--yes")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Set DEPLOY_SSH_HOST and DEPLOY_SSH_USER" in result.stderr
    assert state.load(tmp_path / ".deploy") == {}


def test_a_host_that_never_answered_is_not_recorded_as_deployed(tmp_path):
    """A typo'd address recorded as a deploy would send the next deploy and destroy there."""
    from {{ cookiecutter.package_name }}.deploy import state

    require_tool("ssh")
    env = f"DEPLOY_TARGET=ssh\nDEPLOY_SSH_HOST=127.0.0.1\nDEPLOY_SSH_PORT={free_port()}\n"
    (tmp_path / ".env").write_text(env + "DEPLOY_SSH_USER=deployer\n")
    result = deploy_cli(tmp_path, "deploy", "--yes")
    assert result.returncode == 1 and "Cannot reach deployer@127.0.0.1" in result.stderr
    assert state.load(tmp_path / ".deploy") == {}
{%- endif %}
