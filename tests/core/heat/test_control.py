"""What each step kind asks of the heat, the relay's minimum times, the override, and the outputs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.core.heat.controller import HeatState, next_deadline, step
from service.core.heat.events import (
    ActuatorReport,
    Decision,
    HeatEvent,
    HeatStep,
    MismatchCleared,
    Override,
    OverrideMode,
    ProbeLevel,
    Reason,
    Reported,
    StateMismatch,
    StepChanged,
    StepKind,
    Tick,
    heat_step,
)
from service.core.heat.params import HeatParams, HoldLaw
from service.core.profile import BoilStep, HoldStep, ReachStep
from service.core.units import f_to_c
from tests.support.heat_events import BOIL, HOLD, REACH, feed, healthy, last_decision

P = HeatParams()


def decisions(outputs: list[object]) -> list[Decision]:
    return [o for o in outputs if isinstance(o, Decision)]


def at_level(f: float, at: float, rate_f_per_s: float = 0.0, *, anticipate: bool = True) -> ProbeLevel:
    return ProbeLevel(at, f_to_c(f), rate_f_per_s / 1.8, anticipate=anticipate)


# ---- hold: hysteresis ---------------------------------------------------------------------------------
# 185–205 °F, on below 185 + 0.35 × 20 = 192 °F, off above 195 °F


@pytest.mark.parametrize(
    ("level_f", "was_on", "on"),
    [(191.9, False, True), (195.1, True, False), (193.5, True, True), (193.5, False, False)],
    ids=["below the band: on", "above it: off", "inside, on: stays on", "inside, off: stays off"],
)
def test_hold_hysteresis(level_f: float, was_on: bool, on: bool) -> None:
    start = 180.0 if was_on else 200.0
    state, _ = feed(healthy(HOLD, start), P)
    assert state.on is was_on
    _, outputs = feed([at_level(level_f, 100.0)], P, state)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason) == (on, Reason.HOLDING)
    assert decision.words == "holding 185–205 °F"


def test_hold_acts_on_the_anticipated_level() -> None:
    """A probe 20 s behind a pot climbing 0.2 °F/s reads 4 °F low: off before the reading says so."""
    params = replace(P, lead_s=20.0)
    state, _ = feed(healthy(HOLD, 180.0), params)
    _, outputs = feed([at_level(192.0, 100.0, rate_f_per_s=0.2)], params, state)
    assert not last_decision(outputs).on
    _, outputs = feed([at_level(192.0, 100.0, rate_f_per_s=0.2)], P, state)
    assert last_decision(outputs).on  # without the lead it would not


def test_min_on_time_holds_the_relay_on() -> None:
    state, _ = feed(healthy(HOLD, 180.0), P)
    state, outputs = feed([at_level(200.0, 10.0)], P, state)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason, decision.words) == (
        True,
        Reason.MIN_ON_TIME,
        "waiting out the minimum on-time",
    )
    _, outputs = feed([at_level(200.0, 30.0)], P, state)
    assert not last_decision(outputs).on


def test_min_off_time_holds_the_relay_off() -> None:
    state, _ = feed(healthy(HOLD, 200.0), P)
    state, _ = feed([at_level(180.0, 1.0)], P, state)  # no switch has happened yet: on at once
    state, _ = feed([at_level(200.0, 40.0)], P, state)  # off at 40
    state, outputs = feed([at_level(180.0, 60.0)], P, state)
    assert last_decision(outputs).reason is Reason.MIN_OFF_TIME
    _, outputs = feed([at_level(180.0, 70.0)], P, state)
    assert last_decision(outputs).on


# ---- hold: PID with time-proportioning ------------------------------------------------------------------

PID = replace(P, hold_law=HoldLaw.PID, ki_per_c_s=0.0)  # proportional only: the figures are exact
MIDDLE_F = 195.0


def pid_on_seconds(level_f: float) -> float:
    """How long the first cycle's heat stays on, the level held at ``level_f``."""
    state, outputs = feed(healthy(HOLD, level_f), PID)
    on_s = 0.0
    for t in range(1, int(PID.cycle_s)):
        state, outputs = step(state, at_level(level_f, float(t)), PID)
        on_s += last_decision(list(outputs)).on
    return on_s


