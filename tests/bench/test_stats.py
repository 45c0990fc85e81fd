"""The latency benches' percentiles: nearest rank, so every figure printed is one that was measured."""

from __future__ import annotations

import pytest

from bench.stats import pct, summary


def test_percentiles_are_measured_values_by_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 … 1, unsorted on purpose
    assert pct(values, 0.5) == 51.0  # rank round(0.5 × 99) = 50 (from 0) of 1 … 100
    assert pct(values, 0.99) == 99.0
    assert pct(values, 1.0) == 100.0 and pct(values, 0.0) == 1.0
    assert pct([7.5], 0.99) == 7.5


def test_no_values_is_an_error_not_a_figure() -> None:
    with pytest.raises(ValueError, match="no values"):
        pct([], 0.5)


def test_the_summary_line_names_each_figure() -> None:
    line = summary([1.0, 2.0, 3.0, 4.0, 250.0])
    assert line.startswith("p50   3.00 ms   p99 250.00 ms   max 250.00 ms") and line.endswith("(n=5)")
