"""The report's plots: reference vs live per drifted column, predictions over time."""

import re
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files; no screen needed (cron, CI, servers)
import matplotlib.pyplot as plt
import numpy as np

from ..contract.drift_rules import as_number
from .compare import ColumnDrift

# The log, cut into this many equal runs of rows, for the plot over time.
TIME_STEPS = 20


def file_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "column"


def save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def reference_vs_live(result: ColumnDrift, folder: Path) -> Path:
    positions = np.arange(len(result.labels))
    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.bar(positions - 0.2, result.expected, 0.4, label="training (reference)")
    axes.bar(positions + 0.2, result.observed, 0.4, label="live (request log)")
    axes.set_xticks(positions, result.labels, rotation=35, ha="right", fontsize=8)
    axes.set_ylabel("share of rows")
    axes.set_title(f"{result.name}: PSI {result.psi:.2f}")
    axes.legend()
    return save(figure, folder / f"drift-{file_name(result.name)}.png")


def watched_numbers(times: list, values: list) -> tuple[list, list[float], str]:
    """(times, numbers, what they are): the values when most are numbers (the rest left
    out: one odd line must not turn the plot into label shares), else the share of rows
    predicting the most common label."""
    numbers = [as_number(v) for v in values]
    if sum(n is not None for n in numbers) * 2 > len(numbers):
        kept = [(t, n) for t, n in zip(times, numbers, strict=True) if n is not None]
        return [t for t, _ in kept], [n for _, n in kept], "mean prediction"
    common = Counter(map(str, values)).most_common(1)[0][0]
    return times, [float(str(v) == common) for v in values], f"share predicted {common}"


def predictions_over_time(times: list, values: list, folder: Path) -> Path:
    """Mean prediction (or share of the most common label) per run of rows, oldest first.
    `times` and `values`: an even sample of the whole log (read_log.EvenSample)."""
    times, numbers, what = watched_numbers(times, values)
    chunks = np.array_split(np.arange(len(numbers)), min(TIME_STEPS, len(numbers)))
    ends = [times[chunk[-1]] for chunk in chunks]
    means = [float(np.mean([numbers[i] for i in chunk])) for chunk in chunks]
    figure, axes = plt.subplots(figsize=(8, 3))
    axes.plot(ends, means, marker="o")
    axes.set_ylabel(what)
    axes.set_title("Predictions over time (the whole log)")
    figure.autofmt_xdate()
    return save(figure, folder / "predictions-over-time.png")
