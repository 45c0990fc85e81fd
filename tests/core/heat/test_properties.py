"""Under any interleaving of readings, faults, ticks, step changes and commands: never on while unsafe.

The oracle below is written from the issue's list, not from the gate's code: it
tracks what it fed in and what came out, and judges every decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import event as note
from hypothesis import given, settings, target
from hypothesis import strategies as st

from service.core.heat.controller import HeatState, step
from service.core.heat.events import (
    FORCED_OFF,
    ActuatorReport,
    Decision,
    HeatEvent,
    HeatStep,
    MismatchCleared,
    Override,
    OverrideMode,
    ProbeHealth,
    ProbeHealthChanged,
    ProbeLevel,
    Reported,
    StateMismatch,
    StepChanged,
    StepKind,
    Tick,
)
from service.core.heat.params import HeatParams, HoldLaw
from service.core.units import f_to_c

STEPS = [
    HeatStep("a/hold", StepKind.HOLD, low_c=f_to_c(185.0), high_c=f_to_c(205.0)),
    HeatStep("a/reach", StepKind.REACH, target_c=f_to_c(225.0), max_c=f_to_c(230.0)),
    HeatStep("a/boil", StepKind.BOIL),
    HeatStep("b/hold-off", StepKind.HOLD, low_c=f_to_c(140.0), high_c=f_to_c(150.0), heat_off=True),
    HeatStep("b/reach", StepKind.REACH, target_c=f_to_c(160.0)),
]


def oracle_max_c(s: HeatStep, params: HeatParams) -> float:
    """The issue's defaults: the step's overshoot (a reach: +5 °F unless given), hold top + 10 °F."""
    if s.kind is StepKind.HOLD:
        assert s.high_c is not None
        own = f_to_c(205.0 + 10.0) if s.key == "a/hold" else f_to_c(150.0 + 10.0)
    elif s.kind is StepKind.REACH:
        assert s.target_c is not None
        own = s.max_c if s.max_c is not None else s.target_c + 5.0 / 1.8
    else:
        own = f_to_c(222.0)
    return own if params.max_c is None else min(own, params.max_c)


PAYLOADS: dict[str, st.SearchStrategy[object]] = {
    "level": st.tuples(st.floats(60.0, 260.0), st.floats(-1.0, 1.0)),
    "health": st.sampled_from(list(ProbeHealth)),
    "health_ok": st.just(ProbeHealth.OK),
    "plug": st.tuples(st.sampled_from(list(Reported)), st.booleans(), st.booleans()),
    "plug_ok": st.tuples(st.sampled_from([Reported.ON, Reported.OFF]), st.just(True), st.just(True)),
    "step": st.sampled_from([None, *STEPS]),
    "override": st.sampled_from(list(OverrideMode)),
    "tick": st.none(),
}
# Mostly a healthy kitchen, so that the heat is on often and faults strike while it is.
KINDS = ["level"] * 8 + ["tick"] * 3 + ["plug_ok"] * 2 + ["health_ok", "plug", "health", "step", "override"]


def events() -> st.SearchStrategy[tuple[float, str, object]]:
    gap = st.one_of(st.floats(0.0, 3.0), st.floats(0.0, 45.0))
    return st.sampled_from(KINDS).flatmap(
        lambda kind: st.tuples(gap, st.just(kind.removesuffix("_ok")), PAYLOADS[kind])
    )


def preamble(step_: HeatStep, level_f: float) -> list[tuple[float, str, object]]:
    return [(0.0, "plug", (Reported.OFF, True, True)), (0.0, "step", step_), (0.0, "level", (level_f, 0.0))]


PARAMS = st.builds(
    HeatParams,
    min_on_s=st.sampled_from([0.0, 5.0, 30.0, 60.0]),
    min_off_s=st.sampled_from([0.0, 5.0, 30.0, 60.0]),
    max_on_s=st.sampled_from([61.0, 200.0, 5400.0]),
    stale_after_s=st.sampled_from([2.0, 15.0, 60.0]),
    max_c=st.sampled_from([None, f_to_c(200.0)]),
    lead_s=st.sampled_from([0.0, 10.0, 25.0]),
    hold_law=st.sampled_from(list(HoldLaw)),
    cycle_s=st.just(240.0),
)


def build(at: float, kind: str, payload: object) -> HeatEvent:
    if kind == "level":
        assert isinstance(payload, tuple)
        return ProbeLevel(at, f_to_c(payload[0]), payload[1] / 1.8)
    if kind == "health":
        assert isinstance(payload, ProbeHealth)
        return ProbeHealthChanged(at, payload)
    if kind == "plug":
        assert isinstance(payload, tuple)
        return ActuatorReport(at, payload[0], link_up=payload[1], online=payload[2])
    if kind == "step":
        assert payload is None or isinstance(payload, HeatStep)
        return StepChanged(at, payload)
    if kind == "override":
        assert isinstance(payload, OverrideMode)
        return Override(at, payload)
    return Tick(at)


@dataclass
class Seen:
    """What the oracle fed in."""

    step: HeatStep | None = None
    level_c: float | None = None
    level_at: float | None = None
    health: ProbeHealth = ProbeHealth.OK
    link_up: bool = False
    online: bool = False

    def take(self, e: HeatEvent) -> None:
        if isinstance(e, ProbeLevel):
            self.level_c, self.level_at = e.level_c, e.at
        elif isinstance(e, ProbeHealthChanged):
            self.health = e.health
        elif isinstance(e, ActuatorReport):
            self.link_up, self.online = e.link_up, e.online
        elif isinstance(e, StepChanged):
            self.step = e.step

    def unsafe(self, at: float, on_since: float | None, params: HeatParams) -> list[str]:
        found = []
        if self.step is None:
            found.append("no cook")
        if self.health is not ProbeHealth.OK:
            found.append(f"probe {self.health}")
        if self.level_at is None or at - self.level_at > params.stale_after_s:
            found.append("no fresh level")
        if not self.link_up:
            found.append("link down")
        if not self.online:
            found.append("offline")
        if (
            self.step is not None
            and self.level_c is not None
            and self.level_c >= oracle_max_c(self.step, params) - 1e-9
        ):
            found.append("too hot")
        if on_since is not None and at - on_since >= params.max_on_s:
            found.append("on too long")
        return found


@settings(max_examples=150, deadline=None)
@given(
    params=PARAMS,
    start=st.tuples(st.sampled_from(STEPS), st.floats(60.0, 240.0)),
    script=st.lists(events(), min_size=1, max_size=100),
)
def test_never_on_while_unsafe_and_the_relay_is_spared(
    params: HeatParams, start: tuple[HeatStep, float], script: list[tuple[float, str, object]]
) -> None:
    state = HeatState()
    seen = Seen()
    at = 0.0
    on = False
    switched_at: float | None = None
    on_since: float | None = None
    on_decisions = switches = 0
    for gap, kind, payload in [*preamble(*start), *script]:
        at += gap
        event = build(at, kind, payload)
        seen.take(event)
        unsafe = seen.unsafe(at, on_since if on else None, params)
        state, outputs = step(state, event, params)
        decision = next(o for o in outputs if isinstance(o, Decision))
        assert not (decision.on and unsafe), f"on at {at} while {unsafe}: {decision}"
        if decision.on != on:
            assert decision.changed
            if switched_at is not None:
                if on:  # switching off
                    assert at - switched_at >= params.min_on_s or decision.reason in FORCED_OFF, decision
                else:
                    assert at - switched_at >= params.min_off_s, decision
            on, switched_at = decision.on, at
            switches += 1
            on_since = at if on else None
        else:
            assert not decision.changed
        assert 0.0 <= decision.duty <= 1.0
        assert (decision.deadman_s is not None) == decision.on
        if decision.deadman_s is not None:
            assert 1.0 <= decision.deadman_s <= params.deadman_s
            assert on_since is not None
            assert at + decision.deadman_s <= on_since + max(params.max_on_s, at - on_since + 1.0) + 1e-9
        assert math.isfinite(decision.duty)
        on_decisions += decision.on
    # steer the search towards scripts that heat and switch: those are the ones that can go wrong
    target(float(on_decisions), label="decisions on")
    target(float(switches), label="switches")
    note("heated" if on_decisions else "never heated")


# A plug that may disagree: reports of either state, with the link and the device mostly up.
MISMATCH_KINDS = ["level"] * 4 + ["tick"] * 3 + ["plug_any"] * 4 + ["step", "override", "health"]
PAYLOADS["plug_any"] = st.tuples(
    st.sampled_from([Reported.ON, Reported.OFF, Reported.UNKNOWN]),
    st.sampled_from([True, True, True, False]),
    st.sampled_from([True, True, True, False]),
)


def plug_events() -> st.SearchStrategy[tuple[float, str, object]]:
    gap = st.one_of(st.floats(0.0, 3.0), st.floats(0.0, 30.0))
    return st.sampled_from(MISMATCH_KINDS).flatmap(
        lambda kind: st.tuples(gap, st.just("plug" if kind == "plug_any" else kind), PAYLOADS[kind])
    )


@settings(max_examples=1000, deadline=None)
@given(
    grace=st.sampled_from([1.0, 10.0]),
    start=st.tuples(st.sampled_from(STEPS), st.floats(60.0, 240.0)),
    script=st.lists(plug_events(), min_size=1, max_size=100),
)
def test_one_mismatch_alert_per_episode_raised_and_cleared_only_on_what_the_plug_said(
    grace: float, start: tuple[HeatStep, float], script: list[tuple[float, str, object]]
) -> None:
    """Alternating: raised, cleared, raised… never two raises in a row, never a clear without a raise; a raise
    only while the plug's last word disagrees with the command (link and device up), a clear only while it
    agrees; and a disagreement that outlasts the grace (with a report after the command) is raised."""
    params = HeatParams(mismatch_grace_s=grace, min_on_s=0.0, min_off_s=0.0)
    state = HeatState()
    at = 0.0
    alerted = False
    reported, up = Reported.UNKNOWN, False
    heard_after_switch = True
    disagree_since: float | None = None
    raised = 0
    for gap, kind, payload in [*preamble(*start), *script]:
        at += gap
        event = build(at, kind, payload)
        if isinstance(event, ActuatorReport):
            reported, up = event.reported, event.link_up and event.online
            heard_after_switch = True
        was_on = state.on
        state, outputs = step(state, event, params)
        if state.on != was_on:
            heard_after_switch = False
        expected = Reported.ON if state.on else Reported.OFF
        disagrees = up and reported is not expected and not (reported is Reported.UNKNOWN and not heard_after_switch)
        for out in outputs:
            if isinstance(out, StateMismatch):
                assert not alerted, f"a second alert at {at} with no clear between"
                assert up and reported is not expected, (at, reported, state.on)
                alerted = True
            elif isinstance(out, MismatchCleared):
                assert alerted, f"a clear at {at} with nothing raised"
                assert up and reported is expected and heard_after_switch, (at, reported, state.on)
                alerted = False
        if not disagrees or state.on != was_on:
            disagree_since = None if not disagrees else at
        elif disagree_since is None:
            disagree_since = at
        if disagree_since is not None and at - disagree_since > grace + 1e-9 and heard_after_switch:
            assert alerted, f"disagreeing since {disagree_since}, past the {grace} s grace, at {at}: no alert"
        raised += sum(isinstance(o, StateMismatch | MismatchCleared) for o in outputs)
    target(float(raised), label="mismatch raises and clears")  # towards scripts where the plug disagrees
