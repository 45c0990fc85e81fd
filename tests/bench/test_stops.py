"""The stopped-short benchmark's own logic: its pots stop where it says, and its alarm counter can see an alarm."""

from __future__ import annotations

from bench import stops


def test_a_drawn_pot_is_reproducible_and_stops_short_as_described() -> None:
    stop, trace = stops.draw(7)
    again, same = stops.draw(7)
    assert (stop, trace) == (again, same)
    assert 1.2 <= stop.short_f <= 6.0
    tail = [f for _, f in trace[-20:] if -40.0 < f < 300.0]  # the probe has caught up with the stopped pot
    assert max(tail) <= stops.TARGET_F - stop.short_f + stop.noise_f + 0.1


def test_a_first_order_probe_trails_a_ramp_by_rate_times_tau() -> None:
    truth = [(float(t), 200.0 + 0.1 * t) for t in range(200)]
    probe = stops.lagged(truth, 10.0)
    assert abs((truth[-1][1] - probe[-1][1]) - 0.1 * 10.0) < 1e-3


def test_the_counter_sees_a_pot_that_does_reach_the_target() -> None:
    climb = [(float(t), 215.0 + 6.0 * t / 60.0) for t in range(240)]  # past 225 °F at 100 s
    assert stops.rang(stops.lagged(climb, 5.0), 5.0)
    assert not stops.rang(stops.lagged([(t, min(f, 222.0)) for t, f in climb], 5.0), 5.0)
