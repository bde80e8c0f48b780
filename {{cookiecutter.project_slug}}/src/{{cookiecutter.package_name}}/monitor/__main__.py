"""`make monitor`: compare the request log with the model's training reference.

    python -m {{ cookiecutter.package_name }}.monitor [--local]

Reads the log where the service writes it (LOG_DIR), or, when this project has a
deploy, fetches the live release's log from the host first. Writes
reports/monitoring.md with plots and prints a table. Exit codes: 0 no drift,
1 drift (so cron or CI can alert), 2 bad input or settings (no log, no reference, too
few rows, MONITOR_ROWS=abc), 3 the monitor itself failed (a bug: not drift, not your input).
"""

from typing import Annotated

import typer

from .. import cli
from .errors import FAILED
from .run import monitor

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main(
    local: Annotated[
        bool, typer.Option("--local", help="Read LOG_DIR here, even when a deploy exists")
    ] = False,
) -> None:
    # MonitorError and bad settings: exit 2 (cli.run); a crash: FAILED, never 1 ("drift found").
    drifted = monitor(local)
    raise typer.Exit(1 if drifted else 0)


if __name__ == "__main__":
    cli.run(app, crash_exit=FAILED, name="Monitor", crash_is_not="drift and not bad input")
