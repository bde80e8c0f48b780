"""A fast lane for the plain, valid prediction request; everything else goes the usual way.

Measured with a profiler under load, FastAPI's routing, dependency solving, generic body
parsing and its stack of middleware cost several times the prediction itself. This plain
ASGI layer sits in front of the whole FastAPI app and answers the common case (POST
/predict or /predict/batch, a JSON body within MAX_BODY_BYTES that passes the same
pydantic model, the right API key, a model ready) with the same model classes and the
same answer functions as the FastAPI routes, and counts it in the same metrics. Anything
else (a body that fails validation, no or a wrong key, no model, not JSON, no or a too
large Content-Length, any other path) is handed, untouched, to the FastAPI app: every
error answer and /docs still come from one place. Two answers it gives itself, as the
usual lane would: a 408 for a body that does not arrive within BODY_TIMEOUT_S (reading it
is what the lane is doing then), and a 500, counted, should anything else fail.
"""

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from .limits import CLOSE, BodyDeadline, BodyTooSlow
from .metrics import REQUEST_SERIES

# What Starlette's JSONResponse writes, byte for byte; built once rather than per answer.
JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
CONTENT_TYPE = (b"content-type", b"application/json")


@dataclass
class Lane:
    model: type[BaseModel]  # the request model (Record or Batch)
    answer: Callable[..., Awaitable[dict]]  # (predictor, validated request) -> the answer


def is_plain_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(b";")[0].strip().lower()
    return media_type == b"application/json"


async def read_body(receive) -> bytes:
    """The whole body; raises BodyTooSlow (from a BodyDeadline `receive`) when it is late."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise ConnectionAbortedError
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes):
    """A `receive` that hands the already-read body to the usual lane."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def send_json(send, answer: dict, status: int = 200, closing: bool = False) -> None:
    body = JSON.encode(answer).encode()
    # In Starlette's order: the route's own headers, then length and type.
    headers = [CLOSE] if closing else []
    headers += [(b"content-length", str(len(body)).encode()), CONTENT_TYPE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FastLane:
    def __init__(
        self,
        app,
        lanes: dict[str, Lane],
        api_key: bytes | None,
        max_body_bytes: int,
        body_timeout_s: float,
    ):
        self.app, self.lanes, self.api_key = app, lanes, api_key
        self.max_body_bytes, self.body_timeout_s = max_body_bytes, body_timeout_s

    def takes(self, scope) -> Lane | None:
        """The lane for this request if it may use the fast one, else None."""
        lane = self.lanes.get(scope["path"])
        if lane is None or scope["method"] != "POST" or self.app.state.predictor is None:
            return None
        # A repeated header: Starlette reads its first copy, so the lane must too (a dict
        # keeps the last of equal keys, hence reversed).
        headers = dict(reversed(scope["headers"]))
        if not is_plain_json(headers.get(b"content-type")):
            return None
        # A declared length the usual lane's limit accepts: the body can be read whole.
        length = headers.get(b"content-length")
        if length is None or not length.isdigit() or int(length) > self.max_body_bytes:
            return None
        if self.api_key is not None:
            # compare_digest takes the same time wherever the keys differ: no timing leak.
            key = headers.get(b"x-api-key")
            if key is None or not secrets.compare_digest(key, self.api_key):
                return None
        return lane

    async def __call__(self, scope, receive, send):
        lane = self.takes(scope) if scope["type"] == "http" else None
        if lane is None:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # counted as such if anything below fails (uvicorn then answers 500)
        try:
            status = await self.answer(lane, scope, receive, send)
        finally:
            if status is not None:  # None: the usual lane answered (and counted), or nobody
                REQUEST_SERIES.observe(scope["path"], "POST", status, time.perf_counter() - started)

    async def answer(self, lane: Lane, scope, receive, send) -> int | None:
        """Answers the request; returns the status to count, None if not the lane's to count."""
        try:
            body = await read_body(BodyDeadline(receive, self.body_timeout_s))
        except ConnectionAbortedError:  # nobody left to answer
            return None
        except BodyTooSlow as late:  # as FastAPI answers the HTTPException in the usual lane
            await send_json(send, {"detail": late.detail}, late.status_code, closing=True)
            return late.status_code
        try:
            # pydantic parses and validates the bytes in one pass, in Rust.
            request = lane.model.model_validate_json(body)
        except ValidationError:
            # The usual lane validates again and answers 400 or 422, naming each field.
            await self.app(scope, replay(body), send)
            return None
        await send_json(send, await lane.answer(self.app.state.predictor, request))
        return 200
