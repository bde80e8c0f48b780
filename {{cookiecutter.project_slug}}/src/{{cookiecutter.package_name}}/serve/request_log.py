"""The request log: sampled inputs and answers as JSON lines, written off the request path.

    {"time": "2026-11-21T15:40:00.123+00:00", "model_version": "3",
     "inputs": {...one record...}, "output": {"prediction": ...}}

A request only appends a tuple to a bounded queue (when full, the rows are dropped and
counted: serving never waits for a disk). One background thread drains it ten times a
second, writes the lines with the standard library's RotatingFileHandler (LOG_MAX_MB in
all: the live file and its backups) and feeds the live drift window (serve/drift.py).
LOG_PREDICTIONS=false writes nothing to disk; the drift metrics still work, in memory.

Each logged row costs the thread ~10-20 us of Python, holding the interpreter while the
requests wait. So at most LOG_MAX_ROWS_PER_S rows a second are logged: under that, every
(sampled) row; above it, a uniform sample of each drain's rows, the rest counted in
request_log_skipped_rows_total. A busy service (100,000 rows a second in batches) would
otherwise spend half its time logging.
"""

import bisect
import itertools
import json
import logging
import logging.handlers
import os
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import Counter

from ..bundle import Bundle
from .drift import LiveDrift
from .settings import ServeSettings

log = logging.getLogger(__name__)
LOG_NAME = "requests"
BACKUPS = 4  # the live file and four rotated ones share LOG_MAX_MB
QUEUE_LIMIT = 10_000  # requests waiting to be written; more are dropped and counted
# Small, frequent drains: the thread holds the interpreter for a millisecond or two at a
# time, not long enough to show in request latency.
DRAIN_EVERY_S = 0.1  # how often the thread writes the log
PUBLISH_EVERY_S = 0.5  # how often it refreshes the drift gauges
BURST_S = 2  # a quiet service saves up this many seconds of LOG_MAX_ROWS_PER_S
DROPPED = Counter("request_log_dropped", "Rows not logged because the log queue was full")
SKIPPED = Counter(
    "request_log_skipped_rows", "Rows left out of the log and drift window: over LOG_MAX_ROWS_PER_S"
)


def log_file(settings: ServeSettings) -> Path:
    """requests.jsonl; with several workers one file per process (they must not rotate
    each other's files)."""
    suffix = f"-{os.getpid()}" if settings.workers > 1 else ""
    return Path(settings.log_dir) / f"{LOG_NAME}{suffix}.jsonl"


def rotating_handler(settings: ServeSettings) -> logging.Handler:
    path = log_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    per_file = int(settings.log_max_mb * 1024 * 1024 / (BACKUPS + 1))
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max(per_file, 1024), backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def open_log_file(settings: ServeSettings) -> logging.Handler | None:
    """The log file, or None (said once) where it cannot be written: predictions go on."""
    try:
        return rotating_handler(settings)
    except OSError as error:
        log.warning(
            "Request log off: cannot write %s (%s). Make LOG_DIR writable by this user "
            "(a volume or emptyDir), or set LOG_PREDICTIONS=false.",
            log_file(settings), error,
        )  # fmt: skip
        return None


