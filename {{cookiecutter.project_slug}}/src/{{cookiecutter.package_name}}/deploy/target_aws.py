"""The `aws` target: an EC2 instance made for you, then the same releases over SSH.

Every boto3/botocore error is caught here and explained in one line; nothing is
created before you have seen the price and said yes (DEPLOY_YES=1 or --yes).
"""

import re
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, WaiterError
from rich.console import Console

from . import cost_guard, pricing, state
from .api_key import ensure_api_key
from .aws import DISK_GB, AwsTarget
from .aws_settings import AwsSettings
from .errors import DeployError
from .releases import Releases, show_releases
from .ssh import Remote

SETTINGS = AwsSettings
HOST_KEYS = re.compile(
    r"-----BEGIN SSH HOST KEY KEYS-----\n(.*?)-----END SSH HOST KEY KEYS-----", re.S
)


@contextmanager
def explained_aws_errors():
    """Turn any AWS SDK error into a DeployError that says what went wrong and what to do."""
    try:
        yield
    except NoCredentialsError:
        raise DeployError(
            "No AWS credentials found: run `aws configure`, or set AWS_PROFILE (see docs/deploy.md)."
        ) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "?"), details.get("Message", "")
        if code in (
            "AuthFailure",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
        ):
            raise DeployError(
                f"AWS refused the credentials ({code}): run `aws configure` again."
            ) from None
        if code == "UnauthorizedOperation":
            raise DeployError(
                f"Your AWS user may not {error.operation_name}: give it EC2 rights."
            ) from None
        raise DeployError(f"AWS refused {error.operation_name} ({code}): {message}") from None
    except (WaiterError, BotoCoreError) as error:
        raise DeployError(f"AWS call failed: {error}") from None


def caller_cidr() -> str:
    """Your public IP as a /32: SSH open to you alone, re-checked at every deploy."""
    try:
        with urllib.request.urlopen("https://checkip.amazonaws.com", timeout=10) as response:
            return f"{response.read().decode().strip()}/32"
    except OSError as error:
        raise DeployError(
            f"Could not look up your public IP ({error}). Set DEPLOY_ALLOWED_CIDR, e.g. 203.0.113.7/32."
        ) from error


def confirm_price(settings: AwsSettings, aws: AwsTarget, console: Console) -> None:
    console.print(pricing.notice(aws.instance_type, aws.region, DISK_GB, settings.ttl_hours))
    if settings.yes:
        return
    if not sys.stdin.isatty():
        raise DeployError(
            "Not confirmed: nothing was created. Run `make deploy DEPLOY_YES=1` (or --yes) to go ahead."
        )
    if not typer.confirm("Continue?", default=False):
        raise DeployError("Not confirmed: nothing was created.")


def deploy(settings: AwsSettings, console: Console) -> None:
    with explained_aws_errors():
        aws = AwsTarget(settings, console, region=state.load(settings.state_dir).get("region"))
        aws.check_access()
        instance = aws.find_instance()
        if instance is None:
            confirm_price(settings, aws, console)
        deadline = cost_guard.deadline_after(settings.ttl_hours)
        recorded = aws.provision(settings.allowed_cidr or caller_cidr(), deadline)
        if not settings.aws_ssh_host:
            trust_instance_host_keys(settings, aws, recorded, console)
    settings = ensure_api_key(settings, console)
    releases = host_releases(settings, console)
    wait_for_docker(releases, console)
    releases.deploy(settings.image)


def for_instance(settings: AwsSettings, recorded: dict, console: Console) -> AwsSettings:
    """SSH settings for the instance: its own address, login, key and host keys.

    DEPLOY_SSH_HOST and friends belong to the ssh target: left in .env from an SSH deploy,
    they must not send an AWS release (and its bill) to another machine. Only
    DEPLOY_AWS_SSH_HOST routes elsewhere (a bastion, the tests), with DEPLOY_SSH_PORT/USER/
    KEY/KNOWN_HOSTS then applying.
    """
    say_ignored(settings, console)
    if settings.aws_ssh_host:
        return settings.model_copy(
            update={
                "ssh_host": settings.aws_ssh_host,
                "ssh_user": settings.ssh_user or recorded["ssh_user"],
                "ssh_key": settings.ssh_key or recorded["key_file"],
            }
        )
    return settings.model_copy(
        update={
            "ssh_host": recorded["public_ip"],
            "ssh_port": 22,
            "ssh_user": recorded["ssh_user"],
            "ssh_key": recorded["key_file"],
            "known_hosts": settings.state_dir / "known_hosts",
        }
    )