@pytest.mark.parametrize(
    ("below_f", "expected_s"),
    [(0.0, 0.0), (1.8 * 2.0, 0.3 * 240), (1.8 * 0.5, 0.0), (1.8 * 6.0, 239.0), (1.8 * 6.5, 239.0)],
    ids=["at the middle: off", "2 °C below: 30 %", "too short a pulse: skipped", "too short a rest: on", "saturated"],
)
def test_pid_time_proportioning(below_f: float, expected_s: float) -> None:
    assert pid_on_seconds(MIDDLE_F - below_f) == pytest.approx(expected_s, abs=1.0)


def test_pid_integral_raises_the_duty_under_a_steady_error() -> None:
    params = replace(PID, ki_per_c_s=0.15 / 900.0)
    state, _ = feed(healthy(HOLD, MIDDLE_F - 1.8), params)  # 1 °C low: P alone gives 15 %: skipped
    for t in range(1, 2000):
        state, _ = step(state, at_level(MIDDLE_F - 1.8, float(t)), params)
    assert state.law.integral > 0.15
    assert state.law.cycle_on_s >= params.min_on_s


# ---- reach --------------------------------------------------------------------------------------------


def test_reach_heats_then_stops_at_the_target_and_stays_off() -> None:
    state, outputs = feed(healthy(REACH, 200.0), P)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason, decision.words) == (
        True,
        Reason.HEATING_TO_TARGET,
        "heating to target (225 °F)",
    )
    state, outputs = feed([at_level(224.9, 60.0)], P, state)
    assert last_decision(outputs).on
    state, outputs = feed([at_level(225.0, 61.0)], P, state)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason) == (False, Reason.TARGET_REACHED)
    _, outputs = feed([at_level(t, 100.0 + t) for t in (210.0, 200.0, 180.0)], P, state)
    assert all(not d.on and d.reason is Reason.TARGET_REACHED for d in decisions(list(outputs)))


def test_reach_carryover_stops_it_earlier() -> None:
    params = replace(P, carryover_c=2.0 / 1.8)
    state, _ = feed(healthy(REACH, 200.0), params)
    _, outputs = feed([at_level(222.9, 60.0), at_level(223.0, 61.0)], params, state)
    assert [d.on for d in decisions(list(outputs))] == [True, False]


def test_reach_anticipates_by_the_lead_but_never_more_than_its_cap() -> None:
    params = replace(P, lead_s=10.0)
    state, _ = feed(healthy(REACH, 200.0), params)
    _, outputs = feed([at_level(223.0, 60.0, rate_f_per_s=0.25)], params, state)
    assert not last_decision(outputs).on  # 223 + 2.5 °F
    # heading for the boil at 2 °F/s: a rate that will stall at 212 °F must not end the caramel
    _, outputs = feed([at_level(205.0, 60.0, rate_f_per_s=2.0)], params, state)
    assert last_decision(outputs).on


@pytest.mark.parametrize(
    ("level_f", "anticipate", "on"),
    [
        (212.0, True, False),  # 212 + 20 s × 1 °F/s, within the raised cap: off for good
        (212.0, False, True),  # the syrup is not past its boil's knee yet: that rate is the heat-up's
        (225.0, False, False),  # the level itself at the target: off, knee or not
    ],
)
def test_reach_anticipates_only_once_the_tracker_is_past_the_boils_knee(
    level_f: float, anticipate: bool, on: bool
) -> None:
    """A cap wide enough for a hotplate no longer guards the knee: the tracker's word does."""
    params = replace(P, lead_s=20.0, max_lead_c=30.0 / 1.8)
    state, _ = feed(healthy(REACH, 200.0), params)
    _, outputs = feed([at_level(level_f, 60.0, rate_f_per_s=1.0, anticipate=anticipate)], params, state)
    assert last_decision(outputs).on is on


