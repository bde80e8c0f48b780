"""The deploy part's errors: a step failed, and the message says what to do."""

from ..errors import ColdstartError


class DeployError(ColdstartError, RuntimeError):
    """A deploy step failed; the message names the problem and the fix (exit 1)."""


class UnreadableRecord(DeployError):
    """The record exists but is not one we wrote: a bad-data error (exit 2), and it is kept."""

    exit_code = 2


class BadSetting(DeployError):
    """A setting cannot be used as it is: a bad-settings error (exit 2)."""

    exit_code = 2
