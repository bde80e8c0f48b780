"""The request log: sampled inputs and answers as JSON lines, written off the request path.

    {"time": "2026-11-21T15:40:00.123+00:00", "model_version": "3",
     "inputs": {...one record...}, "output": {"prediction": ...}}

A request only puts a tuple on a bounded queue (a full queue drops the row and counts
it: serving never waits for a disk). One background thread writes the lines with the
standard library's RotatingFileHandler (LOG_MAX_MB in all: the live file and its
backups) and feeds the live drift window (serve/drift.py). LOG_PREDICTIONS=false
writes nothing to disk; the drift metrics still work, in memory.
"""

import json
import logging
import logging.handlers
import os
import queue
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import Counter

from ..bundle import Bundle
from .drift import LiveDrift
from .settings import ServeSettings

log = logging.getLogger(__name__)
LOG_NAME = "requests"
BACKUPS = 4  # the live file and four rotated ones share LOG_MAX_MB
QUEUE_LIMIT = 10_000
PUBLISH_EVERY_S = 1.0
DROPPED = Counter("request_log_dropped", "Rows not logged because the log queue was full")
_STOP = object()


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


class RequestLog:
    def __init__(self, settings: ServeSettings, loaded: Bundle):
        self.rate = settings.log_sample_rate
        self.version = loaded.metadata.version
        self.file = rotating_handler(settings) if settings.log_predictions else None
        self.drift = (
            LiveDrift(loaded.reference, loaded.schema.task, loaded.schema.classes,
                      settings.drift_window)
            if loaded.reference is not None
            else None
        )  # fmt: skip
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        self.thread = threading.Thread(target=self._run, name="request-log", daemon=True)

    @property
    def active(self) -> bool:
        return self.file is not None or self.drift is not None

    def start(self) -> None:
        if self.active:
            self.thread.start()

    def record(self, records: list[dict], answers: list[dict]) -> None:
        """On the request path: a coin toss and a queue put, nothing else."""
        if not self.active or (self.rate < 1.0 and random.random() >= self.rate):
            return
        try:
            self.queue.put_nowait((time.time(), records, answers))
        except queue.Full:
            DROPPED.inc(len(records))

    def stop(self) -> None:
        """Write what is queued, then stop the thread (at shutdown)."""
        if self.thread.is_alive():
            self.queue.put(_STOP)
            self.thread.join(timeout=10)
        if self.file is not None:
            self.file.close()

    def _run(self) -> None:
        published = 0.0
        while True:
            try:
                item = self.queue.get(timeout=PUBLISH_EVERY_S)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                self._handle(*item)
            if self.drift is not None and time.monotonic() - published >= PUBLISH_EVERY_S:
                self.drift.publish()
                published = time.monotonic()
        if self.drift is not None:
            self.drift.publish()

    def _handle(self, at: float, records: list[dict], answers: list[dict]) -> None:
        stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
        for inputs, answer in zip(records, answers, strict=True):
            try:
                if self.drift is not None:
                    self.drift.observe(inputs, answer)
                if self.file is not None:
                    line = {"time": stamp, "model_version": self.version}
                    line |= {"inputs": inputs, "output": answer}
                    self.file.emit(logging.makeLogRecord({"msg": json.dumps(line, default=str)}))
            except Exception:  # a log must never stop the service
                log.exception("Could not log a request row")
