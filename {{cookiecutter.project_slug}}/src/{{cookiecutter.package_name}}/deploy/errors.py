"""The error types of the deploy part: a step failed, and the message says what to do."""


class DeployError(RuntimeError):
    """A deploy step failed; the message names the problem and the fix."""


class BadSetting(DeployError):
    """A setting cannot be used as it is: a bad-settings error (exit 2)."""
