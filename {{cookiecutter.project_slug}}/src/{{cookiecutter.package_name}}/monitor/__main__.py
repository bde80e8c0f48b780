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
from rich.console import Console
from rich.markup import escape

from .errors import FAILED, MonitorError
from .run import monitor

app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])
errors = Console(stderr=True, soft_wrap=True)


@app.command()
def main(
    local: Annotated[
        bool, typer.Option("--local", help="Read LOG_DIR here, even when a deploy exists")
    ] = False,
) -> None:
    try:
        drifted = monitor(local)
    except MonitorError as error:
        errors.print(f"[red]Monitor:[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    except Exception as error:  # a crash's usual exit 1 would read as "drift found"
        errors.print_exception()
        errors.print(
            f"[red]Monitor failed[/] ({type(error).__name__}: {escape(str(error))}): this is "
            f"not drift and not bad input; exit {FAILED}. Please report it with the traceback."
        )
        raise typer.Exit(FAILED) from None
    raise typer.Exit(1 if drifted else 0)


if __name__ == "__main__":
    app()
