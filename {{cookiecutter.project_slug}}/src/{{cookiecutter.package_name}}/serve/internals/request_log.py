"""The request log: sampled inputs and answers as JSON lines, written off the request path.

    {"time": "2026-11-21T15:40:00.123+00:00", "model_version": "3",
     "inputs": {...one record...}, "output": {"prediction": ...}}

A request only appends a tuple to a bounded queue (when full, the rows are dropped and
counted: serving never waits for a disk). One background thread drains it ten times a
second, writes the lines (serve/internals/log_files.py: LOG_MAX_MB for the whole LOG_DIR folder,
every worker and earlier run together) and feeds the live drift window (serve/internals/drift.py).
LOG_PREDICTIONS=false writes nothing to disk; the drift metrics still work, in memory.
A write that fails (a full disk) loses that drain's rows, counted in
request_log_lost_rows_total, and is said in one line, once; the next drain tries again.

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
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import Counter

from ...contract.bundle import Bundle
from ..settings import ServeSettings
from .drift import LiveDrift
from .log_files import BACKUPS, LogFiles, LostRows, own_file

log = logging.getLogger(__name__)
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
LOST = Counter("request_log_lost_rows", "Rows not logged because the log file could not be written")


def log_files(settings: ServeSettings) -> LogFiles:
    folder_bytes = int(settings.log_max_mb * 1024 * 1024)
    # Each worker's file and its backups get an equal share of the folder's LOG_MAX_MB.
    file_bytes = folder_bytes // ((BACKUPS + 1) * settings.workers)
    path = own_file(Path(settings.log_dir), settings.workers)
    return LogFiles(path, folder_bytes, max(file_bytes, 1024))


def open_log_file(settings: ServeSettings) -> LogFiles | None:
    """The log file, or None (said once) where it cannot be written: predictions go on."""
    files = log_files(settings)
    try:
        files.open()
    except OSError as error:
        log.warning(
            "Request log off: cannot write %s (%s). Make LOG_DIR writable by this user "
            "(a volume or emptyDir), or set LOG_PREDICTIONS=false.",
            files.path,
            error,
        )
        return None
    return files


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
        self.drift = (
            LiveDrift(
                loaded.reference, loaded.schema.task, loaded.schema.classes, settings.drift_window
            )
            if loaded.reference is not None
            else None
        )
        # A deque, not a Queue: append is atomic and wakes no one. The thread drains it on
        # its own clock, so requests never hand the interpreter to it one by one.
        self.pending: deque = deque()
        self.last_problem: str | None = None  # the last error the thread logged
        self.write_problem: str | None = None  # why the last write failed, said once
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
        if wanted:
            log.debug("Request log: %d rows came, %d logged", wanted, granted)

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
        """One line when writing starts failing (never the rows), one when it works again."""
        file = self.file
        assert file is not None, "_drain writes only to a log that has a file"
        try:
            file.write(lines)
        except LostRows as lost:
            LOST.inc(lost.rows)
            problem = str(lost.error)  # "[Errno 28] No space left on device"
            if problem != self.write_problem:
                self.write_problem = problem
                log.error(
                    "Request log: cannot write %s: %s. Its rows are lost (counted in "
                    "request_log_lost_rows_total) until it can.",
                    file.path,
                    problem,
                )
            return
        if self.write_problem is not None:
            self.write_problem = None
            log.warning("Request log: writing %s again", file.path)
