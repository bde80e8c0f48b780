"""The prediction routes' work: validated records in, the model's answers out, counted and logged.

app.py's /predict and /predict/batch call the functions `answerers()` returns, and so does
the fast lane (fast_lane.py): both lanes give one answer. Why they look as they do, each a
measured cost (bench/bench_serve.py; pinned by tests/serve/test_fast_lane.py and
tests/serve/test_written_values.py):

- A record's values are read in the schema's column order straight from the validated
  model (its fields are declared in that order), without building a dict keyed by name.
- One row, and batches up to INLINE_BATCH_ROWS, are predicted on the event loop: well
  under a millisecond, cheaper than the hop to a thread. Larger batches go to a thread so
  health checks stay quick.
- Each metric series is looked up once: `.labels()` takes a lock and builds a key per call.
- The routes return a ready JSONResponse: that skips validating our own answer against the
  response model (built to match it; the tests check) and FastAPI's generic encoder.
"""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ..predictor import Predictor
from .metrics import PREDICTIONS
from .request_log import RequestLog

INLINE_BATCH_ROWS = 200

Answer = Callable[[Predictor, Any], Awaitable[dict]]


def row_of(record: BaseModel) -> tuple:
    """A validated record's values in the schema's column order."""
    return tuple(record.__dict__.values())


def row_reader(features: int, fields: int) -> Callable[[BaseModel], tuple]:
    """row_of, or, where the record also holds ignored columns (declared after the features),
    its first `features` values."""
    if fields == features:
        return row_of
    return lambda record: tuple(record.__dict__.values())[:features]


async def answer_one(
    predictor: Predictor, record: BaseModel, request_log: RequestLog, counted: Any, row_of=row_of
) -> dict:
    row = row_of(record)
    result = predictor.predict_rows([row])[0]
    counted.inc()
    request_log.record([row], [dict(result)])  # a copy: model_version is added below
    result["model_version"] = predictor.version
    return result


async def answer_batch(
    predictor: Predictor, batch: Any, request_log: RequestLog, counted: Any, row_of=row_of
) -> dict:
    rows = [row_of(record) for record in batch.records]
    if len(rows) <= INLINE_BATCH_ROWS:
        results = predictor.predict_rows(rows)
    else:
        results = await run_in_threadpool(predictor.predict_rows, rows)
    counted.inc(len(rows))
    request_log.record(rows, results)
    return {"predictions": results, "model_version": predictor.version}


def answerers(
    record_model: type[BaseModel], features: int, request_log: RequestLog
) -> tuple[Answer, Answer]:
    """(answer one record, answer a batch): what /predict and /predict/batch return."""
    rows = row_reader(features, len(record_model.model_fields))
    one = partial(
        answer_one, request_log=request_log, counted=PREDICTIONS.labels("/predict"), row_of=rows
    )
    batch = partial(
        answer_batch,
        request_log=request_log,
        counted=PREDICTIONS.labels("/predict/batch"),
        row_of=rows,
    )
    return one, batch
