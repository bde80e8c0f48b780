"""The container part's errors: building, running or pushing the image failed (exit 1)."""

from ..errors import ColdstartError


class ContainerError(ColdstartError):
    """No Docker engine, a failed build, an unhealthy container: the message says what to do."""


class PushError(ContainerError):
    """The image cannot be pushed: no image, no commit label, a registry that refuses it."""
