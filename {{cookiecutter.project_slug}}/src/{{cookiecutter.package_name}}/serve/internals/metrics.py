"""Prometheus metrics: requests and latency per endpoint and status, predictions, model version.

With several uvicorn workers each process counts on its own; set
PROMETHEUS_MULTIPROC_DIR (the `serve` entry point does) and /metrics adds them up.
A worker that stops (or is killed and replaced) must not leave its live series
behind: its own shutdown, or else the next /metrics, marks it dead. Every gauge that
describes a worker's present (model_info, the drift gauges in drift.py) is a "live*"
gauge for that reason; counters keep a dead worker's counts, as totals should.
"""

import os
import re
import time
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter("predictions_total", "Rows predicted", ["endpoint"])
# An "info" metric as a gauge fixed at 1: Prometheus' Info type does not work across workers.
MODEL_INFO = Gauge(
    "model_info",
    "The model being served",
    ["name", "version", "mode"],
    multiprocess_mode="liveall",
)


LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(folder) if folder else None


def mark_this_process_dead() -> None:
    """At a worker's shutdown: its "live" gauges (model_info) stop counting at once."""
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(os.getpid(), str(folder))


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def forget_dead_workers(folder: Path) -> None:
    """A worker killed with SIGKILL runs no shutdown code: remove its live series here."""
    for path in folder.glob("gauge_live*.db"):
        match = LIVE_GAUGE_FILE.search(path.name)
        if match and not is_running(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), str(folder))


def metrics_payload() -> tuple[bytes, str]:
    folder = multiprocess_dir()
    if folder is not None:
        forget_dead_workers(folder)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class RequestSeries:
    """Counts and times answered requests, by route, method and status."""

    def __init__(self):
        # (endpoint, method, status) -> its two series: `.labels()` takes a lock and builds
        # a key on every call, so each combination is looked up once.
        self.series: dict[tuple[str, str, int], tuple] = {}

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        found = self.series.get(key)
        if found is None:
            found = (REQUESTS.labels(endpoint, method, str(status)), LATENCY.labels(endpoint))
            self.series[key] = found
        found[0].inc()
        found[1].observe(seconds)


# One per process: the middleware and the fast lane (fast_lane.py) count into the same series.
REQUEST_SERIES = RequestSeries()


class MetricsMiddleware:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times every request."""

    def __init__(self, app, paths: set[str]):
        self.app = app
        self.paths = paths  # the app's routes, all without path parameters

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_with_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The route, not any raw path: unknown paths must not create new series. A request
            # refused before routing (413) is counted under the route it was sent to.
            route = scope.get("route")
            endpoint = route.path if route else scope["path"]
            endpoint = endpoint if endpoint in self.paths else "unmatched"
            REQUEST_SERIES.observe(endpoint, scope["method"], status, time.perf_counter() - start)
