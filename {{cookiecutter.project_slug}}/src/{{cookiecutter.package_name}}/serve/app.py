"""The prediction service: `create_app()` builds it, uvicorn runs it (`make serve`).

`build_api()` makes the FastAPI app: every route, error answer and the docs.
`create_app()` hands it to the serving machinery (internals/: metrics, body limits and a
fast lane for the plain, valid prediction request), which makes it faster and safer and
never changes an answer; skip it on a first reading.

POST /predict         one record            GET /livez    is the process up?
POST /predict/batch   a list of records     GET /readyz   can it predict? (a real prediction)
GET  /model           what is being served  GET /metrics  Prometheus metrics
GET  /model-card      the model card (Markdown)
GET  /                the demo page (demo.py; DEMO_PAGE=false turns it off)
GET  /docs            typed, interactive API documentation (its assets served from here)

A bundle that cannot load never stops the process (a container would restart
forever): /livez answers 200 and /readyz 503 with the file and the problem.

With API_KEY set, what training saw (categories, ranges, an example row, the run id) is
behind the key, on /model. Public stay the health checks, /metrics (name, version and
mode of the model; Prometheus scrapes it without a key), /docs, whose schema then
gives the contract only: field names, types, date formats, and the demo page's files,
which hold no data (the page asks for the key and reads /model and /model-card with it).
"""

import logging
import secrets
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp

from ..contract.bundle import CARD_FILE, Bundle, BundleError
from .demo import add_demo_page
from .errors import ERROR_RESPONSES, validation_error
from .internals import answers, model_source, process, wiring
from .internals.fast_lane import Lane
from .internals.metrics import MODEL_INFO, mark_this_process_dead, metrics_payload
from .internals.request_log import RequestLog
from .predictor import Predictor
from .schemas import batch_model, record_model, response_models
from .settings import ServeSettings

log = logging.getLogger(__name__)


class MarkdownResponse(PlainTextResponse):
    """The model card as it is written (/docs says so: text/markdown, not JSON)."""

    media_type = "text/markdown"


def load_bundle(settings: ServeSettings) -> tuple[Bundle | None, str | None]:
    """(bundle, None), or (None, why not): never raises, so the service stays up to say why."""
    try:
        directory = model_source.resolve_bundle(settings.model_uri, settings.mlflow_tracking_uri)
        return Bundle.load(directory), None
    except BundleError as error:
        problem = str(error)
    except Exception as error:  # the registry: MLflow, network and file errors alike
        problem = (
            f"MODEL_URI={settings.model_uri} could not be fetched: {type(error).__name__}: {error}"
        )
    log.error("No model: %s", problem)
    return None, problem


def create_app(settings: ServeSettings | None = None) -> ASGIApp:
    """What uvicorn serves: the FastAPI app, inside the serving machinery (internals/)."""
    settings = settings or ServeSettings()
    api, lanes = build_api(settings)
    return wiring.wrap(api, settings, lanes)


def build_api(settings: ServeSettings) -> tuple[FastAPI, dict[str, Lane] | None]:
    """The FastAPI app, and the fast lanes for its prediction routes (None without a model)."""
    loaded, problem = load_bundle(settings)
    request_log = RequestLog(settings, loaded) if loaded is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # runs once per worker: before the first request
        process.limit_threads_to_one()
        app.state.predictor, app.state.load_error = None, problem
        if loaded is not None and request_log is not None:
            load_predictor(app, loaded)
            request_log.start()
        process.freeze_what_is_loaded()
        yield  # ... the worker serves until it is told to stop ...
        if request_log is not None:
            request_log.stop()
        mark_this_process_dead()

    title = f"{loaded.metadata.name} prediction service" if loaded else "Prediction service"
    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from files
    # shipped with it, not from a CDN (they work offline and behind a firewall).
    app = FastAPIOffline(
        title=title,
        version=loaded.metadata.version if loaded else "none",
        description=(
            f"Predicts `{loaded.schema.target}` ({loaded.schema.task}). "
            f"Model v{loaded.metadata.version}."
            if loaded
            else f"No model is loaded: {problem}"
        ),
        lifespan=lifespan,
    )
    # Until the lifespan has loaded the model (the fast lane reads this too).
    app.state.predictor, app.state.load_error = None, problem
    app.add_exception_handler(RequestValidationError, validation_error)
    add_health_routes(app)
    if settings.demo_page:
        add_demo_page(app)
    guarded = api_key_guard(settings)
    lanes = None
    if loaded is not None and request_log is not None:
        lanes = add_model_routes(app, loaded, settings, guarded, request_log)
    else:
        add_unavailable_routes(app, guarded)
    return app, lanes


def load_predictor(app: FastAPI, loaded: Bundle) -> None:
    try:
        predictor = Predictor(loaded)
        predictor.smoke_test()
    except BundleError as error:
        app.state.load_error = str(error)
        log.error("Model failed to load from %s: %s", loaded.directory, error)
    except Exception as error:  # say why on /readyz rather than crash-loop
        app.state.load_error = f"{type(error).__name__}: {error}"
        log.exception("Model failed to load from %s", loaded.directory)
    else:
        app.state.predictor, app.state.load_error = predictor, None
        metadata = predictor.metadata
        # No run id: /metrics is public, the run id is /model's (behind API_KEY when set).
        MODEL_INFO.labels(metadata.name, metadata.version, predictor.mode).set(1)
        log.info(
            "Serving %s v%s (%s: %s) from %s",
            *(metadata.name, metadata.version, predictor.mode, predictor.why, loaded.directory),
        )


