"""A cap on request bodies, enforced on the raw ASGI receive stream.

The service's only body is ``POST /api/cooks``' few dozen bytes, and the HTTP
server shares its event loop with the tracker: a body read or parsed whole
(200 MB once stalled the loop for seconds, long enough for a false "probe lost")
must never happen. So, before any route runs:

- a ``Content-Length`` over the cap is a 413 at once, and the route is not
  called at all (Starlette's own ``RequestBodyLimitMiddleware`` calls the route
  first and swaps the answer afterwards: a command would already have been done);
- a body without a length (chunked) is counted as it arrives; the chunk that
  passes the cap ends the request with a 413, so at most the cap (plus one
  chunk) is ever held in memory.

Either 413 says ``Connection: close``: the server stops reading the rest of the
body instead of draining it on the loop.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# a StartCookBody is under 200 bytes; a few KiB leaves room for long names and nothing else
MAX_BODY_BYTES = 4096
CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes the cap.

    An ``HTTPException``: FastAPI passes those through its body reading as they
    are, so the route's error handler answers the 413 with the usual JSON body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"the request body is over {limit} bytes", headers=CLOSE)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` (None when absent or not a number: the server checks those)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: no request body over ``max_bytes`` reaches the application."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            if seen > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            # raised where nothing turned it into a response (a route reading the body itself)
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is over {self.max_bytes} bytes"
        await JSONResponse({"detail": detail}, status_code=413, headers=CLOSE)(scope, receive, send)
