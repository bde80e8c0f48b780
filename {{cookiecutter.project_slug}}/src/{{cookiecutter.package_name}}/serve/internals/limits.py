"""What one request may cost the service: its size, and how long it may take to arrive.

MAX_BODY_BYTES   a larger body is a 413, refused from its Content-Length before it is read
BODY_TIMEOUT_S   a body still incomplete this long after its headers is a 408
HEADER_TIMEOUT_S headers still incomplete this long after the connection opened (or after
                 the last answer on it) end the connection, with a 408 if a request began
64 KiB           of headers (MAX_HEADER_BYTES) is a 431, and the connection ends

Both refusals close the connection: kept open, uvicorn would read (and throw away) the rest
of the body to reach the next request on it: the whole 50 MB upload a 413 refused, or a
stalled body for ever. uvicorn has no header timeout of its own, and a connection that
sends part of its headers cancels its keep-alive timer: HeaderDeadlineProtocol adds one.
"""

import asyncio
import json

from fastapi import HTTPException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .access_log import ACCESS_LOG

CLOSE = (b"connection", b"close")


def too_large_message(max_bytes: int) -> str:
    return f"Request body is larger than {max_bytes} bytes. Send fewer records per request."


def too_slow_message(seconds: float) -> str:
    return f"The request body did not arrive within {seconds:g} s (BODY_TIMEOUT_S). Send it whole."


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI turns it into a 413 response."""

    def __init__(self, max_bytes: int):
        super().__init__(413, too_large_message(max_bytes), headers={"Connection": "close"})


class BodyTooSlow(HTTPException):
    """Raised when the body is late; FastAPI turns it into a 408 (the fast lane answers alike)."""

    def __init__(self, seconds: float):
        super().__init__(408, too_slow_message(seconds), headers={"Connection": "close"})


class BodyDeadline:
    """`receive`, until the body is whole, raising BodyTooSlow once `seconds` have passed."""

    def __init__(self, receive, seconds: float):
        self.receive, self.seconds = receive, seconds
        self.deadline = asyncio.get_running_loop().time() + seconds
        self.body_done = False

    async def __call__(self):
        if self.body_done:  # later calls wait for a disconnect: no deadline for those
            return await self.receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self.receive()
        except TimeoutError:
            raise BodyTooSlow(self.seconds) from None
        self.body_done = message["type"] != "http.request" or not message.get("more_body", False)
        return message


class BodySizeLimitMiddleware:
    def __init__(self, app, max_bytes: int, body_timeout_s: float):
        self.app = app
        self.max_bytes, self.body_timeout_s = max_bytes, body_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        received = 0
        within_deadline = BodyDeadline(receive, self.body_timeout_s)

        async def counting_receive():
            # Chunked uploads declare no length: count as the body streams in.
            nonlocal received
            message = await within_deadline()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send):
        body = json.dumps({"detail": too_large_message(self.max_bytes)}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            CLOSE,
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# More than this before a request's headers end: a 431, and the connection closes (uvicorn
# itself sets no limit with httptools: ten seconds of headers would all be held in memory).
MAX_HEADER_BYTES = 64 * 1024


def plain_answer(status: bytes, message: bytes) -> bytes:
    """A whole HTTP answer that ends the connection, for where no app is running yet."""
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(message),
            b"connection: close\r\n\r\n",
            message,
        ]
    )


HEADERS_TOO_SLOW = plain_answer(
    b"408 Request Timeout", b"The request headers did not arrive in time (HEADER_TIMEOUT_S)."
)
HEADERS_TOO_LARGE = plain_answer(
    b"431 Request Header Fields Too Large",
    b"The request headers are larger than %d bytes." % MAX_HEADER_BYTES,
)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline, and a size limit, for each request's headers.

    Armed when the connection opens and after each answer; disarmed when a request's
    headers are complete (from then on BODY_TIMEOUT_S and the app decide). While armed,
    the bytes received are counted against MAX_HEADER_BYTES. Its access log is written
    off the event loop (access_log.py)."""

    def __init__(self, *args, header_timeout_s: float, **kwargs):
        super().__init__(*args, **kwargs)
        if self.access_log:  # uvicorn's writes on the loop, a line per request
            # Duck-typed: uvicorn only calls .info() on it (DeferredAccessLog has that).
            self.access_logger = ACCESS_LOG  # type: ignore[assignment]
        self.header_timeout_s = header_timeout_s
        self.header_deadline: asyncio.TimerHandle | None = None
        self.request_begun = False
        self.header_bytes, self.header_tail = 0, b""

    def arm_header_deadline(self) -> None:
        self.disarm_header_deadline()
        self.header_bytes, self.header_tail = 0, b""
        self.header_deadline = self.loop.call_later(self.header_timeout_s, self.headers_too_slow)

    def disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.transport.is_closing():
            return
        if self.request_begun:  # part of a request came: say why it ends (an idle one: close)
            self.transport.write(HEADERS_TOO_SLOW)
        self.transport.close()

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        # Counted before parsing: the chunk that completes the headers disarms the deadline,
        # and its header bytes must count too. Only up to the blank line that ends them (the
        # last three bytes of the previous chunk kept, in case it is split): body bytes in
        # the same chunk are the body's limit's business.
        if self.header_deadline is not None and not self.transport.is_closing():
            seen = self.header_tail + data
            end = seen.find(b"\r\n\r\n")
            self.header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self.header_tail))
            self.header_tail = seen[-3:]
            if self.header_bytes > MAX_HEADER_BYTES:
                self.disarm_header_deadline()
                self.transport.write(HEADERS_TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)  # may complete the headers, and so disarm the deadline

    def connection_lost(self, exc) -> None:
        self.disarm_header_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True

    def on_headers_complete(self) -> None:
        self.disarm_header_deadline()
        self.request_begun = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request already has its headers: it starts now, with no deadline.
        next_is_waiting = bool(self.pipeline)
        super().on_response_complete()
        if not next_is_waiting and not self.transport.is_closing():
            self.arm_header_deadline()
