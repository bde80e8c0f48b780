"""`make deploy | status | logs | rollback | destroy | ssh | tunnel` (TARGET=ssh or aws).

python -m {{ cookiecutter.package_name }}.deploy deploy --target ssh
"""

import argparse
import json
import os
import re
import sys
import time

from rich.console import Console
from rich.table import Table

from .releases import Releases
from .settings import DeploySettings
from .ssh import DeployError, Remote

console = Console()
errors = Console(stderr=True, soft_wrap=True)
HOST_KEYS = re.compile(
    r"-----BEGIN SSH HOST KEY KEYS-----\n(.*?)-----END SSH HOST KEY KEYS-----", re.S
)


def aws_target(settings: DeploySettings):
    from .aws import AwsTarget  # boto3 only when AWS is used

    return AwsTarget(settings, console)


def for_aws_instance(settings: DeploySettings, state: dict) -> DeploySettings:
    """SSH settings for the instance, unless .env names a host of its own (a bastion, a test)."""
    if settings.ssh_host:
        return settings
    update = {
        "ssh_host": state["public_ip"],
        "ssh_user": settings.ssh_user or state["ssh_user"],
        "ssh_key": settings.ssh_key or state["key_file"],
        "known_hosts": settings.state_dir / "known_hosts",
    }
    if "publish_address" not in settings.model_fields_set:
        update["publish_address"] = "0.0.0.0"  # the security group admits only your IP
    return settings.model_copy(update=update)


def trust_instance_host_keys(settings: DeploySettings, target, state: dict) -> None:
    """Take the host keys from the instance's console (read through the AWS API, so trusted)."""
    known = settings.state_dir / "known_hosts"
    with console.status("Waiting for the instance to print its SSH host keys..."):
        for _ in range(60):
            output = target.ec2.get_console_output(InstanceId=state["instance_id"]).get(
                "Output", ""
            )
            found = HOST_KEYS.search(output)
            if found:
                lines = [
                    f"{state['public_ip']} {' '.join(line.split()[:2])}"
                    for line in found.group(1).splitlines()
                    if line.strip()
                ]
                known.write_text("\n".join(lines) + "\n")
                return
            time.sleep(10)
    raise DeployError(
        "The instance never printed its SSH host keys; see `make status`, then try again."
    )


def wait_for_docker(releases: Releases, minutes: int = 10) -> None:
    with console.status(
        "Waiting for SSH and Docker on the new instance (cloud-init installs it)..."
    ):
        deadline = time.monotonic() + minutes * 60
        while time.monotonic() < deadline:
            try:
                if releases.remote.succeeds("docker", "info"):
                    return
            except DeployError:
                pass  # sshd not up yet
            time.sleep(10)
    raise DeployError(f"Docker did not come up on {releases.remote.host} within {minutes} minutes.")


def releases_for(settings: DeploySettings, provision: bool = False) -> Releases:
    if settings.target == "ssh":
        return Releases(Remote(settings), settings, console)
    target = aws_target(settings)
    if provision:
        state = target.provision()
        if not settings.ssh_host:
            trust_instance_host_keys(settings, target, state)
    elif target.state_file.exists():
        state = json.loads(target.state_file.read_text())
    else:
        raise DeployError(
            "Nothing deployed to AWS from here yet (no .deploy/state.json): run `make deploy`."
        )
    resolved = for_aws_instance(settings, state)
    releases = Releases(Remote(resolved), resolved, console)
    if provision:
        wait_for_docker(releases)
    return releases


def show_status(settings: DeploySettings) -> None:
    if settings.target == "aws":
        found = aws_target(settings).status()
        if found is None:
            console.print("No instance tagged for this project.")
            return
        console.print("  ".join(f"{k}: [bold]{v}[/]" for k, v in found.items()))
        if found["state"] != "running":
            return
    rows = releases_for(settings).status()
    table = Table(title="Releases on the host")
    for column in ("container", "release", "state", "health"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    console.print(table if rows else "Nothing deployed on the host.")


def destroy(settings: DeploySettings) -> None:
    removed = []
    if settings.target == "ssh":
        removed = releases_for(settings).destroy()
    else:
        removed = aws_target(settings).destroy()  # the instance goes, and the containers with it
    for item in removed:
        console.print(f"  removed {item}")
    console.print(
        f"[green]Destroyed:[/] {len(removed)} resource(s) removed."
        if removed
        else "Nothing to remove."
    )


def interactive(settings: DeploySettings, tunnel: bool, local_port: int | None = None) -> None:
    remote = releases_for(settings).remote
    local_port = local_port or settings.remote_port
    forward = ["-N", "-L", f"{local_port}:127.0.0.1:{remote.settings.remote_port}"]
    command = remote.ssh_command(*(forward if tunnel else []))
    if tunnel:
        console.print(f"Forwarding http://127.0.0.1:{local_port} to the service (Ctrl-C to stop)")
    os.execvp(command[0], command)  # hand the terminal over to ssh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["deploy", "status", "logs", "rollback", "destroy", "ssh", "tunnel"]
    )
    parser.add_argument("--target", choices=["ssh", "aws"], help="default: DEPLOY_TARGET in .env")
    parser.add_argument("--image", help="local image to deploy (default: DEPLOY_IMAGE)")
    parser.add_argument("--local-port", type=int, help="tunnel: the port on this machine")
    args = parser.parse_args()
    overrides = {
        key: value for key, value in {"target": args.target, "image": args.image}.items() if value
    }
    settings = DeploySettings(**overrides)
    try:
        if args.command == "deploy":
            releases_for(settings, provision=True).deploy(settings.image)
        elif args.command == "status":
            show_status(settings)
        elif args.command == "logs":
            print(releases_for(settings).logs())
        elif args.command == "rollback":
            releases_for(settings).rollback()
        elif args.command == "destroy":
            destroy(settings)
        else:
            interactive(settings, tunnel=args.command == "tunnel", local_port=args.local_port)
    except DeployError as error:
        errors.print(f"[red]Deploy error:[/] {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
