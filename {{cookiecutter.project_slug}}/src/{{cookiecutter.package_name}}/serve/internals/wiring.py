"""wrap(): the app as uvicorn serves it, inside the serving machinery (app.py calls it once).

Pinned by tests/serve/test_fast_lane.py (the fast lane answers as the app does) and
tests/serve/test_bad_input.py (the limits); measured by bench/bench_serve.py.
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
