"""Latency figures as every latency bench prints them: nearest-rank percentiles and one summary line."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0.99 for p99) by nearest rank: a value that was measured, never interpolated."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values_ms: list[float]) -> str:
    """``p50 … ms   p99 … ms   max … ms   (n=…)`` for latencies in milliseconds."""
    return (
        f"p50 {pct(values_ms, 0.5):6.2f} ms   p99 {pct(values_ms, 0.99):6.2f} ms   "
        f"max {max(values_ms):6.2f} ms   (n={len(values_ms)})"
    )
