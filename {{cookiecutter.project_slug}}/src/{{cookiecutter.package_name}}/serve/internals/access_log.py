"""uvicorn's access log, written off the event loop: one readable line per request.

    2026-12-02 01:40:00.123 INFO uvicorn.access: 127.0.0.1:51234 - "POST /predict HTTP/1.1" 200

uvicorn writes each access line on the event loop: a LogRecord, its formatter, a write and
a flush per request, ~10-70 us (more than the ONNX model) at the default LOG_LEVEL=info.
Here the loop only appends the line's fields and the time to a deque (~0.3 us); a thread
formats them (~1.5 us a line) and hands each drain's lines, ten times a second, to the
handlers of the "uvicorn.access" logger (logs.py) as one record: one write, not one per
request. Nothing is lost: the lines are written in order, the last ones at exit. Only if
the output cannot keep up (a pipe nobody reads) are more than QUEUE_LIMIT lines dropped,
counted in access_log_dropped_lines_total and said in the log itself.
Installed by serve/internals/limits.py's protocol; measured by `make bench` (the defaults).
"""

import atexit
import logging
import threading
import time
from collections import deque

from prometheus_client import Counter

QUEUE_LIMIT = 100_000  # lines waiting to be written; beyond that they are dropped, counted
DRAIN_EVERY_S = 0.1
DROPPED = Counter(
    "access_log_dropped_lines", "Access log lines dropped: the log's output could not keep up"
)


def stamp(at: float) -> str:
    """The time as logs.py's format writes it, in local time to the millisecond."""
    seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return f"{seconds}.{int(at % 1 * 1000):03d}"


class DeferredAccessLog:
    """Stands in for the "uvicorn.access" logger in uvicorn's protocol: `.info()` queues."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        self.pending: deque = deque()  # append and popleft are atomic: no lock on the loop
        self.dropped = 0  # since the last line that said so
        self.lock = threading.Lock()  # one drain at a time (the thread, or exit)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def info(self, message: str, *args) -> None:
        """On the event loop: a level check and an append, nothing else."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        if len(self.pending) >= QUEUE_LIMIT:
            self.dropped += 1
            DROPPED.inc()
            return
        self.pending.append((time.time(), message, args))
        if self.thread is None:
            self.start()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self.thread.start()
        atexit.register(self.stop)  # the last lines, at the worker's exit

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None and self.thread.is_alive():
            self.thread.join(timeout=5)
        self.drain()

    def _run(self) -> None:
        while not self.stopping.wait(DRAIN_EVERY_S):
            try:
                self.drain()
            except Exception:  # a log must never stop the thread: say so, try again next time
                logging.getLogger(__name__).exception("Access log: a drain failed")

    def drain(self) -> None:
        with self.lock:
            lines = []
            while self.pending:
                at, message, args = self.pending.popleft()
                lines.append(f"{stamp(at)} INFO {self.logger.name}: {message % args}")
            if self.dropped:
                lines.append(
                    f"{stamp(time.time())} WARNING {self.logger.name}: {self.dropped} lines "
                    "dropped: the log's output could not keep up (access_log_dropped_lines_total)"
                )
                self.dropped = 0
            if lines:
                # One record for the whole drain: its handler (logs.py) writes the lines as they
                # are, in one write.
                record = self.logger.makeRecord(
                    self.logger.name, logging.INFO, __file__, 0, "\n".join(lines), (), None
                )
                self.logger.handle(record)


ACCESS_LOG = DeferredAccessLog(logging.getLogger("uvicorn.access"))