class RowBudget:
    """A token bucket: `per_second` rows a second on average. Up to BURST_S seconds' worth
    saved up, so a quiet service logs a short burst whole (`make drift-demo` sends 1,000
    rows at once)."""

    def __init__(self, per_second: float):
        self.per_second = per_second
        self.capacity = per_second * BURST_S
        self.tokens = self.capacity
        self.last = time.monotonic()

    def take(self, wanted: int) -> int:
        """How many of `wanted` rows may be logged now."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted


def sample_rows(pending: list, granted: int):
    """(time, row, answer) for `granted` rows picked uniformly from all pending requests'
    rows: a batch of 100 counts as 100 rows, not one request."""
    sizes = [len(records) for _, records, _ in pending]
    ends = list(itertools.accumulate(sizes))  # the flat index just past each request's rows
    total = ends[-1] if ends else 0
    picked = range(total) if granted >= total else sorted(random.sample(range(total), granted))
    for flat in picked:
        request = bisect.bisect_right(ends, flat)
        at, records, answers = pending[request]
        offset = flat - (ends[request] - sizes[request])
        yield at, records[offset], answers[offset]


class RequestLog:
    def __init__(self, settings: ServeSettings, loaded: Bundle):
        self.rate = settings.log_sample_rate
        self.budget = RowBudget(settings.log_max_rows_per_s)
        self.version = loaded.metadata.version
        self.names = loaded.schema.names
        self.file = open_log_file(settings) if settings.log_predictions else None
        # Lines written at once: a fraction of one file, so rotation keeps files under size.
        self.chunk_bytes = max(int(settings.log_max_mb * 1024 * 1024 / (BACKUPS + 1) / 4), 1)
        self.drift = (
            LiveDrift(loaded.reference, loaded.schema.task, loaded.schema.classes,
                      settings.drift_window)
            if loaded.reference is not None
            else None
        )  # fmt: skip
        # A deque, not a Queue: append is atomic and wakes no one. The thread drains it on
        # its own clock, so requests never hand the interpreter to it one by one.
        self.pending: deque = deque()
        self.last_problem: str | None = None  # the last error the thread logged
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="request-log", daemon=True)

    @property
    def active(self) -> bool:
        return self.file is not None or self.drift is not None

    def start(self) -> None:
        if self.active:
            self.thread.start()

    def record(self, records: list[tuple], answers: list[dict]) -> None:
        """On the request path: a coin toss and an append, nothing else.

        `records` are rows as the service validated them (values in schema order);
        the background thread names their columns.
        """
        if not self.active or (self.rate < 1.0 and random.random() >= self.rate):
            return
        if len(self.pending) >= QUEUE_LIMIT:  # the disk cannot keep up: drop, count
            DROPPED.inc(len(records))
            return
        self.pending.append((time.time(), records, answers))

    def stop(self) -> None:
        """Write what is pending, then stop the thread (at shutdown)."""
        if self.thread.is_alive():
            self.stopping.set()
            self.thread.join(timeout=10)
        if self.file is not None:
            self.file.close()

    def _run(self) -> None:
        published = time.monotonic()
        while not self.stopping.wait(DRAIN_EVERY_S):
            self._safely(self._drain)
            if time.monotonic() - published >= PUBLISH_EVERY_S:
                self._safely(self._publish)
                published = time.monotonic()
        self._safely(self._drain)
        self._safely(self._publish)

    def _safely(self, step) -> None:
        """One failed drain (a full disk) must not end the thread: the next one tries again.
        A problem is logged when it first happens, not ten times a second."""
        try:
            step()
        except Exception as error:
            if repr(error) != self.last_problem:
                self.last_problem = repr(error)
                log.exception("Request log: %s failed; trying again", step.__name__)

    def _publish(self) -> None:
        if self.drift is not None:
            self.drift.publish()

    def _drain(self) -> None:
        pending = []
        while self.pending:
            pending.append(self.pending.popleft())
        wanted = sum(len(records) for _, records, _ in pending)
        granted = self.budget.take(wanted)
        if granted < wanted:
            SKIPPED.inc(wanted - granted)
        lines: list[str] = []
        for at, row, answer in sample_rows(pending, granted):
            try:
                lines += self._handle(at, row, answer)
            except Exception:  # a log must never stop the service
                log.exception("Could not log a request")
        if self.file is not None and lines:
            self._write(lines)

    def _handle(self, at: float, row: tuple, answer: dict) -> list[str]:
        inputs = dict(zip(self.names, row, strict=True))
        if self.drift is not None:
            self.drift.observe(inputs, answer)
        if self.file is None:
            return []
        stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        line = {"time": stamp, "model_version": self.version, "inputs": inputs, "output": answer}
        return [json.dumps(line, default=str)]

    def _write(self, lines: list[str]) -> None:
        """Several lines per write; the handler rotates between chunks."""
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) + 1 > self.chunk_bytes:
                self.file.emit(logging.makeLogRecord({"msg": "\n".join(chunk)}))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        self.file.emit(logging.makeLogRecord({"msg": "\n".join(chunk)}))
