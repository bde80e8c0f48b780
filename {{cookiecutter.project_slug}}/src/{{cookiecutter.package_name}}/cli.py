"""One front door for every command `make` runs: how each of them fails.

`run(app)` runs a command (a typer app, or a plain function) and turns what it raises
on purpose into one line on stderr, with no traceback:

    error: <the problem and its fix>

Our errors (errors.ColdstartError) exit with their own code (2 bad input or setting,
1 a failed step); a settings class that refuses .env or the environment exits 2, naming
each variable as you would write it in .env. Anything else is a bug and keeps its
traceback. Only the standard library and pydantic here: the image's `make serve` uses it.
"""

import sys
import traceback
from collections.abc import Callable

from pydantic import ValidationError
from pydantic_settings import SettingsError

from .config import settings_problem
from .errors import ColdstartError

PREFIX = "error: "


def say(message: str) -> None:
    """One problem, in the one shape every command uses."""
    print(f"{PREFIX}{message}", file=sys.stderr, flush=True)


def run(
    command: Callable[[], object],
    crash_exit: int | None = None,
    name: str = "The command",
    crash_is_not: str = "bad input",
) -> None:
    """Run `command`; exit as errors.py documents.

    crash_exit: the code for a bug, where 1 already means something (`make monitor`: drift);
    the message names the command and what a crash is not.
    """
    try:
        command()
    except ColdstartError as error:
        say(str(error))
        sys.exit(error.exit_code)
    except (ValidationError, SettingsError) as error:
        problem = settings_problem(error)
        if problem is None:  # not a settings class: a bug, with its traceback
            raise
        say(str(problem))
        sys.exit(problem.exit_code)
    except Exception as error:
        if crash_exit is None:
            raise
        traceback.print_exc()
        say(
            f"{name} failed ({type(error).__name__}: {error}): this is not {crash_is_not}; "
            f"exit {crash_exit}. Please report it with the traceback above."
        )
        sys.exit(crash_exit)
