"""A fast lane for the plain, valid prediction request; everything else goes the usual way.

Measured with a profiler under load, FastAPI's routing, dependency solving and generic
body parsing cost several times the prediction itself. This plain ASGI layer answers
the common case (POST /predict or /predict/batch, a JSON body that passes the same
pydantic model, the right API key, a model ready) with the same model classes and
the same answer functions as the FastAPI routes. Anything else (a body that fails
validation, no or a wrong key, no model, not JSON, no Content-Length) is handed,
untouched, to those routes: every error answer and /docs still come from one place.
Metrics and the body-size limit wrap this layer, so they count and guard both lanes.
"""

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse

from .limits import BodyTooLarge


@dataclass
class Lane:
    model: type[BaseModel]  # the request model (Record or Batch)
    answer: Callable[..., Awaitable[dict]]  # (predictor, validated request) -> the answer
    route: object  # the FastAPI route, so metrics label the request by its path


def is_plain_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(b";")[0].strip().lower()
    return media_type == b"application/json"


async def read_body(receive) -> bytes:
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


class FastLane:
    def __init__(self, app, state, lanes: dict[str, Lane], api_key: bytes | None):
        self.app, self.state, self.lanes, self.api_key = app, state, lanes, api_key

    def takes(self, scope) -> Lane | None:
        """The lane for this request if it may use the fast one, else None."""
        lane = self.lanes.get(scope["path"])
        if lane is None or scope["method"] != "POST" or self.state.predictor is None:
            return None
        headers = dict(scope["headers"])
        if not is_plain_json(headers.get(b"content-type")) or b"content-length" not in headers:
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
        try:
            body = await read_body(receive)
        except BodyTooLarge as error:  # more bytes than Content-Length said: the usual 413
            return await JSONResponse({"detail": error.detail}, 413)(scope, receive, send)
        except ConnectionAbortedError:  # nobody left to answer
            return
        try:
            # pydantic parses and validates the bytes in one pass, in Rust.
            request = lane.model.model_validate_json(body)
        except ValidationError:
            # The usual lane validates again and answers 400 or 422, naming each field.
            return await self.app(scope, replay(body), send)
        scope["route"] = lane.route
        answer = await lane.answer(self.state.predictor, request)
        await JSONResponse(answer)(scope, receive, send)
