"""When a reach step is over: the pot off the heat, the alarm acknowledged, or the cook's word."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.core.events import Acknowledge, AlertLevel, CookEnded, ProbeGone
from service.core.profile import Profile, ReachEnd, ReachStep
from tests.core.traces import CARAMEL, Run, Trace, run, syrup_curve

STEP = CARAMEL.steps[0]
assert isinstance(STEP, ReachStep)


def caramel(end: ReachEnd) -> Profile:
    return Profile("caramel", "caramel", (replace(STEP, end=end),))


def climb_then_cool(cool_to_f: float, *, rate_f_per_min: float = 15.0) -> Trace:
    """The syrup climbs past 225 °F, the cook takes it off 10 s later, it cools at ``rate``."""
    trace, t_cross = syrup_curve()
    climb = [(t, f) for t, f in trace if t <= t_cross + 10.0]
    t0, top = climb[-1]
    assert top is not None and top < 230.0
    cooling: Trace = []
    t, f = t0, top
    while f > cool_to_f:
        t += 1.0
        f -= rate_f_per_min / 60.0
        cooling.append((t, f))
    return climb + cooling


def ended(result: Run) -> list[CookEnded]:
    return [o for o in result.outputs if isinstance(o, CookEnded)]


def test_a_pot_off_the_heat_ends_the_cook_by_itself() -> None:
    result = run(climb_then_cool(200.0))
    assert result.first_alert_at("target_reached") is not None
    [end] = ended(result)
    assert end.outcome == "done"
    cook = next(iter(result.kitchen.cooks.values()))
    assert cook.ended_at == end.at
    assert result.alerts("target_overshoot") == []


def test_a_pot_a_few_degrees_under_the_target_is_not_yet_off_the_heat() -> None:
    # 3 °F under the target and falling: still inside the hysteresis, the step goes on
    result = run(climb_then_cool(222.0))
    assert result.first_alert_at("target_reached") is not None
    assert ended(result) == []


def test_it_ends_where_the_pot_is_clearly_below_the_target() -> None:
    trace = climb_then_cool(200.0)
    [end] = ended(run(trace))
    at_end = dict(trace)[end.at]
    assert at_end is not None and 215.0 <= at_end <= 220.5


@pytest.mark.parametrize("end", [ReachEnd.ACK, ReachEnd.MANUAL])
def test_other_ends_wait_for_the_cook(end: ReachEnd) -> None:
    assert ended(run(climb_then_cool(200.0), caramel(end))) == []


def test_end_ack_ends_on_the_alarms_acknowledgement() -> None:
    trace = climb_then_cool(222.0)
    result = run(trace, caramel(ReachEnd.ACK))
    [reached] = result.alerts("target_reached")
    outputs = result.kitchen.handle(Acknowledge(trace[-1][0] + 1.0, reached.alert.id))
    assert [o.outcome for o in outputs if isinstance(o, CookEnded)] == ["done"]


def test_end_cooled_is_not_ended_by_an_acknowledgement() -> None:
    trace = climb_then_cool(222.0)
    result = run(trace)
    outputs = result.kitchen.handle(Acknowledge(trace[-1][0] + 1.0, "all"))
    assert [o for o in outputs if isinstance(o, CookEnded)] == []


def lost_level(result: Run, at: float) -> AlertLevel:
    [lost] = [o for o in result.kitchen.handle(ProbeGone(at, "pot", "unplugged")) if hasattr(o, "alert")]
    return lost.alert.level  # type: ignore[attr-defined,no-any-return]


def test_probe_lost_at_the_target_is_critical() -> None:
    trace, t_cross = syrup_curve()
    result = run([(t, f) for t, f in trace if t <= t_cross + 5.0])
    assert result.first_alert_at("target_reached") is not None
    assert lost_level(result, t_cross + 6.0) is AlertLevel.CRITICAL


def test_probe_lost_while_the_pot_cools_after_the_target_is_a_warning() -> None:
    trace = climb_then_cool(222.0)
    result = run(trace)
    assert ended(result) == []
    assert lost_level(result, trace[-1][0] + 1.0) is AlertLevel.WARNING


def test_probe_lost_after_the_cook_ended_is_a_warning() -> None:
    trace = climb_then_cool(200.0)
    result = run(trace)
    assert ended(result)
    assert lost_level(result, trace[-1][0] + 1.0) is AlertLevel.WARNING


def test_the_view_says_what_ends_the_step_and_when_the_pot_is_cooling() -> None:
    trace, t_cross = syrup_curve()
    at_target = run([(t, f) for t, f in trace if t <= t_cross + 5.0])
    cooling = run(climb_then_cool(222.0), caramel(ReachEnd.ACK))
    for result, expected_end, expected_cooling in ((at_target, "cooled", False), (cooling, "ack", True)):
        kitchen = result.kitchen
        cook = next(iter(kitchen.cooks.values()))
        view = kitchen.cook_snapshot(cook, kitchen.now).progress
        assert (view.step_end, view.cooling) == (expected_end, expected_cooling)
