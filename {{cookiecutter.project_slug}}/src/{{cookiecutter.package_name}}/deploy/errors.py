"""The one error type of the deploy part: a step failed, and the message says what to do."""


class DeployError(RuntimeError):
    """A deploy step failed; the message names the problem and the fix."""
