"""Error answers: what the service returns for a request it cannot use, and says so in /docs.

400  the body is not valid JSON            415  the body is not sent as application/json
413  the body is larger than MAX_BODY_BYTES 422  a field breaks the schema (each one named)
503  no model is loaded (see /readyz)       401  missing or wrong X-API-Key (when API_KEY is set)
408  the body did not arrive within BODY_TIMEOUT_S (serve/internals/limits.py)
"""

import json
import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# What an error echoes of the input: enough to find it, never the whole (maybe huge) body.
EXCERPT_CHARS = 200

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not valid JSON"},
    408: {"description": "The body did not arrive within BODY_TIMEOUT_S"},
    413: {"description": "The body is larger than MAX_BODY_BYTES"},
    415: {"description": "The body is not sent with Content-Type: application/json"},
    503: {"description": "No model is loaded; /readyz says why"},
}


def printable(value: str) -> str:
    """Lone surrogates ("\\ud800") cannot be encoded as UTF-8: show them escaped."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def excerpt(value):
    """JSON-safe, and short: NaN and Infinity as text, long inputs cut to an excerpt."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        value = printable(value)
        return value if len(value) <= EXCERPT_CHARS else value[:EXCERPT_CHARS] + "…"
    if isinstance(value, bytes):
        return excerpt(value.decode("utf-8", "replace"))
    text = json.dumps(value, default=str, ensure_ascii=True, allow_nan=True)
    if len(text) <= EXCERPT_CHARS:
        return json.loads(text, parse_constant=str)
    return text[:EXCERPT_CHARS] + "…"


def describe(error: dict) -> dict:
    """One problem of pydantic's list, with its field, kind and message, safe to encode."""
    shown = {key: error[key] for key in ("type", "loc", "msg") if key in error}
    shown["loc"] = [printable(part) if isinstance(part, str) else part for part in shown["loc"]]
    shown["msg"] = printable(str(shown.get("msg", "")))
    if "input" in error:
        shown["input"] = excerpt(error["input"])
    return shown


def is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 for a field that breaks the schema; 400 and 415 for a body that is not JSON at all.

    Registered for RequestValidationError only (Starlette types every handler for Exception)."""
    assert isinstance(error, RequestValidationError)
    if not is_json(request):  # also no Content-Type at all: FastAPI then reads plain text
        return JSONResponse(
            {"detail": "Send the body as JSON with the header Content-Type: application/json."},
            status_code=415,
        )
    details = [describe(item) for item in error.errors()]
    status = 400 if any(item.get("type") == "json_invalid" for item in details) else 422
    return JSONResponse({"detail": details}, status_code=status)
