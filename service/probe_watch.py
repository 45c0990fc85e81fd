"""One probe's events handed to a callback until told to stop, and a reading put in words.

``potwatch probe`` prints every event until Ctrl-C; ``potwatch doctor`` weighs
the events of a few seconds and stops. Both open the probe through the same
registry as the service, so what they show is what ``potwatch run`` would get.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from drivers import Probe, ProbeEvent, Reading
from service.core.units import c_to_f


async def pump(probe: Probe, on_event: Callable[[ProbeEvent], None], stop: asyncio.Event) -> None:
    """Every event of ``probe`` to ``on_event`` until ``stop`` is set.

    A driver raising (a ``ProbeError`` it cannot retry) ends the pump with
    that error, for the caller to put in words; a driver never ends by itself.
    """

    async def drain() -> None:
        async for event in probe.events():
            on_event(event)

    task = asyncio.create_task(drain())
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises what ended the driver, if it ended by itself


def reading_json(reading: Reading) -> str:
    """One reading as ``potwatch probe --json`` prints it (SPEC.md)."""
    c = reading.celsius
    return json.dumps(
        {
            "probe": reading.probe,
            "channel": reading.channel,
            "celsius": None if c is None else round(c, 3),
            "fahrenheit": None if c is None else round(c_to_f(c), 3),
            "at": round(reading.at, 3),
            "raw": reading.raw,
            "fault": reading.fault,
            "live": reading.live,
        },
        ensure_ascii=False,
    )


def reading_text(reading: Reading) -> str:
    """One reading for a person: both units, the raw line it came from, whether it is old."""
    channel = f"[{reading.channel}] " if reading.channel else ""
    old = "" if reading.live else " (retained: an old value)"
    if reading.celsius is None:
        return f"{reading.probe} {channel}FAULT: {reading.fault}  raw={reading.raw!r}{old}"
    c = reading.celsius
    return f"{reading.probe} {channel}{c_to_f(c):7.2f} °F  {c:7.2f} °C  raw={reading.raw!r}{old}"
