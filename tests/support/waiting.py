"""Waiting for a condition with a timeout, instead of sleeping and hoping.

``wait_until`` blocks (test code on threads, real processes); ``wait_until_async``
yields to the event loop between looks, so tasks on the same loop (a hub, a
part under test) keep running while the test waits on them. Both return the
check's first truthy value, so a test can wait for a thing and use it, and
both fail naming what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

# ``what`` may be a callable, so that a failure shows a process's log as it is
# when the wait gives up, not as it was when the wait began.
What = str | Callable[[], str]


def wait_until(check: Callable[[], Any], timeout: float, what: What, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy, and return that; fail naming ``what``."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise _timed_out(timeout, what)
        time.sleep(every)


async def wait_until_async(check: Callable[[], Any], timeout: float, what: What, every: float = 0.01) -> Any:
    """``wait_until`` for async tests: the event loop runs between looks."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise _timed_out(timeout, what)
        await asyncio.sleep(every)


def _timed_out(timeout: float, what: What) -> AssertionError:
    return AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