def api_key_guard(settings: ServeSettings) -> list[Any]:
    """The dependency that checks X-API-Key; none at all (nor in the docs) when no key is set."""
    if settings.api_key is None:
        return []
    expected = settings.api_key.get_secret_value().encode()
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The service's API_KEY")

    # async def: it runs on the event loop (FastAPI runs a plain `def` in a thread).
    async def require_api_key(key: Annotated[str | None, Security(header)]) -> None:
        # compare_digest takes the same time wherever the strings differ: no timing leak.
        # latin-1 gives back the header's bytes (Starlette decoded them so): the fast lane
        # compares those same bytes.
        if key is None or not secrets.compare_digest(key.encode("latin-1"), expected):
            raise HTTPException(
                401, "Missing or wrong X-API-Key header.", headers={"WWW-Authenticate": "ApiKey"}
            )

    return [Depends(require_api_key)]


async def ready_predictor(request: Request) -> Predictor:  # async def, as above
    predictor = request.app.state.predictor
    if predictor is None:
        raise HTTPException(503, f"Model not ready: {request.app.state.load_error}")
    return predictor


def add_health_routes(app: FastAPI) -> None:
    @app.get("/livez", tags=["health"])
    async def livez():
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "No model can serve"}})
    async def readyz(request: Request):
        predictor = request.app.state.predictor
        if predictor is None:
            return JSONResponse(
                {"status": "not ready", "detail": request.app.state.load_error}, 503
            )
        try:
            predictor.smoke_test()
        except Exception as error:
            return JSONResponse({"status": "not ready", "detail": str(error)}, 503)
        answer = {
            "status": "ready",
            "model": predictor.name,
            "version": predictor.version,
            "mode": predictor.mode,
        }
        if predictor.pipeline_problem:
            answer["warning"] = predictor.pipeline_problem
        return answer

    # Prometheus' text format, and /docs says so (not JSON).
    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics():
        content, media_type = metrics_payload()
        return Response(content, media_type=media_type)


def add_model_routes(
    app: FastAPI,
    loaded: Bundle,
    settings: ServeSettings,
    guarded: list[Any],
    request_log: RequestLog,
) -> dict[str, Lane]:
    """The model's routes; returns the same answers for the fast lane, path -> Lane."""
    Ready = Annotated[Predictor, Depends(ready_predictor)]
    # With a key, the public schema keeps to the contract: no categories, ranges or example.
    Record = record_model(loaded.schema, loaded.example[0], reveal_training=not guarded)
    one, batch_of = answers.answerers(Record, len(loaded.schema.features), request_log)
    Batch = batch_model(Record, settings.max_batch_size)
    Prediction, BatchPrediction = response_models(loaded.schema.task)
    documented = dict(ERROR_RESPONSES)  # the error answers /docs lists
    if guarded:
        documented[401] = {"description": "Missing or wrong X-API-Key"}

    # response_model documents the answer in /docs; the answer is built to match it.
    @app.post(
        "/predict",
        response_model=Prediction,
        dependencies=guarded,
        tags=["predict"],
        responses=documented,
    )
    async def predict(record: Record, predictor: Ready):  # type: ignore[valid-type]
        return JSONResponse(await one(predictor, record))

    @app.post(
        "/predict/batch",
        response_model=BatchPrediction,
        dependencies=guarded,
        tags=["predict"],
        responses=documented,
    )
    async def predict_batch(batch: Batch, predictor: Ready):  # type: ignore[valid-type]
        return JSONResponse(await batch_of(predictor, batch))

    # Categories, ranges and the run id: behind the key too, when there is one.
    @app.get("/model", dependencies=guarded, tags=["model"], responses=documented)
    async def model_card(predictor: Ready):
        return predictor.metadata.model_dump() | {
            "mode": predictor.mode,
            "schema": loaded.schema.model_dump(),
            "input_example": loaded.example[0],
        }

    card = read_card(loaded)

    # The card tells the run id and the data's dates: behind the key, as /model is.
    @app.get(
        "/model-card",
        dependencies=guarded,
        tags=["model"],
        response_class=MarkdownResponse,
        responses={**documented, 404: {"description": "The bundle has no model card"}},
    )
    async def model_card_text():
        if card is None:
            raise HTTPException(
                404, f"{loaded.directory / CARD_FILE} is missing: re-train (`make train`)."
            )
        return MarkdownResponse(card)

    return {"/predict": Lane(Record, one), "/predict/batch": Lane(Batch, batch_of)}


def add_unavailable_routes(app: FastAPI, guarded: list[Any]) -> None:
    """Without a bundle there is no request schema: the model routes answer 503 and say why."""

    async def unavailable(request: Request):
        await ready_predictor(request)

    for path in ("/predict", "/predict/batch"):
        app.add_api_route(
            path, unavailable, methods=["POST"], dependencies=guarded, tags=["predict"]
        )
    for path in ("/model", "/model-card"):
        app.add_api_route(path, unavailable, methods=["GET"], dependencies=guarded, tags=["model"])


def read_card(loaded: Bundle) -> str | None:
    """The bundle's model card (written by `make train`); None for a bundle made before it."""
    try:
        return (loaded.directory / CARD_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
