"""What stops a collection: bad input, said in one line with the fix (exit 2)."""

from ..errors import DataError


class CollectError(DataError):
    """The source cannot be collected as it is. The message names the problem and the fix."""


class SchemaChanged(CollectError):
    """The source's columns changed since the last run: reported, never silently merged."""
