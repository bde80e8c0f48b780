"""`python -m ...deploy` for AWS as a learner runs it (a subprocess), against moto_server.

The price comes before anything is created; destroy follows the local record
(target and region), whatever the command line or the shell says; a missing
credential or any AWS refusal is one line that says what to do, not a traceback.
"""

import os
import pty
import select
import subprocess
import sys
import time

import pytest
from rich.console import Console

from {{ cookiecutter.package_name }}.deploy.aws import AwsTarget
from {{ cookiecutter.package_name }}.deploy.cost_guard import deadline_after

from ..conftest import free_port
from .test_aws import CIDR, aws_fixture, counts, moto_endpoint_fixture, settings_for  # noqa: F401
from .test_targets import SOURCE
from .test_targets import deploy_cli as run_cli


def deploy_cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run_cli(
        tmp_path, *args, **({"DEPLOY_APP": "learner-app", "DEPLOY_ALLOWED_CIDR": CIDR} | env)
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())


def test_deploy_says_the_price_and_asks_before_creating_anything(aws, tmp_path):
    result = deploy_cli(tmp_path, "deploy", "--target", "aws")
    assert "t3.medium in us-east-1" in result.stdout and "USD an hour" in result.stdout
    assert "after 4 h: at most" in " ".join(result.stdout.split())
    assert "DEPLOY_YES=1" in one_line_error(result)
    assert counts(aws.ec2) == [0, 0, 0, 0, 0], "nothing may be created before the yes"


