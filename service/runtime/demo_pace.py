"""The demo's director: slow time down near the caramel's target, and tell the simulated cook of an ack.

At 60× the caramel's last minute is one real second: the warning, the ETA
counting down and the alarm come and go before anyone sees them. So while a
reach step is approaching (until its cook ends), the demo's clock and its
simulated probes run at ``NEAR_SPEED`` instead, then go back to full speed.
And the simulated cook takes the pot off the heat as soon as its alarm is
acknowledged, as a cook at the stove would. Only the demo wires this in.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from fastapi import APIRouter

from service.core.events import AlertAcked, AlertKind, CookEnded, Output, StageChanged
from service.runtime.clock import ScaledClock
from service.runtime.hub import Hub

log = logging.getLogger(__name__)

NEAR_SPEED = 4.0  # a few times real time: a minute's approach is a quarter of a real minute
_SLOW_STAGES = frozenset({"approaching", "reached", "overshoot"})


class SimPot(Protocol):
    """What the demo needs of a simulated probe (drivers.simulated.SimulatedProbe)."""

    def set_speed(self, speed: float) -> None: ...

    def take_off_heat(self) -> None: ...


class DemoPace:
    name = "demo pace"

    def __init__(self, speed: float) -> None:
        self.fast = speed
        self.pots: list[SimPot] = []
        self._hub: Hub | None = None
        self._slow_for: set[str] = set()  # the cooks near their target

    def probe_opened(self, probe: object) -> None:
        """Every probe the service opens passes here; the simulated ones are kept."""
        if hasattr(probe, "set_speed") and hasattr(probe, "take_off_heat"):
            self.pots.append(probe)

    def attach(self, hub: Hub) -> None:
        self._hub = hub
        hub.on_output.append(self.on_output)

    def on_output(self, out: Output) -> None:
        if isinstance(out, StageChanged):
            if out.stage in _SLOW_STAGES:
                self._slow_for.add(out.cook_id)
            elif out.stage == "heating":
                self._slow_for.discard(out.cook_id)  # a new step, or a pot pulled back
        elif isinstance(out, CookEnded):
            self._slow_for.discard(out.cook_id)
        elif isinstance(out, AlertAcked):
            self._acked(out.alert_id)
        self._pace()

    def _acked(self, alert_id: str) -> None:
        hub = self._hub
        alert = hub.kitchen.alerts.get(alert_id) if hub is not None else None
        if alert is not None and alert.kind in (AlertKind.TARGET_REACHED, AlertKind.TARGET_OVERSHOOT):
            for pot in self.pots:
                pot.take_off_heat()

    def _pace(self) -> None:
        hub = self._hub
        clock = hub.clock if hub is not None else None
        if not isinstance(clock, ScaledClock):
            return
        speed = min(NEAR_SPEED, self.fast) if self._slow_for else self.fast
        if clock.speed == speed:
            return
        log.info("demo: %g× real time %s", speed, "near the target" if self._slow_for else "again")
        clock.set_speed(speed)
        for pot in self.pots:
            pot.set_speed(speed)

    # a Part with nothing to run: it acts on the hub's outputs, in the hub's task
    def routers(self) -> list[APIRouter]:
        return []

    def health(self) -> dict[str, object]:
        return {}

    async def run(self) -> None:
        await asyncio.Event().wait()  # parked: a part's task that ends is taken for one that died

    async def close(self) -> None:
        return None
