"""Each feature, and the prediction, of the logged rows against the reference: PSI (how
far) and a chi-squared test on the same bins (is it more than sampling noise?)."""

from dataclasses import dataclass

import numpy as np
from scipy.stats import chisquare

from ..contract.drift_rules import (
    EPSILON,
    PREDICTION,
    Distribution,
    Reference,
    prediction_value,
    psi,
)
from .settings import MonitorSettings


@dataclass
class ColumnDrift:
    name: str
    kind: str
    psi: float
    p_value: float
    unexpected: int
    drifted: bool
    labels: list[str]
    expected: np.ndarray  # reference share per bin
    observed: np.ndarray  # live share per bin


def chi_squared_p(expected: np.ndarray, counts: np.ndarray) -> float:
    total = counts.sum()
    shares = np.maximum(expected, EPSILON)
    shares = shares / shares.sum()
    return float(chisquare(counts, shares * total).pvalue)


def compare_column(
    name: str, distribution: Distribution, values: list, settings: MonitorSettings
) -> ColumnDrift:
    expected = distribution.expected()
    bins = [distribution.bin_of(value) for value in values]
    counts = np.bincount(bins, minlength=len(expected)).astype(float)
    score, p = psi(expected, counts), chi_squared_p(expected, counts)
    return ColumnDrift(
        name=name,
        kind=distribution.kind,
        psi=score,
        p_value=p,
        unexpected=sum(distribution.is_unexpected(value) for value in values),
        drifted=score >= settings.psi_threshold and p < settings.p_value,
        labels=distribution.labels(),
        expected=expected,
        observed=counts / counts.sum(),
    )


def compare(
    reference: Reference,
    inputs: list[dict],
    outputs: list[dict],
    task: str,
    classes: list | None,
    settings: MonitorSettings,
) -> list[ColumnDrift]:
    """One result per feature, then one for the prediction."""
    results = [
        compare_column(name, distribution, [row.get(name) for row in inputs], settings)
        for name, distribution in reference.features.items()
    ]
    predictions = [prediction_value(task, classes, output) for output in outputs]
    results.append(compare_column(PREDICTION, reference.prediction, predictions, settings))
    return results
