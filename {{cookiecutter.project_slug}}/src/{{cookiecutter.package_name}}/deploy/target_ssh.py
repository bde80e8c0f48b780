"""The `ssh` target: any machine you can SSH into that runs Docker (DEPLOY_SSH_HOST, ...).

Each deploy records the host, login and release in .deploy/state.json before it ships:
every later command then goes where the release really is, whatever .env says now,
and a deploy to another host refuses until `make destroy` has removed the first.
"""

from pathlib import Path

from rich.console import Console

from . import state
from .api_key import ensure_api_key
from .errors import DeployError
from .releases import Releases, show_releases
from .settings import DeploySettings
from .ssh import Remote

SETTINGS = DeploySettings
# What reaches the host: recorded, so later commands reach the same one.
CONNECTION = ("ssh_host", "ssh_port", "ssh_user", "ssh_key", "known_hosts")


def releases(settings: DeploySettings, console: Console) -> Releases:
    return Releases(Remote(settings), settings, console)


def connection(settings: DeploySettings) -> dict:
    return {name: str(value) for name in CONNECTION if (value := getattr(settings, name))}


def where(values: dict) -> str:
    return (
        f"{values.get('ssh_user', '?')}@{values.get('ssh_host', '?')}:{values.get('ssh_port', 22)}"
    )


def same_host(one: dict, other: dict) -> bool:
    return (one.get("ssh_host"), one.get("ssh_port")) == (
        other.get("ssh_host"),
        other.get("ssh_port"),
    )


def recorded_host(settings: DeploySettings, console: Console) -> DeploySettings:
    """The settings aimed at the recorded host, if a deploy recorded one."""
    record = state.load(settings.state_dir)
    recorded = record.get("connection") if record.get("target") == "ssh" else None
    if not recorded or recorded == connection(settings):
        return settings
    if not same_host(recorded, connection(settings)):
        console.print(f"Using the recorded host {where(recorded)} (.deploy/state.json).")
    update = {
        "ssh_host": recorded["ssh_host"],
        "ssh_port": int(recorded.get("ssh_port", 22)),
        "ssh_user": recorded.get("ssh_user", ""),
        "ssh_key": Path(recorded["ssh_key"]) if recorded.get("ssh_key") else None,
        "known_hosts": Path(recorded.get("known_hosts", settings.known_hosts)),
    }
    return settings.model_copy(update=update)


def deploy(settings: DeploySettings, console: Console) -> None:
    record = state.load(settings.state_dir)
    recorded = record.get("connection")
    now = connection(settings)
    if recorded and not same_host(recorded, now):
        raise DeployError(
            f"The last deploy went to {where(recorded)} (.deploy/state.json), not "
            f"{where(now)}: `make destroy` removes it there first. If that machine is gone, "
            "delete .deploy/state.json."
        )
    settings = ensure_api_key(settings, console)
    # Recorded before anything reaches the host, so a deploy cut short can still be destroyed.
    state.record(settings.state_dir, target="ssh", app=settings.app, connection=now)
    live = releases(settings, console).deploy(settings.image)
    state.record(
        settings.state_dir,
        image=live["image"],
        image_id=live["image_id"],
        release=live["release"],
    )


def host_releases(settings: DeploySettings, console: Console) -> Releases:
    """The releases on the host, for status, logs, rollback, ssh and tunnel."""
    return releases(recorded_host(settings, console), console)


def status(settings: DeploySettings, console: Console) -> None:
    show_releases(host_releases(settings, console), console)


def destroy(settings: DeploySettings, console: Console, delete_logs: bool = False) -> bool:
    """Remove every release, and the images deploys shipped; True when nothing is left."""
    removed, kept = host_releases(settings, console).destroy(delete_logs)
    for item in removed:
        console.print(f"  removed {item}")
    for item in kept:
        console.print(f"  kept {item}")
    console.print(
        f"[green]Destroyed:[/] {len(removed)} resource(s) removed."
        if removed
        else "Nothing to remove."
    )
    if state.load(settings.state_dir).get("target") == "ssh":
        state.forget(settings.state_dir)
    return True
