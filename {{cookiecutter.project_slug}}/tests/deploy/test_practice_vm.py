"""make practice-vm's settings: where the deploy reads them, what they override, and saying so.

The practice VM itself (a container with sshd and Docker) is started, deployed to and
removed by the template's tests (tests/test_practice_vm.py); these need no Docker.
"""

import io
import os
import subprocess
import sys
import tarfile

import pytest

from {{ cookiecutter.package_name }}.deploy import practice_vm
from {{ cookiecutter.package_name }}.deploy.settings import PRACTICE_VM_ENV, DeploySettings

from .test_targets import PACKAGE, SOURCE


@pytest.fixture
def in_project(tmp_path, monkeypatch):
    """A fresh project folder, and no DEPLOY_ variables from the shell running the tests."""
    for name in [n for n in os.environ if n.startswith("DEPLOY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_practice_vm_settings_win_over_env_while_they_exist(in_project):
    (in_project / ".env").write_text("DEPLOY_SSH_HOST=203.0.113.7\nDEPLOY_SSH_USER=ubuntu\n")
    PRACTICE_VM_ENV.parent.mkdir()
    practice_vm.write_settings("ssh-ed25519 AAAAC3Nza", 49222)
    settings = DeploySettings()
    assert (settings.ssh_host, settings.ssh_port, settings.ssh_user) == (
        "127.0.0.1",
        49222,
        "deploy",
    )
    assert settings.known_hosts == (in_project / ".practice-vm" / "known_hosts").resolve()
    assert (in_project / ".practice-vm" / "known_hosts").read_text() == (
        "[127.0.0.1]:49222 ssh-ed25519 AAAAC3Nza\n"
    )
    PRACTICE_VM_ENV.unlink()
    assert DeploySettings().ssh_host == "203.0.113.7", ".env applies again once it is gone"


def test_the_env_settings_it_overrides_are_named(in_project):
    (in_project / ".env").write_text("DEPLOY_SSH_HOST=203.0.113.7\nDEPLOY_SSH_USER=deploy\n")
    shadowed = practice_vm.shadowed_env_settings(practice_vm.deploy_settings(49222))
    assert shadowed == ["DEPLOY_SSH_HOST=203.0.113.7"], "the same value is not an override"


def test_an_environment_variable_still_wins_over_the_practice_vm_and_is_named(
    in_project, monkeypatch
):
    PRACTICE_VM_ENV.parent.mkdir()
    settings = practice_vm.write_settings("ssh-ed25519 AAAAC3Nza", 49222)
    monkeypatch.setenv("DEPLOY_SSH_HOST", "198.51.100.4")
    monkeypatch.setenv("DEPLOY_SSH_USER", "deploy")  # the same value: no override
    assert DeploySettings().ssh_host == "198.51.100.4"
    assert practice_vm.shell_overrides(settings) == ["DEPLOY_SSH_HOST=198.51.100.4"]


def test_every_deploy_command_says_it_targets_the_practice_vm(in_project):
    PRACTICE_VM_ENV.parent.mkdir()
    practice_vm.write_settings("ssh-ed25519 AAAAC3Nza", 9)  # nothing listens on port 9
    result = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.deploy", "status", "--target", "ssh"],
        cwd=in_project,
        env=os.environ | {"PYTHONPATH": SOURCE, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Target: the practice VM on this computer (.practice-vm/deploy.env" in result.stdout
    assert result.returncode == 1 and "127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_deploy_record_follows_the_practice_vm_and_goes_with_it(in_project):
    """Restarted, the VM has a new port; removed, its releases are gone: a record left as it
    was would make the next `make deploy` refuse, and `make destroy` call a VM not there."""
    from {{ cookiecutter.package_name }}.deploy import state

    PRACTICE_VM_ENV.parent.mkdir()
    ours = practice_vm.deploy_settings(49222)
    connection = {
        "ssh_host": "127.0.0.1",
        "ssh_port": "49222",
        "ssh_user": "deploy",
        "ssh_key": ours["DEPLOY_SSH_KEY"],
    }
    state_dir = in_project / ".deploy"
    state.record(state_dir, target="ssh", app="demo", connection=connection, release="r1")
    assert practice_vm.move_the_record("50001") is None
    moved = state.load(state_dir)
    assert moved["connection"]["ssh_port"] == "50001" and moved["release"] == "r1"
    assert (
        practice_vm.move_the_record(None)
        == ".deploy/state.json (its deploy was on the practice VM)"
    )
    assert state.load(state_dir) == {}


def test_a_deploy_record_of_another_machine_is_never_touched(in_project):
    from {{ cookiecutter.package_name }}.deploy import state

    elsewhere = {"ssh_host": "203.0.113.7", "ssh_port": "22", "ssh_key": "/home/me/.ssh/id"}
    state_dir = in_project / ".deploy"
    state.record(state_dir, target="ssh", app="demo", connection=elsewhere)
    before = state.load(state_dir)
    assert practice_vm.move_the_record("50001") is None
    assert practice_vm.move_the_record(None) is None
    assert state.load(state_dir) == before
{%- if cookiecutter.deploy_target == 'both' %}


def test_an_aws_deploy_never_reads_the_practice_vm_settings(in_project):
    from {{ cookiecutter.package_name }}.deploy.aws_settings import AwsSettings

    PRACTICE_VM_ENV.parent.mkdir()
    practice_vm.write_settings("ssh-ed25519 AAAAC3Nza", 49222)
    assert AwsSettings().ssh_host == "" and AwsSettings().ssh_port == 22
{%- endif %}


def test_the_login_key_is_installed_for_the_deploy_user_only():
    data = io.BytesIO(practice_vm.authorized_keys_archive("ssh-ed25519 K"))
    with tarfile.open(fileobj=data) as archive:
        members = {m.name: (m.mode, m.uid) for m in archive.getmembers()}
        content = archive.extractfile(".ssh/authorized_keys").read()
    assert members == {
        ".ssh": (0o700, practice_vm.USER_ID),
        ".ssh/authorized_keys": (0o600, practice_vm.USER_ID),
    }
    assert content == b"ssh-ed25519 K"


def test_the_base_image_is_the_service_images(in_project):
    (in_project / "Dockerfile").write_text(
        "# x\nARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"
    )
    assert practice_vm.project_base_image() == "python:3.11-slim"
    (in_project / "Dockerfile").write_text("FROM debian\n")
    with pytest.raises(practice_vm.PracticeVmError, match="--base-image"):
        practice_vm.project_base_image()


def test_the_debian_mirror_is_the_one_this_computers_apt_uses(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n"
    )
    assert practice_vm.apt_mirror(tmp_path) == "http://mirror.invalid/debian"
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "deb http://mirror.invalid/ubuntu noble main\n"
    )
    assert practice_vm.apt_mirror(tmp_path) == "", "not Debian: the base image's own sources"


def test_stop_without_a_docker_engine_is_one_clear_line(in_project):
    result = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.deploy.practice_vm", "stop"],
        cwd=in_project,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": SOURCE, "DOCKER_HOST": f"unix://{in_project}/none.sock"},
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "No Docker engine answers" in result.stderr
