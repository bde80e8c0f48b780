"""A release is the image and its run settings: any change makes a new release."""

from pydantic import SecretStr
from rich.console import Console

from {{ cookiecutter.package_name }}.deploy.releases import Releases
from {{ cookiecutter.package_name }}.deploy.settings import DeploySettings
from {{ cookiecutter.package_name }}.deploy.ssh import Remote


def releases(**settings) -> Releases:
    values = {"ssh_host": "127.0.0.1", "ssh_user": "deployer"} | settings
    resolved = DeploySettings(_env_file=None, **values)
    return Releases(Remote(resolved), resolved, Console(quiet=True))


def test_release_id_covers_the_image_and_every_run_setting():
    base = releases(api_key=SecretStr("first-key")).release_id("sha256:abc")
    assert base == releases(api_key=SecretStr("first-key")).release_id("sha256:abc")
    assert base != releases(api_key=SecretStr("rotated-key")).release_id("sha256:abc")
    assert base != releases(api_key=SecretStr("first-key"), remote_port=9000).release_id(
        "sha256:abc"
    )
    assert base != releases(api_key=SecretStr("first-key")).release_id("sha256:def")
    assert "first-key" not in base


def test_secrets_live_in_a_per_release_file_not_on_the_command_line():
    path = releases(app="learner-app").key_file("0123456789ab")
    assert path == ".coldstart/learner-app/0123456789ab.key"


def test_changing_a_container_limit_makes_a_new_release(monkeypatch):
    base = releases().release_id("sha256:abc")
    for name, value in {
        "CONTAINER_MEMORY_MB": "512",
        "CONTAINER_PIDS": "64",
        "LOG_MAX_MB": "50",
    }.items():
        with monkeypatch.context() as changed:
            changed.setenv(name, value)
            assert releases().release_id("sha256:abc") != base, name
    assert releases().release_id("sha256:abc") == base
