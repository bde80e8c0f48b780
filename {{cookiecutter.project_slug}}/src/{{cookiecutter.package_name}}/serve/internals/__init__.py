"""The serving machinery: faster or safer, never a different answer. Skip on a first reading.

serve/app.py is a plain FastAPI app; what it calls from here makes it fast, bounded and
observable without changing one answer it gives. Each module names the test that pins it
(same answers, same errors) and the benchmark that measures it (`make bench`):

    fast_lane.py      a valid /predict answered without FastAPI's per-request work
                      (tests/serve/test_fast_lane.py; bench/bench_serve.py)
    limits.py         body size and slow-client deadlines (tests/serve/test_bad_input.py)
    metrics.py        Prometheus metrics, right across workers (tests/serve/test_app.py)
    request_log.py    every prediction to a JSON-lines file, off the event loop
    log_files.py      its files: rotation at LOG_MAX_MB, no row lost
                      (tests/serve/test_request_log.py, test_request_log_disk.py)
    access_log.py     uvicorn's access log written off the event loop (tests/serve/test_logs.py)
    drift.py          live drift in /metrics (tests/monitor/test_monitor.py)
    model_source.py   MODEL_URI -> a bundle folder (a path, or MLflow's registry)
    process.py        one thread per worker, and the garbage collector out of the way
    answers.py        the prediction routes' work, shared by both lanes

`wrap()` is the one call app.py makes to put it around the app.
"""

from fastapi import FastAPI
from starlette.types import ASGIApp

from ..settings import ServeSettings
from .fast_lane import FastLane, Lane
from .limits import BodySizeLimitMiddleware
from .metrics import MetricsMiddleware


def wrap(app: FastAPI, settings: ServeSettings, lanes: dict[str, Lane] | None) -> ASGIApp:
    """The app as uvicorn serves it: metrics and body limits around every route, and, with
    a model loaded, the fast lane in front of /predict and /predict/batch."""
    # The last added middleware runs first: metrics, then the size limit.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
    )
    paths = {getattr(route, "path", "") for route in app.routes}  # routes and mounts have one
    app.add_middleware(MetricsMiddleware, paths=paths)
    if lanes is None:
        return app
    key = settings.api_key.get_secret_value().encode() if settings.api_key else None
    return FastLane(
        app,
        lanes,
        api_key=key,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
    )
