"""At most one log line a minute for things an attacker can make happen thousands of times a second.

A flood of idle sockets, or a descriptor limit reached, must not turn into a
flood of log lines: on a Raspberry Pi the journal is on the SD card, and 100 MB
of tracebacks is worse than the attack. The first occurrence after a quiet
minute is logged at once (the operator learns of it now); what follows is
counted and summed up in one line when the minute is over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

EVERY_S = 60.0


class ThrottledLog:
    """Counts named happenings and writes them as one line per ``every_s``."""

    def __init__(
        self,
        logger: logging.Logger,
        level: int = logging.WARNING,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.level, self.every_s, self.clock = logger, level, every_s, clock
        self.pending: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self._last: float | None = None
        self._flush: asyncio.TimerHandle | None = None

    def note(self, what: str, detail: str = "") -> None:
        """One more ``what``; logged now if the last line is older than ``every_s``, else summed up later."""
        self.total[what] += 1
        now = self.clock()
        if self._last is None or now - self._last >= self.every_s:
            self._last = now
            self.logger.log(self.level, "%s%s", what, f" ({detail})" if detail else "")
            return
        self.pending[what] += 1
        if self._flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a unit test): the next note after the minute writes the sum
            self._flush = loop.call_later(max(self._last + self.every_s - now, 0.0), self.flush)

    def flush(self) -> None:
        """Write what was counted since the last line, if anything."""
        self._flush = None
        if not self.pending:
            return
        self._last = self.clock()
        summary = ", ".join(f"{what} ×{n}" for what, n in sorted(self.pending.items()))
        self.logger.log(self.level, "in the last %g s: %s", self.every_s, summary)
        self.pending.clear()
