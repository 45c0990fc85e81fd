"""The safety gate: every decision passes through :func:`guard`, and nothing here can be configured off.

A condition forces the heat off at once, through any minimum on-time. Some
conditions *latch*: once seen, the heat stays off after the condition is over,
until the cook hands control back (or a new cook starts). Those are the ones
that say we may not know where the probe is or what the pot does:

* the probe lost, faulty or stale. A probe that comes back may have come back
  on the counter (reading 70 °F: "full heat") or in another pot, so heat does
  **not** come back by itself when the probe returns;
* the level at or above the hard maximum (something else heats the pot, or the
  probe is not where we think);
* the heater on for longer than the maximum on-time (it may not heat this pot).

The others clear by themselves, because while they held the probe kept
watching the pot: the broker link or the plug back, or a new cook started.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.heat.events import HeatStep, ProbeHealth, Reason
from service.core.heat.params import HeatParams

# A limit written in °F reaches us through °C: 215 °F may come back as 101.66666666666666.
ROUNDING_C = 1e-9

LATCHING = frozenset(
    {Reason.PROBE_LOST, Reason.PROBE_FAULTY, Reason.PROBE_STALE, Reason.MAX_TEMPERATURE, Reason.MAX_ON_TIME}
)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the controller has been told, as of its last event."""

    step: HeatStep | None = None
    level_c: float | None = None
    level_at: float | None = None
    rate: float = 0.0  # °C/s, the tracker's rate of rise
    recent: tuple[tuple[float, float], ...] = ()  # (at, level) over the last rate_span_s
    anticipate: bool = True  # False: a syrup still heating onto its boil (ProbeLevel)
    health: ProbeHealth = ProbeHealth.OK
    link_up: bool = False  # nothing heard from the driver yet: not up
    online: bool = False


def hard_max_c(step: HeatStep, params: HeatParams) -> float:
    """The lower of the heater's own ceiling and the step's default (overshoot, or hold top + 10 °F)."""
    if params.max_c is None:
        return step.default_max_c
    return min(params.max_c, step.default_max_c)


def condition(facts: Facts, on_since: float | None, at: float, params: HeatParams) -> Reason | None:
    """The first safety condition that holds now, or None. Ordered from the most to the least basic."""
    if facts.step is None:
        return Reason.NO_COOK
    if facts.health is ProbeHealth.LOST:
        return Reason.PROBE_LOST
    if facts.health is ProbeHealth.FAULTY:
        return Reason.PROBE_FAULTY
    if facts.health is ProbeHealth.STALE:
        return Reason.PROBE_STALE
    if facts.level_c is None or facts.level_at is None:
        return Reason.NO_READING
    if at - facts.level_at > params.stale_after_s:
        return Reason.PROBE_STALE
    if not facts.link_up:
        return Reason.LINK_DOWN
    if not facts.online:
        return Reason.DEVICE_OFFLINE
    if facts.level_c >= hard_max_c(facts.step, params) - ROUNDING_C:
        return Reason.MAX_TEMPERATURE
    if on_since is not None and at - on_since >= params.max_on_s:
        return Reason.MAX_ON_TIME
    return None


def guard(proposed_on: bool, reason: Reason, held: Reason | None) -> tuple[bool, Reason]:
    """The one place a proposal becomes a command: a holding (or latched) condition wins, at once."""
    if held is not None:
        return False, held
    return proposed_on, reason
