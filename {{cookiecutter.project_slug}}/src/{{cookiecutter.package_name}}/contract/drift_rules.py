"""What "the data has drifted" means here: one set of rules, used live (/metrics) and offline
(`make monitor`), against the reference statistics training stores in the bundle.

Every feature (and the model's prediction) is cut into bins: quantile bins of the training
values for numbers, one bin per category for text (plus one for categories training never
saw), and one bin for missing values. PSI, the population stability index, compares the
share of rows per bin: sum((live - ref) * ln(live / ref)). Rule of thumb: below 0.1 stable,
0.1-0.2 moderate, above 0.2 a real shift.
"""

import bisect
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .values import (
    category_reader,
    category_text,
    date_reader,
    days_since_epoch,
    is_missing,
    normalise_category,
)

# A bin with no rows would make ln(0): shares are floored at this before PSI.
EPSILON = 1e-4
UNSEEN = "<unseen>"
MISSING = "<missing>"
PREDICTION = "prediction"


class Distribution(BaseModel):
    """The training distribution of one column: numeric bins, or category shares."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["numeric", "categorical"]
    missing: float = Field(0.0, ge=0, le=1)
    # numeric: bin edges (first = training minimum, last = maximum) and each bin's share
    edges: list[float] = Field(default_factory=list)
    proportions: list[float] = Field(default_factory=list)
    # categorical: each category's share of the non-missing rows
    frequencies: dict[str, float] = Field(default_factory=dict)
    # How a raw value becomes what the model saw: categories normalised (NFKC, spaces,
    # case) as the pipeline does; a date column as days since 1970 in this format.
    normalise: bool = False
    date_format: str | None = None
    _binner: Callable[[Any], tuple[int, bool]] | None = PrivateAttr(None)

    def labels(self) -> list[str]:
        """One name per bin, in the order `bin_of` numbers them."""
        if self.kind == "numeric":
            inner = [
                f"{low:.4g} to {high:.4g}"
                for low, high in zip(self.edges, self.edges[1:], strict=False)
            ]
            return [*inner, MISSING]
        return [*self.frequencies, UNSEEN, MISSING]

    def expected(self) -> np.ndarray:
        """The share of all rows per bin (missing included), as in `labels`."""
        present = 1.0 - self.missing
        if self.kind == "numeric":
            shares = [p * present for p in self.proportions]
        else:
            shares = [p * present for p in self.frequencies.values()] + [0.0]
        return np.array([*shares, self.missing])

    def bin_of(self, value: Any) -> int:
        """The bin a single value falls into (the last bin is "missing")."""
        return self.binner()(value)[0]

    def is_unexpected(self, value: Any) -> bool:
        """Outside the training range (numbers), or a category training never saw."""
        return self.binner()(value)[1]

    def binner(self) -> Callable[[Any], tuple[int, bool]]:
        """value -> (bin, unexpected): the one rule, built once per column, cheap per value
        (the service runs it for every logged value)."""
        if self._binner is None:
            self._binner = self._numeric() if self.kind == "numeric" else self._categorical()
        return self._binner

    def _numeric(self) -> Callable[[Any], tuple[int, bool]]:
        edges, last, missing = list(self.edges), len(self.edges) - 1, len(self.proportions)
        low, high = edges[0], edges[-1]

        date_format = self.date_format
        read_date = date_reader(date_format) if date_format is not None else None

        def numeric(value: Any) -> tuple[int, bool]:
            # Dates repeat: text goes through the remembered reader. (read_date is set
            # exactly when date_format is; the type checker needs to see both.)
            if date_format is not None and read_date is not None:
                value = read_date(value) if type(value) is str else as_days(value, date_format)
            number = as_number(value)
            if number is None:
                return missing, False
            # bisect on the inner edges: numpy's searchsorted(side="right"), per value.
            return bisect.bisect_right(edges, number, 1, last) - 1, not low <= number <= high

        return numeric

    def _categorical(self) -> Callable[[Any], tuple[int, bool]]:
        positions = {name: i for i, name in enumerate(self.frequencies)}
        unseen, missing = len(positions), len(positions) + 1
        rule = normalise_category if self.normalise else category_text
        remembered = category_reader(self.normalise)

        def categorical(value: Any) -> tuple[int, bool]:
            # Text repeats (and is hashable): remembered. Anything else, as it comes.
            if type(value) is str:
                text = remembered(value)
            else:
                text = None if is_missing(value) else rule(value)
            if text is None:
                return missing, False
            position = positions.get(text)
            return (unseen, True) if position is None else (position, False)

        return categorical


class Reference(BaseModel):
    """reference.json in the bundle: every feature's training distribution, and the
    distribution of the model's predictions on the test split."""

    model_config = ConfigDict(extra="allow")

    rows: int = Field(ge=1)
    features: dict[str, Distribution]
    prediction: Distribution


def as_number(value: Any) -> float | None:
    if type(value) is float:  # the usual case, first: NaN is the one float not equal to itself
        return value if value == value else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def psi(expected: np.ndarray, counts: np.ndarray) -> float:
    """Population stability index of observed bin counts against expected bin shares."""
    total = counts.sum()
    if total == 0:
        return 0.0
    live = np.maximum(counts / total, EPSILON)
    ref = np.maximum(expected, EPSILON)
    return float(np.sum((live - ref) * np.log(live / ref)))


def prediction_value(task: str, classes: list | None, answer: dict) -> Any:
    """What drift watches of one answer: the value (regression), the probability of the
    last class (two classes: the "positive" one), or else the predicted label."""
    if task == "regression":
        return answer.get("prediction")
    probabilities = answer.get("probabilities") or {}
    if classes and len(classes) == 2 and str(classes[-1]) in probabilities:
        return probabilities[str(classes[-1])]
    return answer.get("prediction")


def as_days(value: Any, date_format: str) -> float | None:
    days = days_since_epoch(value, date_format)
    return None if math.isnan(days) else days
