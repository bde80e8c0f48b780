"""The one error type of the Kubernetes part: its message names the problem and the fix."""

from ..errors import ColdstartError


class KubeError(ColdstartError):
    """A render, kubectl or measuring step failed (exit 1)."""
