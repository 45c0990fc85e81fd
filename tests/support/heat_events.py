"""Feeding the heat controller in tests: a healthy start, and a run of events with its decisions."""

from __future__ import annotations

from collections.abc import Iterable

from service.core.heat.controller import HeatState, step
from service.core.heat.events import (
    ActuatorReport,
    Decision,
    HeatEvent,
    HeatOutput,
    HeatStep,
    ProbeLevel,
    Reported,
    StepChanged,
    StepKind,
)
from service.core.heat.params import HeatParams
from service.core.units import f_to_c

HOLD = HeatStep("braise/0", StepKind.HOLD, low_c=f_to_c(185.0), high_c=f_to_c(205.0))
REACH = HeatStep("caramel/1", StepKind.REACH, target_c=f_to_c(225.0), max_c=f_to_c(230.0))
BOIL = HeatStep("water/0", StepKind.BOIL)


def healthy(heat: HeatStep, level_f: float, at: float = 0.0, reported: Reported = Reported.OFF) -> list[HeatEvent]:
    """The plug up and online, the step running, one level: nothing stands in the way of heat."""
    return [
        ActuatorReport(at, reported, link_up=True, online=True),
        StepChanged(at, heat),
        ProbeLevel(at, f_to_c(level_f)),
    ]


def feed(
    events: Iterable[HeatEvent], params: HeatParams | None = None, state: HeatState | None = None
) -> tuple[HeatState, list[HeatOutput]]:
    params = params or HeatParams()
    state = state or HeatState()
    outputs: list[HeatOutput] = []
    for event in events:
        state, out = step(state, event, params)
        outputs += out
    return state, outputs


def last_decision(outputs: list[HeatOutput]) -> Decision:
    return [o for o in outputs if isinstance(o, Decision)][-1]
