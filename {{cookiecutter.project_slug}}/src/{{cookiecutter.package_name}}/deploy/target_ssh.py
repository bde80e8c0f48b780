"""The `ssh` target: any machine you can SSH into that runs Docker (DEPLOY_SSH_HOST, ...).

Each deploy records the host, login and release in .deploy/state.json before it ships:
later commands use it for whatever .env and the environment leave unset, `destroy` goes
where the release really is whatever they say, and a deploy to another host refuses
until `make destroy` has removed the first.
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


def recorded_host(
    settings: DeploySettings, console: Console, record_wins: bool = False
) -> DeploySettings:
    """The settings, with the recorded connection wherever .env and the environment set none.

    record_wins (destroy): the recorded host, port and login, whatever is set now: what was
    deployed decides where it is removed.
    """
    record = state.load(settings.state_dir)
    recorded = record.get("connection") if record.get("target") == "ssh" else None
    if not recorded:
        return settings
    typed = {
        "ssh_host": str,
        "ssh_port": int,
        "ssh_user": str,
        "ssh_key": Path,
        "known_hosts": Path,
    }
    forced = {"ssh_host", "ssh_port", "ssh_user"} if record_wins else set()
    update = {
        name: typed[name](recorded[name])
        for name in CONNECTION
        if name in recorded and (name in forced or name not in settings.model_fields_set)
    }
    resolved = settings.model_copy(update=update)
    if update and not same_host(connection(resolved), connection(settings)):
        console.print(f"Using the recorded host {where(recorded)} (.deploy/state.json).")
    return resolved


def deploy(settings: DeploySettings, console: Console) -> None:
    recorded = state.load(settings.state_dir).get("connection")
    settings = recorded_host(settings, console)  # a fresh shell deploys where the last one went
    now = connection(settings)
    if recorded and not same_host(recorded, now):
        raise DeployError(
            f"The last deploy went to {where(recorded)} (.deploy/state.json), not "
            f"{where(now)}: `make destroy` removes it there first. If that machine is gone, "
            "delete .deploy/state.json."
        )
    settings = ensure_api_key(settings, console)
    host = releases(settings, console)  # DEPLOY_SSH_HOST and DEPLOY_SSH_USER set, or exit 2
    host.check_docker()  # the host answers: a typo'd address is no deploy, and not recorded
    # Recorded before anything is shipped, so a deploy cut short can still be destroyed.
    state.record(settings.state_dir, target="ssh", app=settings.app, connection=now)
    live = host.deploy(settings.image)
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
    removed, kept = releases(recorded_host(settings, console, record_wins=True), console).destroy(
        delete_logs
    )
    for item in removed:
        console.print(f"  removed {item}")
    for item in kept:
        console.print(f"  kept {item}")
    if state.load(settings.state_dir).get("target") == "ssh":
        state.forget(settings.state_dir)
        record = state.state_file(settings.state_dir)
        console.print(f"  removed {record} (the deploy's record, on this machine)")
    console.print(
        f"[green]Destroyed:[/] {len(removed)} resource(s) removed."
        if removed
        else "Nothing to remove."
    )
    return True
