"""The one error type of the Kubernetes part: its message names the problem and the fix."""


class KubeError(Exception):
    pass
