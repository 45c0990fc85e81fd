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
