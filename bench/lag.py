"""Is the alarm about the syrup or about the lagging probe? A probe's lag, with and without ``lag``.

    .venv/bin/python -m bench.lag [--seeds 3] [--markdown]

A probe of time constant τ reads a climbing syrup r·τ behind it: a DS18B20 in
a steel sheath (τ ≈ 15 s) at 6 °F/min rings with the syrup 1.5 °F past 225 °F.
For τ = 1, 5, 15 and 25 s and final climbs of 3, 5 and 8 °F/min, in both
physics (drivers/simulated.py and bench/syrups.py), each cook is replayed
twice: without ``lag`` (the probe's own reading decides) and with ``lag`` set to
the probe's τ (the pot's level decides). The figure is where the syrup itself
was when ``target_reached`` rang: the goal is −1 °F … +0.5 °F.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from bench import syrups
from drivers.simulated import PotScenario, SimSample, simulate
from service.core.cook import ProbeSetup
from service.core.units import c_to_f, f_to_c
from service.profiles import load_profiles
from service.replay import TraceRow, replay

TARGET_F = 225.0
TARGET_C = f_to_c(TARGET_F)
TAUS = (1.0, 5.0, 15.0, 25.0)
RATES_F_PER_MIN = (3.0, 5.0, 8.0)
BAND_F = (-1.0, 0.5)


def fired_at(samples: list[SimSample], lag_s: float | None) -> float | None:
    profile = load_profiles()["caramel"]
    found: list[float] = []

    def emit(line: dict[str, Any]) -> None:
        if line.get("kind") == "target_reached" and not found:
            found.append(line["t"])

    rows: Iterator[TraceRow] = (TraceRow(i, s.t, s.reading_c, None) for i, s in enumerate(samples))
    replay(rows, profile, emit, probes=[ProbeSetup("pot", lag_s=lag_s)])
    return found[0] if found else None


def rate_at_crossing(samples: list[SimSample]) -> float:
    """°F/min of the syrup itself over the 10 s around its crossing."""
    k = next(i for i, s in enumerate(samples) if s.pot_c >= TARGET_C)
    a, b = samples[max(k - 5, 0)], samples[min(k + 5, len(samples) - 1)]
    return (c_to_f(b.pot_c) - c_to_f(a.pot_c)) / (b.t - a.t) * 60.0


def _bisect_power(make: Callable[[float], list[SimSample]], rate: float, low: float, high: float) -> list[SimSample]:
    """The cook whose syrup climbs at ``rate`` °F/min through the target (the climb grows with power)."""
    samples = make(low)
    for _ in range(14):
        mid = 0.5 * (low + high)
        samples = make(mid)
        if rate_at_crossing(samples) < rate:
            low = mid
        else:
            high = mid
    return samples


def sim_cook(seed: int, tau: float, rate: float) -> list[SimSample]:
    def make(power: float) -> list[SimSample]:
        scenario = PotScenario(seed=seed, tau_s=tau, power_w=power)
        clean = replace(scenario, noise_c=0.0)
        t = next(s.t for s in simulate(clean, 4 * 3600.0) if s.pot_c >= TARGET_C)
        return list(simulate(scenario, t + 120.0))

    return _bisect_power(make, rate, 200.0, 2500.0)


def syrup_cook(seed: int, tau: float, rate: float) -> list[SimSample]:
    base = syrups.SyrupCook(seed=seed, label="lag", tau_s=tau, noise_c=0.05, x0=0.3)

    def make(power: float) -> list[SimSample]:
        cook = replace(base, power_w=power)
        t = syrups.crossing_time(cook)
        if t is None:
            raise RuntimeError(f"{cook} never reaches {TARGET_F} °F")
        return list(syrups.simulate_syrup(cook, t + 120.0))

    return _bisect_power(make, rate, 200.0, 2500.0)


def past_f(samples: list[SimSample], fired: float | None) -> float | None:
    if fired is None:
        return None
    at = max((s for s in samples if s.t <= fired), key=lambda s: s.t)
    return c_to_f(at.pot_c) - TARGET_F


def run(seeds: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for physics, cook in (("drivers/simulated.py", sim_cook), ("bench/syrups.py", syrup_cook)):
        for tau in TAUS:
            for rate in RATES_F_PER_MIN:
                for seed in range(1, seeds + 1):
                    samples = cook(seed, tau, rate)
                    rows.append(
                        {
                            "physics": physics,
                            "tau": tau,
                            "rate": rate_at_crossing(samples),
                            "seed": seed,
                            "probe": past_f(samples, fired_at(samples, None)),
                            "pot": past_f(samples, fired_at(samples, tau)),
                        }
                    )
    return rows


def _span(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    missing = len(values) - len(got)
    text = f"{min(got):+.2f} … {max(got):+.2f}" if got else "—"
    return text + (f" ({missing} never rang)" if missing else "")


def report(rows: list[dict[str, Any]], markdown: bool) -> str:
    out = [
        "| physics | τ | climbs (°F/min) | cooks | syrup past 225 °F at the alarm, no `lag` | with `lag` = τ |",
        "|---|---|---|---|---|---|",
    ]
    for physics in dict.fromkeys(r["physics"] for r in rows):
        for tau in TAUS:
            group = [r for r in rows if r["physics"] == physics and r["tau"] == tau]
            rates = [r["rate"] for r in group]
            out.append(
                f"| {physics} | {tau:g} s | {min(rates):.1f}–{max(rates):.1f} | {len(group)} | "
                f"{_span([r['probe'] for r in group])} | {_span([r['pot'] for r in group])} |"
            )
    inside = [r for r in rows if r["pot"] is not None and BAND_F[0] <= r["pot"] <= BAND_F[1]]
    out.append("")
    out.append(
        f"with `lag`: {len(inside)} of {len(rows)} alarms with the syrup within {BAND_F[0]:+g} … {BAND_F[1]:+g} °F"
    )
    text = "\n".join(out)
    return text if markdown else text.replace("|---", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.seeds)
    print(report(rows, args.markdown))
    bad = [r for r in rows if r["pot"] is None or not BAND_F[0] <= r["pot"] <= BAND_F[1]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
