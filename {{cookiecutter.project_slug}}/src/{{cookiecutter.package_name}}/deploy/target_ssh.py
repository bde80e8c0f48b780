"""The `ssh` target: any machine you can SSH into that runs Docker (DEPLOY_SSH_HOST, ...)."""

from rich.console import Console

from .releases import Releases, show_releases
from .settings import DeploySettings
from .ssh import Remote

SETTINGS = DeploySettings


def releases(settings: DeploySettings, console: Console) -> Releases:
    return Releases(Remote(settings), settings, console)


def deploy(settings: DeploySettings, console: Console) -> None:
    releases(settings, console).deploy(settings.image)


def host_releases(settings: DeploySettings, console: Console) -> Releases:
    """The releases on the host, for status, logs, rollback, ssh and tunnel."""
    return releases(settings, console)


def status(settings: DeploySettings, console: Console) -> None:
    show_releases(releases(settings, console), console)


def destroy(settings: DeploySettings, console: Console) -> bool:
    """Remove every release; True when nothing is left."""
    removed = releases(settings, console).destroy()
    for item in removed:
        console.print(f"  removed {item}")
    console.print(
        f"[green]Destroyed:[/] {len(removed)} resource(s) removed."
        if removed
        else "Nothing to remove."
    )
    return True
