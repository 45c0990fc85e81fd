"""The track across an outage: what was read before a silence is not carried on through it."""

from __future__ import annotations

import pytest

from service.core.filters import Track
from service.core.units import f_to_c


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
