"""Who may change state: every request but a read needs the token, or, with no
token set, must pass the same-origin check (``service.api.origin``).

This is ASGI middleware, not a FastAPI dependency, on purpose: FastAPI reads
and parses a route's body before it runs the route's dependencies, so a
dependency would check the token only after a stranger's body was in memory.
Here the headers are judged before the application (and its body reading)
is called at all, and every route, a part's too, is covered without having
to remember a ``dependencies=`` argument.
"""

from __future__ import annotations

import hmac
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from drivers.heater import HEATER_ID
from service.api.limits import CLOSE
from service.api.origin import SameOrigin
from service.runtime.ack_keys import acks_only

READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Forcing a heater off needs no token (it can only make the kitchen safer), but which mode a request
# asks for is in its body: the guard lets these through with its verdict in scope["state"], and the
# route refuses with it unless the body asks for "off" (service/api/heaters.py).
HEATER_OVERRIDE = re.compile(rf"/api/heaters/{HEATER_ID}/override")
REFUSED = "command_refused"


def bearer(authorization: bytes | None) -> bytes | None:
    """The credentials of ``Authorization: Bearer X`` (the scheme is case-insensitive: RFC 9110 §11.1)."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return credentials.strip()


class CommandGuard:
    """ASGI middleware: a command without the token (or, tokenless, from a foreign page) never runs."""

    def __init__(self, app: ASGIApp, token: str, origin: SameOrigin) -> None:
        self.app = app
        self.token = token.encode()
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in READS:
            refused = self.refusal(scope)
            if refused is not None and scope["method"] == "POST" and HEATER_OVERRIDE.fullmatch(scope["path"]):
                scope.setdefault("state", {})[REFUSED] = refused
                refused = None
            if refused is not None:
                # Connection: close: the body that may follow is not read, not even drained
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> JSONResponse | None:
        if self.token:
            given = bearer(dict(scope.get("headers", ())).get(b"authorization"))
            if given is not None and scope["method"] == "POST" and acks_only(scope["path"], given, self.token.decode()):
                return None  # a push's button: the key for this one alert's ack (service/runtime/ack_keys.py)
            if given is None or not hmac.compare_digest(given, self.token):
                headers = {**CLOSE, "WWW-Authenticate": "Bearer"}
                return JSONResponse({"detail": "missing or wrong token"}, status_code=401, headers=headers)
            return None
        why = self.origin.refusal(scope)
        if why is not None:
            return JSONResponse({"detail": why}, status_code=403, headers=CLOSE)
        return None
