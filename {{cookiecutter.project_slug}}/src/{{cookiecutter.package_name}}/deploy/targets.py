"""Find the deploy targets this project has (one module `target_<name>.py` each) and pick one.

A project generated for one target has only that module, so it accepts only that
target; the recorded target of the last deploy (.deploy/state.json) wins when
you do not name one, and its recorded app name always does, so `make destroy`
removes what was really deployed.
"""

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, Protocol, cast, runtime_checkable

import typer
from dotenv import dotenv_values
from rich.console import Console

from . import state
from .api_key import refuse_renamed_setting
from .errors import DeployError
from .releases import Releases
from .settings import PRACTICE_VM_ENV, DeploySettings

console = Console()


@runtime_checkable
class Target(Protocol):
    """What every target_<name>.py module provides; `make deploy` and friends call only this.

    COMMANDS (optional): extra typer commands only this target has (a rented machine's
    `extend`, for one). check(settings, console) (optional): the target's own settings checks,
    run by `deploy check` before anything is built.
    """

    SETTINGS: type[DeploySettings]

    def deploy(self, settings: Any, console: Console) -> None: ...

    def status(self, settings: Any, console: Console) -> None: ...

    def destroy(self, settings: Any, console: Console) -> bool: ...

    def host_releases(self, settings: Any, console: Console) -> Releases: ...


def available() -> dict[str, Target]:
    package = __name__.rsplit(".", 1)[0]
    names = [m.name for m in pkgutil.iter_modules(importlib.import_module(package).__path__)]
    targets = {
        name.removeprefix("target_"): importlib.import_module(f"{package}.{name}")
        for name in sorted(names)
        if name.startswith("target_")
    }
    for module in targets.values():
        if not isinstance(module, Target):  # a new target_<name>.py that misses a function
            raise DeployError(
                f"{module.__name__} is not a deploy target: see Target in {__name__}."
            )
    return cast(dict[str, Target], targets)


def choose(
    target: str | None, recorded_wins: bool = False, **overrides
) -> tuple[Target, DeploySettings]:
    """The target module and its settings: --target, else the recorded one, else DEPLOY_TARGET."""
    refuse_renamed_setting()
    base = DeploySettings()
    record = state.load(base.state_dir)
    recorded = record.get("target")
    name = target or base.target
    if recorded and (recorded_wins or (target is None and "target" not in base.model_fields_set)):
        if recorded != name:
            console.print(f"Using the recorded target '{recorded}' (.deploy/state.json).")
        name = recorded
    modules = available()
    if name not in modules:
        raise DeployError(
            f"Unknown deploy target '{name}': this project deploys to {', '.join(modules)}. "
            "Set DEPLOY_TARGET in .env (or make ... DEPLOY_TARGET=...)."
        )
    module = modules[name]
    settings = module.SETTINGS(**overrides).model_copy(update={"target": name})
    say_if_practice_vm(settings)
    return module, recorded_app(settings, record if recorded == name else {})


def say_if_practice_vm(settings: DeploySettings) -> None:
    """While `make practice-vm`'s settings are the ones in force, say so at every command."""
    practice = dotenv_values(PRACTICE_VM_ENV) if PRACTICE_VM_ENV.is_file() else {}
    if practice and (practice.get("DEPLOY_SSH_HOST"), practice.get("DEPLOY_SSH_PORT")) == (
        settings.ssh_host,
        str(settings.ssh_port),
    ):
        console.print(
            f"Target: the practice VM on this computer ({PRACTICE_VM_ENV}; "
            "`make practice-vm` starts it again, `make practice-vm-stop` removes it)."
        )


def refuse_another_target(name: str, record: dict) -> None:
    """One record per folder: deploying to a second target would forget what the first runs."""
    recorded = record.get("target")
    if recorded and recorded != name:
        raise DeployError(
            f".deploy/state.json records a deploy to '{recorded}', still there: `make destroy` "
            f"removes it first (or set DEPLOY_STATE_DIR to another folder for a second deploy)."
        )


def recorded_app(settings: DeploySettings, record: dict) -> DeploySettings:
    """The app name (and so the tags and names) the record holds, whatever DEPLOY_APP says now.

    Renaming DEPLOY_APP after a deploy must not make `make destroy` look for resources
    under the new name, find none, and forget the ones still running.
    """
    app = record.get("app") or record.get("key_name")  # key_name: the app, in older records
    if not app or app == settings.app:
        return settings
    console.print(
        f"Using the recorded app '{app}' (.deploy/state.json), not DEPLOY_APP={settings.app}: "
        "run `make destroy` first to deploy under another name."
    )
    return settings.model_copy(update={"app": app})


def guarded(action: Callable[[], bool | None]) -> None:
    """Run a command; False (something is left) is exit 1.

    Its errors are cli.run's: a bad setting or an unreadable record exit 2, a DeployError 1.
    """
    if action() is False:
        raise typer.Exit(1)
