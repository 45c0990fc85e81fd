"""The braise: time counts only inside the window; too hot / too cold after a grace."""

from __future__ import annotations

from service.core.profile import HoldStep, Profile, ReachStep
from service.core.steps.hold import HoldMachine
from service.core.units import f_to_c
from tests.core.traces import Trace, run

BRAISE = HoldStep("braise", f_to_c(185.0), f_to_c(205.0), duration_s=600.0, grace_s=60.0)
RILLONS = Profile("rillons", "rillons", (BRAISE, ReachStep("caramel", f_to_c(225.0))))


def flat(value: float, start: float, seconds: int) -> Trace:
    return [(start + i, value) for i in range(seconds)]


def hold_of(result: object) -> HoldMachine:
    kitchen = result.kitchen  # type: ignore[attr-defined]
    machine = kitchen.cooks["c1"].machine
    assert isinstance(machine, HoldMachine)
    return machine


def test_enters_window_and_counts_time_inside_only() -> None:
    trace = flat(150.0, 0, 100) + flat(195.0, 100, 200) + flat(215.0, 300, 30) + flat(195.0, 330, 100)
    result = run(trace, Profile("braise", "b", (BRAISE,)))
    assert len(result.alerts("hold_reached")) == 1
    machine = hold_of(result)
    # ~199 s + ~99 s inside; the 30 s excursion and the edges are not counted
    assert 290.0 <= machine.elapsed_s <= 300.0
    assert result.alerts("hold_too_hot") == []  # 30 s is inside the grace


def test_too_hot_after_grace_then_back() -> None:
    # the pot climbs 0.5 °F/s from 195 °F and leaves the window (205 °F) at t=120
    climb = [(100.0 + i, min(195.0 + 0.5 * i, 215.0)) for i in range(120)]
    trace = flat(195.0, 0, 100) + climb + flat(195.0, 220, 50)
    result = run(trace, Profile("braise", "b", (BRAISE,)))
    hot = result.alerts("hold_too_hot")
    assert len(hot) == 1
    # 60 s after leaving the window; the level takes a few seconds to follow a sudden change of slope
    assert 180.0 <= hot[0].at <= 185.0
    assert result.stages()[-1] == "holding"
    assert not hot[0].alert.active  # back inside: the warning is over


def test_too_cold_fires_on_a_tick_even_when_readings_are_sparse() -> None:
    # every 10 s: 195 °F, then cooling 6 °F/min; first reading under 185 °F at t=210; then silence
    trace = [(float(t), 195.0) for t in range(0, 100, 10)]
    trace += [(float(t), 195.0 - 0.1 * (t - 100)) for t in range(100, 260, 10)]
    trace += [(600.0, 170.0)]
    result = run(trace, Profile("braise", "b", (BRAISE,)), stale_after=900.0)
    cold = result.alerts("hold_too_cold")
    assert len(cold) == 1
    assert cold[0].at == 270.0  # 60 s after the first reading outside: on a tick, between readings


def test_done_then_the_next_step_starts() -> None:
    trace = flat(195.0, 0, 700)
    result = run(trace, RILLONS)
    done = result.alerts("hold_done")
    assert len(done) == 1
    assert 600.0 <= done[0].at <= 603.0
    cook = result.kitchen.cooks["c1"]
    assert cook.step.name == "caramel"


def test_a_gap_longer_than_the_stale_timeout_is_not_counted() -> None:
    trace = flat(195.0, 0, 100) + flat(195.0, 400, 100)
    result = run(trace, Profile("braise", "b", (BRAISE,)))
    machine = hold_of(result)
    assert machine.elapsed_s < 200.0
    assert len(result.alerts("probe_lost")) == 1
