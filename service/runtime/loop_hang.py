"""For tests only: hang the event loop on purpose, to prove that the watchdog notices.

Off unless ``POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S`` is set (seconds after the
service told systemd it is ready). Then the loop is blocked with a plain
``time.sleep`` — the same as a blocking call slipped into a coroutine — for
``POTWATCH_DEBUG_BLOCK_LOOP_FOR_S`` seconds, or for good when that is unset.
The watchdog's pings stop with it; systemd (or bench/watchdog_restart.py,
which plays its part) then kills and restarts the service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

AFTER = "POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S"
FOR = "POTWATCH_DEBUG_BLOCK_LOOP_FOR_S"


@dataclass(frozen=True)
class LoopHang:
    after_s: float
    for_s: float | None  # None: until the process is killed

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> LoopHang | None:
        if not environ.get(AFTER):
            return None
        try:
            after = float(environ[AFTER])
            length = float(environ[FOR]) if environ.get(FOR) else None
        except ValueError:
            log.warning("ignoring %s / %s: not numbers of seconds", AFTER, FOR)
            return None
        return cls(max(after, 0.0), length)

    async def run(self) -> None:
        await asyncio.sleep(self.after_s)
        how_long = "until killed" if self.for_s is None else f"for {self.for_s:g} s"
        log.warning("%s is set (for tests only): blocking the event loop %s", AFTER, how_long)
        if self.for_s is not None:
            block_loop(self.for_s)
            log.warning("the event loop runs again after the debug hang")
            await asyncio.Event().wait()  # once only; parked, not returned (a task that ends is a death)
        while True:
            block_loop(3600.0)


def block_loop(seconds: float) -> None:
    """A blocking call on the loop's thread: nothing else on the loop runs meanwhile."""
    time.sleep(seconds)
