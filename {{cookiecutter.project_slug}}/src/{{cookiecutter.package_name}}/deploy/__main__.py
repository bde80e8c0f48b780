"""`make deploy | status | logs | rollback | destroy | ssh | tunnel`: one command line for every target.

python -m {{ cookiecutter.package_name }}.deploy deploy [--target NAME] [--yes]

Each target lives in its own module (target_<name>.py); this file only parses
arguments and hands over to it.
"""

import os
from typing import Annotated, Any

import typer

from .. import cli
from ..container.images import last_built
from . import state
from .api_key import check_api_key
from .targets import available, choose, console, guarded, refuse_another_target

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0], no_args_is_help=True)
Target = Annotated[str | None, typer.Option(help="Deploy target (default: DEPLOY_TARGET in .env)")]


@app.command()
def deploy(
    target: Target = None,
    image: Annotated[
        str | None,
        typer.Option(
            help="Local image (default: DEPLOY_IMAGE, else the one make docker-build built last)"
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before spending money")] = False,
) -> None:
    """Ship the image and switch to it once it answers /readyz."""
    overrides: dict[str, Any] = {"image": image} if image else {}
    if yes:
        overrides["yes"] = True

    def ship(module, settings) -> None:
        refuse_another_target(settings.target, state.load(settings.state_dir))
        if "image" not in settings.model_fields_set:  # the model `make deploy` just built
            settings = settings.model_copy(update={"image": last_built(settings.image)})
        module.deploy(settings, console)

    on_target(target, ship, **overrides)


@app.command()
def check(target: Target = None) -> None:
    """Check the deploy settings, before anything is built: `make deploy` runs this first."""

    def settings_only(module, settings) -> None:
        refuse_another_target(settings.target, state.load(settings.state_dir))
        check_api_key(settings)
        if check_target := getattr(module, "check", None):  # a target's own checks
            check_target(settings, console)

    on_target(target, settings_only)


@app.command()
def status(target: Target = None) -> None:
    """Show what is deployed and whether it is healthy."""
    on_target(target, lambda module, settings: module.status(settings, console))


@app.command()
def logs(target: Target = None) -> None:
    """Print the live release's last 200 log lines."""
    on_target(
        target, lambda module, settings: print(module.host_releases(settings, console).logs())
    )


@app.command()
def rollback(target: Target = None) -> None:
    """Switch back to the previous release."""
    on_target(target, lambda module, settings: module.host_releases(settings, console).rollback())


@app.command()
def destroy(
    target: Target = None,
    delete_logs: Annotated[
        bool, typer.Option("--delete-logs", help="Remove the host's request log too")
    ] = False,
) -> None:
    """Remove everything deployed; exit non-zero if anything is left."""
    # What was deployed (the local record) decides, whatever the command line says.
    on_target(
        target,
        lambda module, settings: module.destroy(settings, console, delete_logs),
        recorded_wins=True,
    )


@app.command()
def ssh(target: Target = None) -> None:
    """Open a shell on the host."""
    guarded(lambda: interactive(target, tunnel=False))


@app.command()
def tunnel(
    target: Target = None,
    local_port: Annotated[int | None, typer.Option(help="The port on this machine")] = None,
) -> None:
    """Forward the service to http://127.0.0.1:LOCAL_PORT through SSH."""
    guarded(lambda: interactive(target, tunnel=True, local_port=local_port))


def on_target(target: str | None, action, recorded_wins: bool = False, **overrides) -> None:
    """Pick the target module and its settings, then run the action with clear errors."""
    guarded(lambda: action(*choose(target, recorded_wins, **overrides)))


def interactive(target: str | None, tunnel: bool, local_port: int | None = None) -> None:
    module, settings = choose(target)
    remote = module.host_releases(settings, console).remote
    local_port = local_port or settings.remote_port
    forward = ["-N", "-L", f"{local_port}:127.0.0.1:{remote.settings.remote_port}"]
    command = remote.ssh_command(*(forward if tunnel else []))
    if tunnel:
        console.print(f"Forwarding http://127.0.0.1:{local_port} to the service (Ctrl-C to stop)")
    os.execvp(command[0], command)  # hand the terminal over to ssh


# Commands only some targets have (e.g. `extend` for a machine with a cost guard).
for module in available().values():
    for command in getattr(module, "COMMANDS", ()):
        app.command()(command)


if __name__ == "__main__":
    cli.run(app)
