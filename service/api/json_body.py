"""Request bodies parsed as strict JSON: bounded, and only what JSON allows.

Python's ``json`` accepts ``NaN`` and ``Infinity`` (not JSON), keeps a lone
surrogate such as ``"\\ud800"`` as a string that cannot be encoded again (both
were 500s further down), and recurses once per nesting level. Here each is a
422 that says what is wrong, before any model sees the body. The size is
capped before this runs (``service.api.limits``); the depth is checked by a
linear scan before the parser recurses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

# a StartCookBody is flat; a little nesting is fine, a thousand levels is an attack
MAX_DEPTH = 8


class NotJson(ValueError):
    """Why a body is refused, in words for the 422's ``msg``."""


def nesting_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting outside strings, in one pass without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constants(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: JSON, but no number a float can hold
        raise NotJson(f"{text[:40]} is out of range")
    return value


def _check_strings(value: Any) -> None:
    """Every string (keys too) must be encodable: a lone surrogate is not text."""
    items: list[Any] = [value]
    while items:
        item = items.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                shown = item.encode("utf-8", "backslashreplace").decode()
                raise NotJson(f"a string holds a lone surrogate: {shown[:60]!r}") from None
        elif isinstance(item, dict):
            items.extend(item.keys())
            items.extend(item.values())
        elif isinstance(item, list):
            items.extend(item)


def strict_loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` as JSON, or ``NotJson`` saying why not (``UnicodeDecodeError`` for bytes that are not text)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if nesting_depth(text) > max_depth:
        raise NotJson(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise NotJson(str(exc)) from None
    except ValueError as exc:  # an integer of thousands of digits (Python's int limit)
        raise NotJson(str(exc)) from None
    _check_strings(value)
    return value


class StrictJsonRequest(Request):
    """A request whose ``json()`` is ``strict_loads``: FastAPI parses bodies through it."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = strict_loads(await self.body())
            except NotJson as exc:
                detail = [{"loc": ["body"], "msg": f"the body is not valid JSON: {exc}", "type": "json_invalid"}]
                raise HTTPException(422, detail=detail) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """A route that reads its body as ``StrictJsonRequest`` (FastAPI's way to swap the request class)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
