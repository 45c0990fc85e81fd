"""The braise: time counts only inside the window; too hot / too cold after a grace."""

from __future__ import annotations

from service.core.profile import HoldStep, Profile, ReachStep
from service.core.steps.hold import HoldMachine
from service.core.units import f_to_c
from tests.core.traces import Trace, lagged, run

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


def at_10_hz(value: float, start: float, seconds: float) -> Trace:
    return [(start + i / 10.0, value) for i in range(int(seconds * 10))]


def test_an_impossible_jump_is_a_fault_not_a_cold_pot() -> None:
    """195 °F → 5 °F in 0.1 s: no probe moves so (a wrong baud, a shorted thermocouple)."""
    trace = at_10_hz(195.0, 0, 100) + at_10_hz(5.0, 100, 75) + at_10_hz(195.0, 175, 30)
    result = run(trace, Profile("braise", "b", (BRAISE,)))
    assert result.alerts("hold_too_cold") == []
    fault = result.alerts("probe_fault")
    assert len(fault) == 1 and abs(fault[0].at - 100.1) < 1e-6
    assert "impossible jump: 195.0 °F → 5.0 °F in 0.10 s" in fault[0].alert.message
    assert "too_cold" not in result.stages()
    assert result.first_alert_at("probe_restored") == 175.0
    machine = hold_of(result)
    # the timer kept what it had and counted on after; the 75 s nobody could measure are not in it
    assert 125.0 <= machine.elapsed_s <= 130.0
    assert result.kitchen.tracks[("pot", "")].reseeds == 1  # never a track at 5 °F


def test_a_lone_impossible_sample_is_a_glitch() -> None:
    trace = at_10_hz(195.0, 0, 100)
    trace[500] = (trace[500][0], 5.0)
    result = run(trace, Profile("braise", "b", (BRAISE,)))
    assert result.alerts("probe_fault") == [] and result.alerts("hold_too_cold") == []


def test_a_probe_moved_to_a_cold_pot_or_the_counter_still_leaves_the_window() -> None:
    """A real move is a lag curve, however fast the probe: followed as before, never a fault."""
    for tau, air_f in ((0.5, 40.0), (20.0, 70.0)):  # a fine thermocouple into iced water; a probe into the air
        truth = at_10_hz(195.0, 0, 100) + at_10_hz(air_f, 100, 200)
        result = run(lagged(truth, tau), Profile("braise", "b", (BRAISE,)), lag_s=tau)
        assert result.alerts("probe_fault") == [], tau
        assert len(result.alerts("hold_too_cold")) == 1, tau
        assert result.kitchen.tracks[("pot", "")].reseeds >= 2, tau
    # and at 1 Hz, where even a step is possible for a fast probe
    result = run(flat(195.0, 0, 100) + flat(40.0, 100, 100), Profile("braise", "b", (BRAISE,)))
    assert result.alerts("probe_fault") == [] and len(result.alerts("hold_too_cold")) == 1