def test_the_next_step_may_heat_again() -> None:
    state, _ = feed([*healthy(REACH, 200.0), at_level(226.0, 60.0)], P, None)
    nxt = HeatStep("caramel/2", StepKind.REACH, target_c=f_to_c(240.0))
    later = [at_level(220.0, 75.0), at_level(220.0, 89.0), StepChanged(95.0, nxt), at_level(224.0, 96.0)]
    _, outputs = feed(later, P, state)
    assert last_decision(outputs).on


# ---- boil, heat = "off", override -------------------------------------------------------------------


def test_boil_is_steady_on() -> None:
    _, outputs = feed([*healthy(BOIL, 150.0), *(at_level(212.0, float(t)) for t in range(1, 600, 7))], P)
    heat = decisions(outputs)[2:]  # before: the plug heard, then no step, then no reading
    assert all(d.on and d.reason is Reason.BOILING for d in heat)
    assert len(heat) == 87


def test_a_step_with_heat_off_is_commanded_off() -> None:
    hands_off = replace(HOLD, key="rest/1", heat_off=True)
    state, outputs = feed([*healthy(hands_off, 150.0)], P)
    decision = last_decision(outputs)
    assert (decision.on, decision.reason, decision.words) == (
        False,
        Reason.STEP_HEAT_OFF,
        "this step keeps the heat off",
    )
    state, _ = feed(healthy(HOLD, 150.0), P)
    _, outputs = feed([StepChanged(40.0, hands_off), at_level(150.0, 41.0)], P, state)
    assert not last_decision(outputs).on


def test_override_on_off_and_back() -> None:
    state, _ = feed(healthy(HOLD, 200.0), P)  # the hold wants it off
    state, outputs = feed([Override(1.0, OverrideMode.FORCE_ON)], P, state)
    assert (last_decision(outputs).on, last_decision(outputs).reason) == (True, Reason.OVERRIDE_ON)
    state, outputs = feed([Override(2.0, OverrideMode.FORCE_OFF)], P, state)  # inside min-on: off anyway
    assert (last_decision(outputs).on, last_decision(outputs).reason) == (False, Reason.OVERRIDE_OFF)
    state, outputs = feed([at_level(180.0, 3.0)], P, state)
    assert not last_decision(outputs).on  # forced off stays off whatever the hold wants
    _, outputs = feed(
        [at_level(180.0, 15.0), at_level(180.0, 30.0), Override(40.0, OverrideMode.AUTO), at_level(180.0, 40.0)],
        P,
        state,
    )
    assert (last_decision(outputs).on, last_decision(outputs).reason) == (True, Reason.HOLDING)


# ---- outputs: duty, dead-man, mismatch --------------------------------------------------------------


