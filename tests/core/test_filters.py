"""The track across an outage and a knee: what was read is not carried on past what is read now."""

from __future__ import annotations

import random

import pytest

from service.core.filters import Track
from service.core.units import c_to_f, f_to_c
from tests.core.traces import Trace, lagged


def climbing_track() -> tuple[Track, float]:
    """A syrup read every 0.5 s, climbing 0.4 °F/s to 224.3 °F; the time of its last sample."""
    track = Track()
    for i in range(15):
        track.feed(i * 0.5, f_to_c(221.5 + 0.2 * i))
    return track, 14 * 0.5


def test_after_a_gap_longer_than_the_stale_timeout_the_level_is_what_was_read() -> None:
    track, last = climbing_track()
    # silent 9.5 s with a 3 s stale timeout: the old climb carried on would be at 228 °F
    assert track.feed(last + 9.5, f_to_c(223.8), max_gap_s=3.0)
    assert track.level == pytest.approx(f_to_c(223.8), abs=1e-9)


def test_a_gap_shorter_than_the_stale_timeout_still_carries_the_climb_on() -> None:
    track, last = climbing_track()
    # a slow gateway's next report: the median moved to now does not lag the climbing pot
    assert track.feed(last + 2.0, f_to_c(225.1), max_gap_s=10.0)
    assert track.level is not None and track.level > f_to_c(224.3)


def fast_climb() -> tuple[Track, float]:
    """A caramel read at 1 Hz, climbing 1 °F/s to 222 °F; the time of its last sample."""
    track = Track()
    for i in range(30):
        track.feed(float(i), f_to_c(193.0 + i))
    return track, 29.0


def test_a_first_reading_back_past_the_target_is_taken_at_once_after_a_fast_climb() -> None:
    """Unplugged 20 s on a 1 °F/s climb: the first reading back (230 °F) is the level, not a suspect."""
    track, last = fast_climb()
    assert track.feed(last + 20.0, f_to_c(230.0), max_gap_s=10.0)
    assert track.level == pytest.approx(f_to_c(230.0), abs=1e-9)


def test_a_pot_taken_off_the_heat_during_the_gap_is_taken_at_once() -> None:
    track, last = fast_climb()
    assert track.feed(last + 20.0, f_to_c(221.5), max_gap_s=10.0)
    assert track.level == pytest.approx(f_to_c(221.5), abs=1e-9)


def test_after_an_outage_the_old_rate_no_longer_moves_the_level_past_what_is_read() -> None:
    track, last = fast_climb()
    assert track.feed(last + 20.0, f_to_c(226.0), max_gap_s=10.0)
    for i in range(1, 4):
        track.feed(last + 20.0 + i, f_to_c(226.0), max_gap_s=10.0)
    assert track.level is not None and track.level <= f_to_c(226.0) + 1e-9


def knee(heat_f_per_min: float, tau_s: float, interval_s: float) -> tuple[list[tuple[float, float]], float]:
    """A probe of time constant ``tau_s``, read every ``interval_s``, in a pot heated at ``heat_f_per_min``
    that stops dead on its boil at 221.5 °F; the probe's readings and the pot's highest temperature."""
    truth: Trace = []
    t = 0.0
    while t < 120.0:
        truth.append((t, min(150.0 + heat_f_per_min * t / 60.0, 221.5)))
        t += interval_s
    return [(t, f) for t, f in lagged(truth, tau_s) if f is not None], 221.5


# The level is a median of the last samples moved forward by the smoothed rate. That rate lags a
# knee by seconds, and the median, a few samples old, carried on by it ran 1.3-7.3 °F past anything
# the pot ever reached (the rows below but the last): the caramel's alarm rang 3.5 °F short. The level may run ahead
# of the newest readings only by their own noise (and the curvature between three of them), so never
# past the pot by the 1 °F short of its target that the alarm may never ring at.
@pytest.mark.parametrize(
    ("heat", "tau", "interval"),
    [
        (135.0, 4.0, 1.0),
        (135.0, 8.0, 1.0),
        (90.0, 4.0, 1.0),
        (135.0, 4.0, 2.0),
        (60.0, 2.0, 0.5),
        (40.0, 4.0, 1.0),
        (135.0, 1.0, 1.0),
    ],
)
def test_the_level_never_runs_past_a_knee_the_readings_do_not_show(heat: float, tau: float, interval: float) -> None:
    readings, pot_top = knee(heat, tau, interval)
    track = Track()
    worst = -float("inf")
    for t, f in readings:
        track.feed(t, f_to_c(f))
        assert track.level is not None
        worst = max(worst, c_to_f(track.level) - pot_top)
    assert worst <= 1.0, f"the level ran {worst:+.2f} °F past the pot's boil"


# ... but where the readings are noisy, the newest one low is no knee: on a steady noisy climb the
# level still carries the climb on (it is not pulled down to the newest reading), and noise within
# the ceiling leaves the median as it was.
@pytest.mark.parametrize(("rate", "noise"), [(5.0, 0.3), (20.0, 0.5), (60.0, 1.0), (2.0, 0.1)])
def test_on_a_steady_noisy_climb_the_level_is_not_held_down(rate: float, noise: float) -> None:
    rng = random.Random(int(rate * 10 + noise * 100))
    track = Track()
    errors: list[float] = []
    for i in range(600):
        t = float(i)
        pot = 150.0 + rate * t / 60.0
        track.feed(t, f_to_c(pot + rng.gauss(0.0, noise)))
        if i >= 60:
            assert track.level is not None
            errors.append(c_to_f(track.level) - pot)
    bias = sum(errors) / len(errors)
    assert abs(bias) <= 0.15 * noise + 0.02, f"the level is {bias:+.3f} °F off a steady climb"
