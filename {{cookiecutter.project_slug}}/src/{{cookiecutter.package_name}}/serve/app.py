"""The prediction service: `create_app()` builds it, uvicorn runs it (`make serve`).

POST /predict         one record            GET /livez    is the process up?
POST /predict/batch   a list of records     GET /readyz   can it predict? (a real prediction)
GET  /model           what is being served  GET /metrics  Prometheus metrics
GET  /docs            typed, interactive API documentation
"""

import logging
import math
import secrets
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import APIKeyHeader

from .. import bundle
from .limits import BodySizeLimitMiddleware
from .metrics import MODEL_INFO, PREDICTIONS, MetricsMiddleware, metrics_payload
from .model_source import resolve_bundle
from .predictor import Predictor
from .schemas import batch_model, record_model, response_models
from .settings import ServeSettings

log = logging.getLogger(__name__)
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed when API_KEY is set"
)


def limit_threads_to_one() -> None:
    """Where scikit-learn serves, cap its OpenMP and BLAS pools at one thread per worker."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a lean ONNX-only image: onnxruntime is set to one thread already
        return
    threadpool_limits(1)


def json_safe(value):
    """NaN and Infinity are not JSON: echo them back as text in error messages."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 answer (each problem with its field), safe to encode whatever was sent."""
    return JSONResponse({"detail": jsonable_encoder(json_safe(error.errors()))}, status_code=422)


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    settings = settings or ServeSettings()
    directory = resolve_bundle(settings.model_uri, settings.mlflow_tracking_uri)
    # The request schema comes from the bundle's small JSON files; the model itself
    # (the slow part) loads once, in the lifespan, before the first request.
    schema = bundle.read_json(directory, bundle.SCHEMA_FILE)
    example = bundle.read_json(directory, bundle.EXAMPLE_FILE)[0]
    metadata = bundle.read_json(directory, bundle.METADATA_FILE)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Tree models open an OpenMP pool per predict call; under concurrent requests
        # that thrashes two cores. One thread per worker; scale with WORKERS instead.
        limit_threads_to_one()
        app.state.predictor, app.state.load_error = None, "loading"
        try:
            predictor = Predictor(directory)
            predictor.smoke_test()
        except Exception as error:  # serve /livez and explain on /readyz rather than crash-loop
            log.exception("Model failed to load from %s", directory)
            app.state.load_error = f"{type(error).__name__}: {error}"
        else:
            app.state.predictor, app.state.load_error = predictor, None
            MODEL_INFO.labels(
                predictor.name, predictor.version, metadata.get("run_id", ""), predictor.mode
            ).set(1)
            log.info("Serving %s v%s (%s)", predictor.name, predictor.version, predictor.mode)
        yield

    app = FastAPI(
        title=f"{metadata['name']} prediction service",
        version=str(metadata["version"]),
        description=f"Predicts `{schema['target']}` ({schema['task']}). Model v{metadata['version']}.",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)

    expected_key = settings.api_key.get_secret_value().encode() if settings.api_key else None

    def require_api_key(key: Annotated[str | None, Security(api_key_header)]) -> None:
        if expected_key is None:
            return
        # compare_digest takes the same time wherever the strings differ: no timing leak.
        if key is None or not secrets.compare_digest(key.encode(), expected_key):
            raise HTTPException(
                401, "Missing or wrong X-API-Key header.", headers={"WWW-Authenticate": "ApiKey"}
            )

    def ready_predictor(request: Request) -> Predictor:
        predictor = request.app.state.predictor
        if predictor is None:
            raise HTTPException(503, f"Model not ready: {request.app.state.load_error}")
        return predictor

    Ready = Annotated[Predictor, Depends(ready_predictor)]
    Record = record_model(schema, example)
    Batch = batch_model(Record, settings.max_batch_size)
    Prediction, BatchPrediction = response_models(schema["task"])
    guarded = [Depends(require_api_key)]

    @app.post("/predict", response_model=Prediction, dependencies=guarded, tags=["predict"])
    async def predict(record: Record, predictor: Ready):
        # One row takes ~1 ms: cheaper to run here than to hop to a thread.
        result = predictor.predict([record.model_dump(by_alias=True)])[0]
        PREDICTIONS.labels("/predict").inc()
        return result | {"model_version": predictor.version}

    @app.post(
        "/predict/batch", response_model=BatchPrediction, dependencies=guarded, tags=["predict"]
    )
    async def predict_batch(batch: Batch, predictor: Ready):
        records = [record.model_dump(by_alias=True) for record in batch.records]
        # Large batches take longer: run them off the event loop so health checks stay quick.
        results = await run_in_threadpool(predictor.predict, records)
        PREDICTIONS.labels("/predict/batch").inc(len(records))
        return {"predictions": results, "model_version": predictor.version}

    @app.get("/livez", tags=["health"])
    async def livez():
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"])
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
        return {
            "status": "ready",
            "model": predictor.name,
            "version": predictor.version,
            "mode": predictor.mode,
        }

    @app.get("/model", tags=["model"])
    async def model_card(predictor: Ready):
        return predictor.metadata | {
            "mode": predictor.mode,
            "schema": schema,
            "input_example": example,
        }

    @app.get("/metrics", tags=["health"])
    async def metrics():
        content, media_type = metrics_payload()
        return Response(content, media_type=media_type)

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/docs")

    return app