def test_plain_destroy_removes_what_was_deployed_in_its_region(aws, tmp_path, monkeypatch):
    AwsTarget(
        settings_for(tmp_path, state_dir=tmp_path / ".deploy"), Console(quiet=True)
    ).provision(CIDR, deadline_after(4))
    # Another shell: another region, no DEPLOY_TARGET (a both-target project defaults to ssh).
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
    monkeypatch.delenv("DEPLOY_TARGET", raising=False)
    result = deploy_cli(tmp_path, "destroy", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removed instance i-" in result.stdout and "left in us-east-1" in result.stdout
    assert counts(aws.ec2) == [0, 0, 0, 0, 0]
    assert not (tmp_path / ".deploy" / "learner-app.pem").exists()


def test_destroy_removes_the_recorded_app_after_deploy_app_was_renamed(aws, tmp_path):
    recorded = AwsTarget(settings_for(tmp_path), Console(quiet=True)).provision(
        CIDR, deadline_after(4)
    )
    renamed = {"DEPLOY_APP": "renamed-app", **host_down()}
    # Every later command looks for what was deployed, under the name it was deployed as.
    status = deploy_cli(tmp_path, "status", **renamed)
    assert f"instance: {recorded['instance_id']}" in " ".join(status.stdout.split())
    result = deploy_cli(tmp_path, "destroy", **renamed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Using the recorded app 'learner-app'" in result.stdout
    assert f"removed instance {recorded['instance_id']}" in result.stdout
    assert counts(aws.ec2) == [0, 0, 0, 0, 0]
    assert not (tmp_path / ".deploy" / "state.json").exists()
    assert not (tmp_path / ".deploy" / "learner-app.pem").exists()
    # What went from this machine is said too: the key and the record.
    for local in ("learner-app.pem", "state.json"):
        assert f"/{local} (on this machine)" in result.stdout


def host_down() -> dict[str, str]:
    """moto's instance is no machine: SSH goes to a closed local port, as a host that is down."""
    return {
        "DEPLOY_AWS_SSH_HOST": "127.0.0.1",
        "DEPLOY_SSH_PORT": str(free_port()),
        "DEPLOY_SSH_USER": "x",
    }


@pytest.mark.parametrize("command", ["status", "destroy", "deploy"])
def test_no_credentials_is_one_line(aws, tmp_path, monkeypatch, command):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    nowhere = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = deploy_cli(tmp_path, command, "--target", "aws", DEPLOY_YES="1", **nowhere)
    message = one_line_error(result)
    assert "No AWS credentials found" in message and "aws configure" in message
    assert len(result.stderr.strip().splitlines()) <= 2


def test_an_aws_refusal_is_explained(aws, tmp_path):
    result = deploy_cli(
        tmp_path, "deploy", "--target", "aws", "--yes", DEPLOY_AMI_ID="ami-00000000"
    )
    assert "AWS refused RunInstances (InvalidAMIID" in one_line_error(result)
    # What was created before the refusal is on record, so destroy finds it.
    assert deploy_cli(tmp_path, "destroy").returncode == 0
    assert counts(aws.ec2) == [0, 0, 0, 0, 0]


def test_status_shows_the_deadline_and_the_money(aws, tmp_path):
    AwsTarget(settings_for(tmp_path), Console(quiet=True)).provision(CIDR, deadline_after(4))
    # moto's instance is no machine: point SSH at a closed local port, as a host that is down.
    host = {
        "DEPLOY_AWS_SSH_HOST": "127.0.0.1",
        "DEPLOY_SSH_PORT": str(free_port()),
        "DEPLOY_SSH_USER": "x",
    }
    result = deploy_cli(tmp_path, "status", **host)
    text = " ".join(result.stdout.split())
    assert "state: running" in text and "h left" in text and "from the ttl tag" in text
    assert "spent ~0.00 USD so far, at most 0.1" in text
    assert "Cannot reach" in one_line_error(result), (
        "an unreachable host is an error, not 'nothing'"
    )


def read_terminal(primary: int, until: bytes | None, timeout: float = 120) -> bytes:
    """Read what the command writes to its terminal until `until` appears (or it ends)."""
    output, deadline = b"", time.monotonic() + timeout
    while (until is None or until not in output) and time.monotonic() < deadline:
        if select.select([primary], [], [], 1)[0]:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
    return output


@pytest.mark.parametrize("answer", ["n", "y"])
def test_a_person_at_a_terminal_is_asked(aws, tmp_path, answer):
    """With a terminal (a pty here), the deploy asks; only "y" creates anything."""
    primary, secondary = pty.openpty()
    # moto's instance is no machine: SSH goes to a closed local port, so the deploy stops there.
    host = {
        "DEPLOY_AWS_SSH_HOST": "127.0.0.1",
        "DEPLOY_SSH_PORT": str(free_port()),
        "DEPLOY_SSH_USER": "x",
    }
    env = (
        os.environ
        | host
        | {"PYTHONPATH": SOURCE, "DEPLOY_APP": "learner-app", "DEPLOY_ALLOWED_CIDR": CIDR}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.deploy", "deploy", "--target", "aws"],
        cwd=tmp_path,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    try:
        output = read_terminal(primary, b"Continue?")
        assert b"Continue?" in output, output.decode(errors="replace")
        os.write(primary, f"{answer}\n".encode())
        # "y": stop once it has launched (moto's instance would never answer SSH).
        output += read_terminal(primary, b"launched i-" if answer == "y" else None)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        os.close(primary)
    text = " ".join(output.decode(errors="replace").split())
    assert "USD an hour" in text
    if answer == "n":
        assert "Not confirmed: nothing was created" in text and counts(aws.ec2)[0] == 0
    else:
        assert "launched i-" in text and counts(aws.ec2)[0] == 1
        assert deploy_cli(tmp_path, "destroy").returncode == 0


def test_an_ssh_host_left_in_env_never_receives_an_aws_release(aws, tmp_path):
    """DEPLOY_SSH_* from an earlier SSH deploy: the instance is reached at its own address."""
    from {{ cookiecutter.package_name }}.deploy.target_aws import for_instance

    recorded = AwsTarget(settings_for(tmp_path), Console(quiet=True)).provision(
        CIDR, deadline_after(4)
    )
    stale = {"ssh_host": "203.0.113.7", "ssh_port": 2222, "ssh_user": "ubuntu"}
    console = Console(record=True, width=200)
    resolved = for_instance(settings_for(tmp_path, **stale), recorded, console)
    assert (resolved.ssh_host, resolved.ssh_port) == (recorded["public_ip"], 22)
    assert resolved.ssh_user == "ec2-user" and str(resolved.ssh_key) == recorded["key_file"]
    assert resolved.known_hosts == tmp_path / ".deploy" / "known_hosts"
    assert "Ignoring DEPLOY_SSH_HOST=203.0.113.7" in console.export_text()


def test_only_deploy_aws_ssh_host_routes_through_another_address(aws, tmp_path):
    from {{ cookiecutter.package_name }}.deploy.target_aws import for_instance

    recorded = AwsTarget(settings_for(tmp_path), Console(quiet=True)).provision(
        CIDR, deadline_after(4)
    )
    bastion = {"aws_ssh_host": "127.0.0.1", "ssh_port": 2222, "known_hosts": tmp_path / "kh"}
    console = Console(record=True, width=200)
    resolved = for_instance(settings_for(tmp_path, **bastion), recorded, console)
    assert (resolved.ssh_host, resolved.ssh_port) == ("127.0.0.1", 2222)
    assert resolved.known_hosts == tmp_path / "kh" and resolved.ssh_user == "ec2-user"
    assert "Ignoring" not in console.export_text()


def test_every_ssh_setting_an_aws_deploy_ignores_is_named(tmp_path):
    """Not only DEPLOY_SSH_HOST: a port, login, key or known_hosts left from an SSH deploy is
    ignored too (the instance's own are used), and said, so none is a silent surprise."""
    from {{ cookiecutter.package_name }}.deploy.target_aws import for_instance

    recorded = {"public_ip": "198.51.100.20", "ssh_user": "ec2-user", "key_file": "/k.pem"}
    stale = {
        "ssh_port": 2222,
        "ssh_user": "ubuntu",
        "ssh_key": tmp_path / "id_ed25519",
        "known_hosts": tmp_path / "known_hosts",
    }
    console = Console(record=True, width=300)
    resolved = for_instance(settings_for(tmp_path, **stale), recorded, console)
    assert (resolved.ssh_host, resolved.ssh_port, resolved.ssh_user) == (
        "198.51.100.20",
        22,
        "ec2-user",
    )
    said = " ".join(console.export_text().split())
    for name in (
        "DEPLOY_SSH_PORT=2222",
        "DEPLOY_SSH_USER=ubuntu",
        "DEPLOY_SSH_KEY=",
        "DEPLOY_KNOWN_HOSTS=",
    ):
        assert name in said, said
    assert "DEPLOY_SSH_HOST" not in said.split("(")[0]  # not set: not named
    quiet = Console(record=True, width=300)
    for_instance(settings_for(tmp_path), recorded, quiet)
    assert "Ignoring" not in quiet.export_text()


def test_make_deploy_says_what_it_ignores_before_the_build_and_the_price(tmp_path):
    """`deploy check`, make deploy's first step: before minutes of build, and the instance."""
    (tmp_path / ".env").write_text("DEPLOY_SSH_HOST=203.0.113.7\nDEPLOY_SSH_PORT=2222\n")
    result = run_cli(tmp_path, "check", "--target", "aws")
    assert result.returncode == 0, result.stdout + result.stderr
    said = " ".join(result.stdout.split())
    assert "Ignoring DEPLOY_SSH_HOST=203.0.113.7, DEPLOY_SSH_PORT=2222" in said
    quiet = run_cli(tmp_path, "check", "--target", "aws", DEPLOY_AWS_SSH_HOST="203.0.113.7")
    assert quiet.returncode == 0 and "Ignoring" not in quiet.stdout
