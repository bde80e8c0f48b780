"""What can stop a training run, each with a message that says what to do."""

from ..errors import ColdstartError


class TrainingError(ColdstartError, RuntimeError):
    """Training stopped on purpose: the message names the problem and the fix (exit 1)."""


class BaselineNotBeaten(TrainingError):
    """The model is no better than always guessing the same answer."""


class TrackingStoreError(TrainingError):
    """The MLflow tracking store cannot be reached or written to."""


class ModelsFolderError(TrainingError):
    """The folder the champion is exported to cannot be written."""
