"""Live drift in /metrics: the last DRIFT_WINDOW sampled rows against the bundle's reference.

    model_drift_psi{feature="..."}                  PSI of the window (feature="prediction": the
                                                    model's answers); above 0.2 is a real shift
    model_drift_unexpected_values_total{feature=}   numbers outside the training range, and
                                                    categories training never saw
    model_drift_window_rows                         rows in the window (PSI needs a few hundred)

Runs on the request log's background thread, never on the request path (serve/internals/request_log.py).
"""

from collections import deque

import numpy as np
from prometheus_client import Counter, Gauge

from ...contract.drift_rules import PREDICTION, Reference, prediction_value, psi

# With several workers each process has its own window: the worst one is what to look at.
# "livemax": the worst of the running workers. A killed worker's window leaves with it
# (metrics.forget_dead_workers); with "max" its last PSI stayed until a restart.
PSI = Gauge(
    "model_drift_psi", "PSI of recent rows vs training", ["feature"], multiprocess_mode="livemax"
)
UNEXPECTED = Counter(
    "model_drift_unexpected_values", "Values outside the training range or unseen", ["feature"]
)
WINDOW_ROWS = Gauge(
    "model_drift_window_rows", "Rows in the drift window", multiprocess_mode="livemax"
)


class LiveDrift:
    def __init__(self, reference: Reference, task: str, classes: list | None, window: int):
        self.reference, self.task, self.classes = reference, task, classes
        self.columns = {**reference.features, PREDICTION: reference.prediction}
        self.expected = {name: d.expected() for name, d in self.columns.items()}
        # One row of bin numbers per request row, in the order of self.columns.
        self.window: deque[tuple[int, ...]] = deque(maxlen=window)
        self.unexpected = {name: UNEXPECTED.labels(name) for name in self.columns}
        self.binners = [(name, d.binner()) for name, d in self.columns.items()]
        self.published = 0  # rows seen at the last publish
        self.seen = 0

    def observe(self, inputs: dict, answer: dict) -> None:
        values = inputs | {PREDICTION: prediction_value(self.task, self.classes, answer)}
        bins = []
        for name, binner in self.binners:
            position, unexpected = binner(values.get(name))
            if unexpected:
                self.unexpected[name].inc()
            bins.append(position)
        self.window.append(tuple(bins))
        self.seen += 1

    def publish(self) -> None:
        """Set the PSI gauges from the window (cheap: a bincount per column)."""
        rows = len(self.window)
        if rows and self.seen != self.published:
            self.published = self.seen
            table = np.array(self.window)
            for column, name in enumerate(self.columns):
                expected = self.expected[name]
                counts = np.bincount(table[:, column], minlength=len(expected))
                PSI.labels(name).set(psi(expected, counts))
        # Last: a scrape that sees the window's new size sees every gauge computed from it.
        WINDOW_ROWS.set(rows)