# The ssh target's connection settings, as .env names them. With DEPLOY_AWS_SSH_HOST set, all
# but the host apply to it; without, none does.
SSH_SETTINGS = {
    "ssh_host": "DEPLOY_SSH_HOST",
    "ssh_port": "DEPLOY_SSH_PORT",
    "ssh_user": "DEPLOY_SSH_USER",
    "ssh_key": "DEPLOY_SSH_KEY",
    "known_hosts": "DEPLOY_KNOWN_HOSTS",
}


def ignored_ssh_settings(settings: AwsSettings) -> list[str]:
    """`NAME=value` of each ssh target setting set now that this AWS deploy does not use."""
    ignored = []
    for field, name in SSH_SETTINGS.items():
        value = getattr(settings, field)
        if field == "ssh_host":
            used = not value or value == settings.aws_ssh_host
        else:
            used = bool(settings.aws_ssh_host) or field not in settings.model_fields_set
        if not used:
            ignored.append(f"{name}={value}")
    return ignored


def say_ignored(settings: AwsSettings, console: Console) -> None:
    ignored = ignored_ssh_settings(settings)
    if ignored:
        console.print(
            f"[yellow]Ignoring {', '.join(ignored)}[/] (the ssh target's settings): AWS reaches "
            "its instance at the instance's address, login and key; DEPLOY_AWS_SSH_HOST routes "
            "through another."
        )


def check(settings: AwsSettings, console: Console) -> None:
    """`deploy check` (make deploy's first step): what is ignored, said before the build and
    the price, not after the instance is paid for."""
    say_ignored(settings, console)


def host_releases(settings: AwsSettings, console: Console) -> Releases:
    recorded = state.load(settings.state_dir)
    if "public_ip" not in recorded:
        raise DeployError(
            "Nothing deployed to AWS from here (no instance in .deploy/state.json): run `make deploy`."
        )
    resolved = for_instance(settings, recorded, console)
    return Releases(Remote(resolved), resolved, console)


def trust_instance_host_keys(
    settings: AwsSettings, aws: AwsTarget, recorded: dict, console: Console
) -> None:
    """Take the host keys from the instance's console (read through the AWS API, so trusted)."""
    known = settings.state_dir / "known_hosts"
    with console.status("Waiting for the instance to print its SSH host keys..."):
        for _ in range(60):
            output = aws.ec2.get_console_output(InstanceId=recorded["instance_id"]).get(
                "Output", ""
            )
            found = HOST_KEYS.search(output)
            if found:
                lines = [
                    f"{recorded['public_ip']} {' '.join(line.split()[:2])}"
                    for line in found.group(1).splitlines()
                    if line.strip()
                ]
                known.write_text("\n".join(lines) + "\n")
                return
            time.sleep(10)
    raise DeployError(
        "The instance never printed its SSH host keys; see `make status`, then try again."
    )


def wait_for_docker(releases: Releases, console: Console, minutes: int = 10) -> None:
    with console.status("Waiting for SSH and Docker on the instance (cloud-init installs it)..."):
        deadline = time.monotonic() + minutes * 60
        while time.monotonic() < deadline:
            try:
                if releases.remote.succeeds("docker", "info"):
                    return
            except DeployError:
                pass  # sshd not up yet
            time.sleep(5)
    raise DeployError(f"Docker did not come up on {releases.remote.host} within {minutes} minutes.")


def host_deadline(releases: Releases) -> datetime | None:
    """The cost guard's deadline as the host itself has it (None: not readable)."""
    try:
        code, output = releases.remote.exit_code("cat", cost_guard.DEADLINE_FILE)
    except DeployError:
        return None
    return cost_guard.read_deadline(output) if code == 0 and output.strip() else None


