"""The one-pass least-squares line that the knee and the lag compensation read slopes from."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.lines import SlidingLines, fit_line


def test_a_straight_line_is_found_exactly_far_from_the_origin() -> None:
    points = [(1e6 + t, 100.0 + 0.25 * t) for t in range(20)]  # a day of uptime in: the origin moves
    got = fit_line(points)
    assert got is not None
    slope, sse, spread, n = got
    assert slope == pytest.approx(0.25, rel=1e-9)
    assert sse == pytest.approx(0.0, abs=1e-6)
    assert spread == pytest.approx(sum((t - 9.5) ** 2 for t in range(20)))
    assert n == 20


def test_noise_gives_the_textbook_slope_and_residuals() -> None:
    rng = random.Random(3)
    points = [(float(t), 2.0 * t + rng.gauss(0.0, 1.0)) for t in range(200)]
    got = fit_line(points)
    assert got is not None
    ts = [t for t, _ in points]
    vs = [v for _, v in points]
    tbar, vbar = sum(ts) / 200, sum(vs) / 200
    slope = sum((t - tbar) * (v - vbar) for t, v in points) / sum((t - tbar) ** 2 for t in ts)
    sse = sum((v - vbar - slope * (t - tbar)) ** 2 for t, v in points)
    assert got[0] == pytest.approx(slope, rel=1e-9)
    assert got[1] == pytest.approx(sse, rel=1e-6)


@pytest.mark.parametrize("points", [[], [(0.0, 1.0)], [(0.0, 1.0), (1.0, 2.0)], [(5.0, 1.0)] * 4])
def test_too_few_points_or_no_spread_in_time_is_no_line(points: list[tuple[float, float]]) -> None:
    assert fit_line(points) is None


@given(
    steps=st.lists(
        st.one_of(st.tuples(st.just("add"), st.floats(-5.0, 5.0)), st.just(("pop", 0.0))), min_size=1, max_size=300
    ),
)
@settings(max_examples=200, deadline=None)
def test_the_sliding_lines_are_the_lines_of_what_they_hold(steps: list[tuple[str, float]]) -> None:
    sliding = SlidingLines()
    held: list[tuple[float, float]] = []
    t = 1e5
    for op, value in steps:
        if op == "add":
            t += 1.0 + abs(value) / 5.0
            sliding.append(t, 100.0 + 3.0 * t / 60.0 + value)
            held.append((t, 100.0 + 3.0 * t / 60.0 + value))
        elif held:
            sliding.popleft()
            held.pop(0)
        for got, expected in ((sliding.whole(), fit_line(held)), (sliding.newer(), fit_line(held[len(held) // 2 :]))):
            assert (got is None) == (expected is None)
            if got is not None and expected is not None:
                assert got[0] == pytest.approx(expected[0], rel=1e-6, abs=1e-9)
                assert got[1] == pytest.approx(expected[1], rel=1e-4, abs=1e-6)
                assert got[3] == expected[3]
