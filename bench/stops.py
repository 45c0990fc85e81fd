"""Does lag compensation ever ring for a pot that stopped short? Fuzzed stops, counted.

    .venv/bin/python -m bench.stops [--count 1500] [--seed 0] [--every 1]

The hardest case for compensating a probe's lag: a pot climbing as fast as a
caramel ever does (1–9 °F/min) that stops dead (the heat turned down) 1.2–6 °F
short of 225 °F, read by a probe of τ 1, 5, 15 or 25 s with ``lag`` set to τ,
under ±0–1 °F of uniform noise and up to three bursts of one to three wild
readings. The probe keeps climbing for a while after the pot stopped, and a
slope that lags the stop would take that for a pot still on its way. Any
``target_reached`` or ``target_overshoot`` here is a false alarm. The
hypothesis property in tests/core/test_properties.py covers the same ground
derandomized; this draws fresh cases, as many as asked, reproducibly by seed.
``--every S`` keeps one reading in S seconds: a Wi-Fi gateway's cadence, where
fewer readings make each slope less sure.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from service.core.cook import ProbeSetup
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.replay import TraceRow, replay

TARGET_F = 225.0
TAUS = (1.0, 5.0, 15.0, 25.0)
WILD_F = (455.0, 424.0, 422.0, -40.0, 0.0, 300.0, 226.0, 230.0)


@dataclass(frozen=True)
class Stop:
    seed: int
    tau_s: float
    rate_f_per_min: float
    short_f: float  # how far below the target the pot stopped
    noise_f: float  # the uniform noise's half-width

    def describe(self) -> str:
        return (
            f"seed {self.seed}: τ {self.tau_s:g} s, {self.rate_f_per_min:.1f} °F/min, "
            f"stopped {self.short_f:.2f} °F short, ±{self.noise_f:.2f} °F"
        )


def lagged(truth: list[tuple[float, float]], tau_s: float) -> list[tuple[float, float]]:
    """A first-order probe, solved exactly for an input linear between samples."""
    out: list[tuple[float, float]] = []
    y: float | None = None
    prev: tuple[float, float] | None = None
    for t, x in truth:
        if y is None or prev is None:
            y = x
        else:
            t0, x0 = prev
            dt = t - t0
            ramp_lag = (x - x0) / dt * tau_s
            y = x - ramp_lag + (y - x0 + ramp_lag) * math.exp(-dt / tau_s)
        prev = (t, x)
        out.append((t, y))
    return out


def draw(seed: int) -> tuple[Stop, list[tuple[float, float]]]:
    """One stopped pot and what its probe reads (°F, 1 Hz), from its own random stream."""
    rng = random.Random(f"stops/{seed}")
    tau = rng.choice(TAUS)
    top = rng.uniform(TARGET_F - 6.0, TARGET_F - 1.2)
    rate = rng.uniform(1.0, 9.0)
    climb = rng.randint(60, 400)
    hold = rng.randint(60, 300)
    noise = rng.uniform(0.0, 1.0)
    start = top - rate * climb / 60.0
    before = int(5 * tau) + 1  # in the pot long before the trace begins: a steady r·τ behind
    truth = [(float(i), min(start + rate * i / 60.0, top)) for i in range(-before, climb + hold)]
    trace = [(t, f + rng.uniform(-noise, noise)) for t, f in lagged(truth, tau) if t >= 0.0]
    for _ in range(rng.randint(0, 3)):
        values = [rng.choice(WILD_F) for _ in range(rng.randint(1, 3))]
        at = int(rng.random() * (len(trace) - len(values)))
        for i, value in enumerate(values):
            trace[at + i] = (trace[at + i][0], value)
    return Stop(seed, tau, rate, TARGET_F - top, noise), trace


def every(trace: list[tuple[float, float]], seconds: int) -> list[tuple[float, float]]:
    """One reading in ``seconds`` (the trace is one a second): what a gateway of that cadence passes on."""
    return trace if seconds <= 1 else [(t, f) for t, f in trace if int(t) % seconds == 0]


def rang(trace: list[tuple[float, float]], tau_s: float) -> bool:
    profile = load_profiles()["caramel"]
    alarms: list[str] = []

    def emit(line: dict[str, Any]) -> None:
        if line.get("kind") in ("target_reached", "target_overshoot"):
            alarms.append(line["kind"])

    rows: Iterator[TraceRow] = (TraceRow(i, t, f_to_c(f), None) for i, (t, f) in enumerate(trace))
    replay(rows, profile, emit, probes=[ProbeSetup("pot", lag_s=tau_s)])
    return bool(alarms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0, help="the first case's seed")
    parser.add_argument("--every", type=int, default=1, help="keep one reading in this many seconds (a gateway)")
    args = parser.parse_args(argv)
    false: list[Stop] = []
    for seed in range(args.seed, args.seed + args.count):
        stop, trace = draw(seed)
        if rang(every(trace, args.every), stop.tau_s):
            false.append(stop)
    print(
        f"stopped-short pots: {args.count} (seeds {args.seed}–{args.seed + args.count - 1}), "
        f"a reading every {args.every} s, false alarms: {len(false)}"
    )
    for stop in false:
        print(f"- {stop.describe()}")
    return 1 if false else 0


if __name__ == "__main__":
    sys.exit(main())
