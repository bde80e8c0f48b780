"""The SSH side of deploys: strict host-key checking, and errors that say what to do."""

import pytest

from {{ cookiecutter.package_name }}.deploy.errors import DeployError
from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings
from {{ cookiecutter.package_name }}.deploy.ssh import Remote

from ..conftest import free_port, require_tool


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