def status(settings: AwsSettings, console: Console) -> None:
    recorded = state.load(settings.state_dir)
    with explained_aws_errors():
        aws = AwsTarget(settings, console, region=recorded.get("region"))
        instance = aws.find_instance()
    if instance is None:
        console.print(f"No instance tagged project={aws.name} in {aws.region}.")
        return
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    console.print(
        f"instance: [bold]{instance['InstanceId']}[/]  type: {instance['InstanceType']}  "
        f"state: [bold]{instance['State']['Name']}[/]  public_ip: {instance.get('PublicIpAddress', '-')}"
    )
    releases = host_releases(settings, console) if "public_ip" in recorded else None
    deadline = host_deadline(releases) if releases else None
    source = "read from the host"
    if deadline is None:
        deadline, source = (
            datetime.fromisoformat(tags["ttl"]),
            "from the ttl tag: the host did not answer",
        )
    now = datetime.now(UTC)
    left = max((deadline - now).total_seconds(), 0) / 3600
    console.print(f"cost guard: {left:.1f} h left, ends {deadline:%Y-%m-%d %H:%M} UTC ({source})")
    console.print(
        pricing.money(
            instance["InstanceType"], aws.region, DISK_GB, instance["LaunchTime"], deadline, now
        )
    )
    if instance["State"]["Name"] == "running" and releases:
        show_releases(releases, console)


def destroy(settings: AwsSettings, console: Console, delete_logs: bool = False) -> bool:
    """Remove everything in the recorded region; False (exit 1) if anything is left.

    The request log lives on the instance's disk: it goes with it, asked or not (said).
    """
    recorded = state.load(settings.state_dir)
    if recorded.get("instance_id"):
        console.print(
            "The request log on the instance goes with its disk (`make monitor` first keeps a copy)."
        )
    with explained_aws_errors():
        aws = AwsTarget(settings, console, region=recorded.get("region"))
        result = aws.destroy()
    for item in result.removed:
        console.print(f"  removed {item}")
    for item in result.failed:
        console.print(f"  [red]could not remove[/] {item}")
    for path in result.local:
        console.print(f"  removed {path} (on this machine)")
    if result.left:
        console.print(
            f"[red]Still there in {aws.region}:[/] {', '.join(result.left)}. They may cost money. "
            f"Run `make destroy` again in a minute, or remove them in the EC2 console (region {aws.region}, "
            f"tag project={aws.name}). The key {aws.key_file} and .deploy/state.json are kept until then."
        )
        return False
    console.print(
        f"[green]Destroyed:[/] {len(result.removed)} resource(s) removed; nothing tagged "
        f"project={aws.name} is left in {aws.region}."
    )
    return True


def extend(
    hours: Annotated[float, typer.Option(help="Hours to add to the cost guard's deadline")],
) -> None:
    """Move the cost guard's deadline later (within DEPLOY_TTL_MAX_HOURS from now)."""
    from .targets import choose, console, guarded

    def run() -> None:
        _, settings = choose("aws")
        assert isinstance(settings, AwsSettings)  # the aws target's SETTINGS
        releases = host_releases(settings, console)
        now = datetime.now(UTC)
        current = host_deadline(releases)
        if current is None:
            raise DeployError(
                f"Cannot read the deadline on {releases.remote.host}: is the instance running?"
            )
        new = cost_guard.deadline_after(hours, max(current, now))
        if (new - now).total_seconds() / 3600 > settings.ttl_max_hours:
            raise DeployError(
                f"That would end {(new - now).total_seconds() / 3600:.1f} h from now, above "
                f"DEPLOY_TTL_MAX_HOURS={settings.ttl_max_hours:g}: extend less, or raise it on purpose."
            )
        releases.remote.run(*cost_guard.extend_command(new))
        with explained_aws_errors():
            recorded = state.load(settings.state_dir)
            aws = AwsTarget(settings, console, region=recorded.get("region"))
            aws.ec2.create_tags(
                Resources=[recorded["instance_id"]],
                Tags=[{"Key": "ttl", "Value": new.isoformat(timespec="seconds")}],
            )
        console.print(f"[green]✓[/] cost guard moved to {new:%Y-%m-%d %H:%M} UTC")

    guarded(run)


COMMANDS = [extend]
