"""One way to fail: every error this project raises on purpose is a ColdstartError.

Its message names the problem and the fix; `cli.run` prints it as one line on stderr
(`error: <message>`) and exits with its `exit_code`:

    2  bad input or a bad setting: fix what the message names, then run it again
    1  a step failed (no Docker engine, a push refused, a model not good enough)

`make monitor` adds two of its own beside them: 1 also means "drift found", and 3 means
the monitor itself crashed (a bug: not drift, not your input), so cron can tell them apart.
Each part keeps its own subclasses in its `errors.py`.
"""


class ColdstartError(Exception):
    """A step failed on purpose; the message names the problem and the fix."""

    exit_code = 1


class BadInput(ColdstartError):
    """The input or a setting cannot be used as it is: exit 2."""

    exit_code = 2