def test_duty_cycle_over_its_window() -> None:
    params = replace(P, duty_window_s=120.0, min_on_s=0.0, min_off_s=0.0)
    events: list[HeatEvent] = [*healthy(HOLD, 180.0)]
    events += [at_level(200.0 if (t // 30) % 2 else 180.0, float(t)) for t in range(1, 400)]
    _, outputs = feed(events, params)
    # on 30 s, off 30 s, from t = 0: half of every full window
    assert last_decision(outputs).duty == pytest.approx(0.5, abs=0.02)
    _, outputs = feed(healthy(HOLD, 200.0), params)
    assert last_decision(outputs).duty == 0.0


def test_deadman_is_armed_while_on_and_shrinks_to_the_max_on_time() -> None:
    params = replace(P, max_on_s=100.0, deadman_s=60.0)
    state, outputs = feed(healthy(BOIL, 150.0), params)
    assert last_decision(outputs).deadman_s == 60.0
    _, outputs = feed([at_level(200.0, 70.0)], params, state)
    assert last_decision(outputs).deadman_s == pytest.approx(30.0)
    _, outputs = feed(healthy(HOLD, 200.0), params)
    assert last_decision(outputs).deadman_s is None


def report(at: float, reported: Reported) -> ActuatorReport:
    return ActuatorReport(at, reported, link_up=True, online=True)


def test_a_plug_that_does_not_obey_is_a_critical_alert_once_and_cleared_when_it_does() -> None:
    state, _ = feed(healthy(HOLD, 200.0), P)  # commanded off
    state, outputs = feed([report(1.0, Reported.ON), at_level(200.0, 10.9)], P, state)
    assert not [o for o in outputs if isinstance(o, StateMismatch)]  # within the grace
    state, outputs = feed([at_level(200.0, 11.0), at_level(200.0, 12.0)], P, state)
    alerts = [o for o in outputs if isinstance(o, StateMismatch)]
    assert alerts == [StateMismatch(11.0, commanded_on=False, reported=Reported.ON, for_s=10.0)]
    assert alerts[0].level == "critical"
    state, outputs = feed([report(13.0, Reported.OFF), Tick(22.9)], P, state)
    assert not [o for o in outputs if isinstance(o, MismatchCleared)]  # agreeing, but not yet for the grace
    assert next_deadline(state, P) == 23.0
    _, outputs = feed([Tick(23.0)], P, state)
    assert [o for o in outputs if isinstance(o, MismatchCleared)] == [MismatchCleared(23.0)]


def test_an_agreement_shorter_than_the_grace_does_not_end_the_alert() -> None:
    """A lying plug's stale answer lands just after a new command: agreeing for a moment is not agreeing."""
    state, _ = feed(healthy(HOLD, 200.0), P)  # commanded off
    state, outputs = feed([report(1.0, Reported.ON), at_level(200.0, 12.0)], P, state)
    assert [o for o in outputs if isinstance(o, StateMismatch)]
    events = [report(13.0, Reported.OFF), report(13.5, Reported.ON), Tick(30.0), report(31.0, Reported.OFF)]
    state, outputs = feed(events, P, state)
    assert not [o for o in outputs if isinstance(o, StateMismatch | MismatchCleared)]
    state, outputs = feed([Tick(40.9)], P, state)  # the grace counts from 31, the last agreement's start
    assert not [o for o in outputs if isinstance(o, MismatchCleared)]
    _, outputs = feed([Tick(41.0)], P, state)
    assert [o for o in outputs if isinstance(o, MismatchCleared)] == [MismatchCleared(41.0)]


def test_a_plug_that_does_not_turn_on_is_a_mismatch_too() -> None:
    state, _ = feed(healthy(HOLD, 180.0), P)  # commanded on, the plug still says off
    _, outputs = feed([report(t, Reported.OFF) for t in (5.0, 10.0)], P, state)
    assert [o.commanded_on for o in outputs if isinstance(o, StateMismatch)] == [True]


def test_a_new_command_restarts_the_grace() -> None:
    state, _ = feed(healthy(HOLD, 180.0), P)
    state, _ = feed([report(5.0, Reported.OFF), at_level(200.0, 30.0)], P, state)  # off at 30: now it agrees
    _, outputs = feed([report(35.0, Reported.ON), at_level(200.0, 39.0)], P, state)
    assert not [o for o in outputs if isinstance(o, StateMismatch)]


def test_a_stuck_relay_that_agrees_with_a_new_command_by_chance_stays_one_alert() -> None:
    """Commanded off, the plug stuck on: alerted. The hold then wants heat: the plug's old "on" is no answer to
    the ON, so nothing is cleared; when the hold wants it off again, no second alert. Only an answer after the
    ON, saying on, clears it."""
    state, _ = feed(healthy(HOLD, 200.0), P)  # commanded off
    state, outputs = feed([report(1.0, Reported.ON), at_level(200.0, 12.0)], P, state)
    assert [type(o) for o in outputs if isinstance(o, StateMismatch | MismatchCleared)] == [StateMismatch]
    state, outputs = feed([at_level(180.0, 20.0), at_level(180.0, 25.0)], P, state)  # on at 20
    assert state.on and not [o for o in outputs if isinstance(o, StateMismatch | MismatchCleared)]
    state, outputs = feed([at_level(200.0, 60.0), at_level(200.0, 90.0)], P, state)  # off again, past the grace
    assert not state.on and not [o for o in outputs if isinstance(o, StateMismatch | MismatchCleared)]
    state, _ = feed([at_level(180.0, 130.0)], P, state)  # on again
    _, outputs = feed([report(131.0, Reported.ON), Tick(141.0)], P, state)
    assert [o for o in outputs if isinstance(o, MismatchCleared)] == [MismatchCleared(141.0)]


def test_no_mismatch_is_judged_with_the_link_down() -> None:
    state, _ = feed(healthy(HOLD, 200.0), P)
    _, outputs = feed([ActuatorReport(t, Reported.ON, link_up=False, online=True) for t in (1.0, 20.0, 40.0)], P, state)
    assert not [o for o in outputs if isinstance(o, StateMismatch)]


# ---- bad input, params, building steps ----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [Tick(-1.0), ProbeLevel(5.0, float("nan")), ProbeLevel(5.0, 80.0, float("inf")), Tick(float("nan"))],
    ids=["time going back", "a level that is no number", "a rate that is no number", "a time that is no number"],
)
def test_bad_events_are_counted_and_dropped(bad: HeatEvent) -> None:
    state, _ = feed(healthy(HOLD, 180.0), P)
    after, outputs = step(state, bad, P)
    assert outputs == ()
    assert after == replace(state, dropped=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_on_s": -1.0}, "min_on_s"),
        ({"on_below": 0.6}, "on_below"),
        ({"max_on_s": 20.0}, "max_on_s"),
        ({"cycle_s": 50.0}, "cycle_s"),
        ({"lead_s": float("nan")}, "lead_s"),
    ],
)
def test_params_are_checked(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HeatParams(**kwargs)  # type: ignore[arg-type]


def test_steps_are_checked() -> None:
    with pytest.raises(ValueError, match="low_c < high_c"):
        HeatStep("x", StepKind.HOLD, low_c=90.0, high_c=85.0)
    with pytest.raises(ValueError, match="target_c"):
        HeatStep("x", StepKind.REACH)


def test_heat_step_from_profile_steps_and_their_default_maxima() -> None:
    hold = heat_step(HoldStep("braise", f_to_c(185.0), f_to_c(205.0), 7200.0), "c/0", offset_c=1.0)
    assert (hold.low_c, hold.high_c) == (pytest.approx(f_to_c(185.0) + 1.0), pytest.approx(f_to_c(205.0) + 1.0))
    assert hold.default_max_c == pytest.approx(f_to_c(215.0) + 1.0)
    reach = heat_step(ReachStep("caramel", f_to_c(225.0)), "c/1", heat_off=True)
    assert (reach.target_c, reach.heat_off) == (pytest.approx(f_to_c(225.0)), True)
    assert reach.default_max_c == pytest.approx(f_to_c(230.0))
    assert heat_step(BoilStep("water"), "c/2").default_max_c == pytest.approx(f_to_c(222.0))


def test_next_deadline_is_when_a_tick_would_change_things() -> None:
    state, _ = feed(healthy(HOLD, 180.0), P)  # on at 0, the plug still says off
    assert next_deadline(state, P) == 10.0  # the mismatch's grace ends first
    state, _ = feed([report(1.0, Reported.ON)], P, state)
    assert next_deadline(state, P) == 15.0  # then the probe would go stale
    state, _ = feed([at_level(180.0, 14.0)], P, state)
    assert next_deadline(state, P) == 29.0
    assert next_deadline(HeatState(), P) is None


def test_a_plug_silent_across_a_new_command_gets_the_grace_again() -> None:
    """Unknown since 0 while off; on at 8 s: the plug gets its 10 s to answer the new command."""
    state, _ = feed(healthy(HOLD, 200.0, reported=Reported.UNKNOWN), P)
    state, outputs = feed([at_level(180.0, 8.0), at_level(180.0, 12.0)], P, state)
    assert last_decision(outputs).on
    assert not [o for o in outputs if isinstance(o, StateMismatch)]
    _, outputs = feed([at_level(180.0, 18.0)], P, state)
    assert [o.for_s for o in outputs if isinstance(o, StateMismatch)] == [10.0]
