"""Keep each configured probe's driver running, and turn what it says into tracker events.

A driver handles its own reconnects; this is the outer guard for the rest: a
driver that crashes is restarted with backoff (1 s doubling to 30 s), and the
probe is reported lost meanwhile, so a failing probe never takes the service
down and never goes quiet without the cook being told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drivers import ProbeDown, ProbeNotice, ProbeUrlError, Reading, dropped_by, open_probe
from service.core.events import ProbeGone, Sample
from service.runtime.clock import Clock
from service.runtime.hub import Hub

log = logging.getLogger(__name__)

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
NOTICE_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class DroppedInput:
    """What each probe's drivers dropped as garbage, summed over driver restarts, for ``/metrics``.

    Read from the drivers' own counters at scrape time: counting costs the
    flood nothing more than the driver's own ``+= 1``.
    """

    def __init__(self) -> None:
        self._before: dict[str, int] = {}  # what the drivers before the current one dropped
        self._drivers: dict[str, object] = {}

    def opened(self, probe_id: str, probe: object) -> None:
        self._before[probe_id] = self.count(probe_id)
        self._drivers[probe_id] = probe

    def count(self, probe_id: str) -> int:
        return self._before.get(probe_id, 0) + dropped_by(self._drivers.get(probe_id))

    def counts(self) -> dict[str, int]:
        return {probe_id: self.count(probe_id) for probe_id in self._drivers}


async def supervise_probe(
    probe_id: str,
    url: str,
    hub: Hub,
    clock: Clock,
    on_open: Callable[[object], None] | None = None,
    dropped: DroppedInput | None = None,
) -> None:
    """``on_open`` sees each driver opened (the demo keeps its simulated pots, to pace them);
    ``dropped`` keeps count of the garbage each one drops."""
    backoff = BACKOFF_START_S
    while True:
        try:
            probe = open_probe(probe_id, url, clock=clock.monotonic)
        except ProbeUrlError as exc:
            # a config mistake: retrying will not fix it, but the service stays up
            log.error("probe %s: %s", probe_id, exc)
            hub.post(ProbeGone(clock.monotonic(), probe_id, f"bad probe URL: {exc}"))
            # parked, not returned: a task that ends is taken by the wiring for one that died
            await asyncio.Event().wait()
        if on_open is not None:
            on_open(probe)
        if dropped is not None:
            dropped.opened(probe_id, probe)
        try:
            async for event in probe.events():
                if isinstance(event, Reading):
                    backoff = BACKOFF_START_S
                    hub.post(
                        Sample(event.at, probe_id, event.channel, event.celsius, event.fault, event.live),
                        event.raw,
                    )
                elif isinstance(event, ProbeDown):
                    log.warning("probe %s gone: %s", probe_id, event.reason)
                    hub.post(ProbeGone(event.at, probe_id, event.reason))
                elif isinstance(event, ProbeNotice):
                    log.log(NOTICE_LEVELS.get(event.level, logging.INFO), "probe %s: %s", probe_id, event.message)
            reason = "driver stopped"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"driver failed: {exc!r}"
            log.warning("probe %s: %s; restarting in %.0f s", probe_id, reason, backoff, exc_info=True)
        hub.post(ProbeGone(clock.monotonic(), probe_id, reason))
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX_S)
