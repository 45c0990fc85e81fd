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
    poll = _Poll(check, timeout, what)
    while not (value := poll.look()):
        time.sleep(every)
    return value


async def wait_until_async(check: Callable[[], Any], timeout: float, what: What, every: float = 0.01) -> Any:
    """``wait_until`` for async tests: the event loop runs between looks."""
    poll = _Poll(check, timeout, what)
    while not (value := poll.look()):
        await asyncio.sleep(every)
    return value


class _Poll:
    """One wait's deadline and what to say when it passes, shared by both flavours."""

    def __init__(self, check: Callable[[], Any], timeout: float, what: What) -> None:
        self.check, self.timeout, self.what = check, timeout, what
        self.end = time.monotonic() + timeout

    def look(self) -> Any:
        """The check's value; a falsy one means look again, and after the deadline it fails instead."""
        value = self.check()
        if not value and time.monotonic() > self.end:
            what = self.what() if callable(self.what) else self.what
            raise AssertionError(f"timed out after {self.timeout} s waiting for {what}")
        return value
