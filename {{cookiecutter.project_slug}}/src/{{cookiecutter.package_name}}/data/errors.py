"""The data part's error: the data cannot be used as it is (exit 2, like a bad setting)."""

from ..errors import BadInput


class DataError(BadInput, ValueError):
    """The data cannot be used as it is. The message names the problem and the fix."""
