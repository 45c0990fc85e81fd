"""The systemd watchdog, pinged from the event loop and only while the service is whole.

systemd kills and restarts a unit whose ``WATCHDOG=1`` stops coming for
``WatchdogSec=``. The ping is sent by a coroutine on the service's own event
loop, so a loop that is stuck (a blocking call, a deadlock) sends nothing; a
thread that pinged on its own would keep a hung service "healthy" forever.
A loop that turns is not enough either: before each ping the wiring's
``problems`` says whether the hub still turns and the probe supervisors and the
HTTP server still run, and a ping is skipped while anything is wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from service.runtime.systemd_notify import Notifier

log = logging.getLogger(__name__)

# the loop woke this much later than asked: worth a line in the journal, even if it recovered
LATE_WARNING_S = 1.0


def ping_interval(watchdog_s: float) -> float:
    """Half of ``WatchdogSec=``, as sd_watchdog_enabled(3) asks: one late ping is not yet a kill."""
    return watchdog_s / 2


async def keep_alive(notifier: Notifier, every_s: float, problems: Callable[[], list[str]]) -> None:
    """Ping every ``every_s`` while ``problems()`` finds nothing; say once why it stopped pinging."""
    loop = asyncio.get_running_loop()
    silent_for: str | None = None
    woke = loop.time()
    while True:
        await asyncio.sleep(every_s)
        now = loop.time()
        late = now - woke - every_s
        woke = now
        if late > LATE_WARNING_S:
            log.warning(
                "the event loop was held up for %.1f s (the watchdog kills the service after %.0f s)", late, 2 * every_s
            )
        wrong = problems()
        if wrong:
            why = "; ".join(wrong)
            if why != silent_for:
                log.error("watchdog: not pinging systemd, so that it restarts the service: %s", why)
                silent_for = why
            continue
        if silent_for is not None:
            log.info("watchdog: healthy again, pinging systemd")
            silent_for = None
        notifier.watchdog()


def stalled(name: str, last_turn: float | None, now: float, limit_s: float) -> str | None:
    """A problem when a loop that should turn every second (the hub) has not for ``limit_s``."""
    if last_turn is None or now - last_turn <= limit_s:
        return None
    return f"{name} has not turned for {now - last_turn:.0f} s"
