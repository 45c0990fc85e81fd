"""The hub gives the tracker the probes' labels, so an alert names "Caramel pot", not "probe pot"."""

from __future__ import annotations

import asyncio

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertRaised, ProbeGone, Sample
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.clock import HandClock


def test_alerts_name_the_probe_by_the_hubs_label() -> None:
    async def main() -> list[object]:
        hub = Hub(Kitchen([ProbeSetup("pot")]), HandClock(), load_profiles(), labels={"pot": "Caramel pot"})
        hub.apply(Sample(0.0, "pot", "", f_to_c(70.0)))
        return list(hub.apply(ProbeGone(1.0, "pot", "unplugged")))

    out = asyncio.run(main())
    [raised] = [o for o in out if isinstance(o, AlertRaised)]
    assert raised.alert.message.startswith("Caramel pot lost")
