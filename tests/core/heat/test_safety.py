"""The safety gate, one row per condition: heat off at once, through the relay's minimum on-time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.core.heat.controller import HeatState
from service.core.heat.events import (
    ActuatorReport,
    HeatEvent,
    Override,
    OverrideMode,
    ProbeHealth,
    ProbeHealthChanged,
    ProbeLevel,
    Reason,
    Reported,
    StepChanged,
    Tick,
)
from service.core.heat.params import HeatParams
from service.core.units import f_to_c
from tests.support.heat_events import HOLD, REACH, feed, healthy, last_decision

PARAMS = HeatParams()  # min_on_s 30: every fault below comes 5 s into an on period


def levels(start: float, end: float, f: float = 180.0) -> list[HeatEvent]:
    """A level every 10 s, as the hub would pass them on (every second, really)."""
    return [ProbeLevel(start + 10.0 * i, f_to_c(f)) for i in range(int((end - start) / 10.0) + 1)]


def heating() -> HeatState:
    state, outputs = feed(healthy(HOLD, 180.0), PARAMS)
    assert last_decision(outputs).on
    return state


ROWS: list[tuple[str, HeatEvent, HeatParams, Reason]] = [
    ("probe lost", ProbeHealthChanged(5.0, ProbeHealth.LOST), PARAMS, Reason.PROBE_LOST),
    ("probe faulty", ProbeHealthChanged(5.0, ProbeHealth.FAULTY), PARAMS, Reason.PROBE_FAULTY),
    ("probe stale (the hub says)", ProbeHealthChanged(5.0, ProbeHealth.STALE), PARAMS, Reason.PROBE_STALE),
    ("probe stale (no level)", Tick(5.5), replace(PARAMS, stale_after_s=5.0), Reason.PROBE_STALE),
    ("link down", ActuatorReport(5.0, Reported.ON, link_up=False, online=True), PARAMS, Reason.LINK_DOWN),
    ("plug offline", ActuatorReport(5.0, Reported.ON, link_up=True, online=False), PARAMS, Reason.DEVICE_OFFLINE),
    ("cook ended", StepChanged(5.0, None), PARAMS, Reason.NO_COOK),
    ("hard max: hold top + 10 °F", ProbeLevel(5.0, f_to_c(215.0)), PARAMS, Reason.MAX_TEMPERATURE),
    (
        "hard max: the heater's own",
        ProbeLevel(5.0, f_to_c(190.0)),
        replace(PARAMS, max_c=f_to_c(190.0)),
        Reason.MAX_TEMPERATURE,
    ),
    ("max on-time", ProbeLevel(31.0, f_to_c(180.0)), replace(PARAMS, max_on_s=31.0), Reason.MAX_ON_TIME),
    ("override off", Override(5.0, OverrideMode.FORCE_OFF), PARAMS, Reason.OVERRIDE_OFF),
]


@pytest.mark.parametrize(("event", "params", "reason"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_off_at_once(event: HeatEvent, params: HeatParams, reason: Reason) -> None:
    state, outputs = feed([event], params, heating())
    decision = last_decision(outputs)
    assert (decision.on, decision.reason, decision.changed) == (False, reason, True)
    assert decision.deadman_s is None
    assert not state.on


def test_the_hard_max_is_just_below_the_level_it_stops_at() -> None:
    _, outputs = feed([ProbeLevel(5.0, f_to_c(214.9))], PARAMS, heating())
    assert last_decision(outputs).on  # 205 + 10 °F is the line, not 214.9 (and min-on holds)


def test_the_reach_max_is_its_overshoot() -> None:
    state, _ = feed(healthy(REACH, 200.0), PARAMS)
    _, outputs = feed([StepChanged(1.0, replace(REACH, key="again")), ProbeLevel(2.0, f_to_c(230.0))], PARAMS, state)
    assert last_decision(outputs).reason is Reason.MAX_TEMPERATURE


def test_nothing_heard_from_the_plug_is_a_link_down() -> None:
    _, outputs = feed([StepChanged(0.0, HOLD), ProbeLevel(0.0, f_to_c(180.0))], PARAMS)
    assert last_decision(outputs).reason is Reason.LINK_DOWN


def test_no_reading_yet_is_off() -> None:
    _, outputs = feed([ActuatorReport(0.0, Reported.OFF, True, True), StepChanged(0.0, HOLD)], PARAMS)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason) == (False, Reason.NO_READING)


# ---- what comes back by itself, and what does not ---------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (ProbeHealthChanged(5.0, ProbeHealth.LOST), Reason.PROBE_LOST),
        (ProbeHealthChanged(5.0, ProbeHealth.FAULTY), Reason.PROBE_FAULTY),
        (ProbeHealthChanged(5.0, ProbeHealth.STALE), Reason.PROBE_STALE),
        (ProbeLevel(5.0, f_to_c(216.0)), Reason.MAX_TEMPERATURE),
    ],
)
def test_a_probe_or_temperature_fault_latches_until_control_is_handed_back(fault: HeatEvent, reason: Reason) -> None:
    back = [ProbeHealthChanged(10.0, ProbeHealth.OK), *levels(10.0, 200.0)]
    state, outputs = feed([fault, *back], PARAMS, heating())
    decision = last_decision(outputs)
    assert (decision.on, decision.reason, decision.latched) == (False, reason, True)
    assert "hand control back" in decision.words
    _, outputs = feed([ProbeLevel(201.0, f_to_c(180.0)), Override(202.0, OverrideMode.AUTO)], PARAMS, state)
    assert last_decision(outputs).on


def test_max_on_time_latches_too() -> None:
    params = replace(PARAMS, max_on_s=40.0)
    state, outputs = feed(levels(10.0, 100.0), params, heating())
    decision = last_decision(outputs)
    assert (decision.on, decision.reason, decision.latched) == (False, Reason.MAX_ON_TIME, True)
    _, outputs = feed([Override(101.0, OverrideMode.AUTO)], params, state)
    assert last_decision(outputs).on


@pytest.mark.parametrize(
    "fault",
    [
        ActuatorReport(5.0, Reported.UNKNOWN, link_up=False, online=True),
        ActuatorReport(5.0, Reported.UNKNOWN, link_up=True, online=False),
    ],
)
def test_the_plug_coming_back_resumes_by_itself_after_the_minimum_off_time(fault: ActuatorReport) -> None:
    """While the plug was away the probe kept watching the pot: nothing to latch."""
    back = ActuatorReport(10.0, Reported.OFF, link_up=True, online=True)
    state, outputs = feed([fault, back, ProbeLevel(20.0, f_to_c(180.0))], PARAMS, heating())
    assert last_decision(outputs).reason is Reason.MIN_OFF_TIME  # off at 5 s: 30 s of rest first
    _, outputs = feed([ProbeLevel(35.0, f_to_c(180.0))], PARAMS, state)
    assert last_decision(outputs).on


def test_a_new_cook_clears_a_latch_but_a_new_step_does_not() -> None:
    lost = [ProbeHealthChanged(5.0, ProbeHealth.LOST), ProbeHealthChanged(6.0, ProbeHealth.OK), *levels(10.0, 50.0)]
    state, _ = feed(lost, PARAMS, heating())
    step2 = replace(HOLD, key="braise/1")
    _, outputs = feed([StepChanged(50.0, step2), ProbeLevel(51.0, f_to_c(180.0))], PARAMS, state)
    assert last_decision(outputs).latched
    new_cook = [StepChanged(50.0, None), StepChanged(51.0, step2), ProbeLevel(52.0, f_to_c(180.0))]
    _, outputs = feed(new_cook, PARAMS, state)
    assert last_decision(outputs).on


def test_handing_back_while_the_condition_holds_keeps_the_heat_off() -> None:
    state, _ = feed([ProbeHealthChanged(5.0, ProbeHealth.LOST)], PARAMS, heating())
    _, outputs = feed([Override(100.0, OverrideMode.AUTO), Override(101.0, OverrideMode.FORCE_ON)], PARAMS, state)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason) == (False, Reason.PROBE_LOST)


@pytest.mark.parametrize("name", ["max_on_s", "deadman_s", "stale_after_s", "mismatch_grace_s"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), float("nan")])
def test_a_safety_limit_cannot_be_configured_off(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        HeatParams(**{name: value})  # type: ignore[arg-type]
