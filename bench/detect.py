"""How well does the caramel alarm work? potwatch against what cooks use instead.

    .venv/bin/python -m bench.detect [--seeds 3] [--markdown]

Builds a corpus of simulated caramel cooks (drivers/simulated.py: a physical
model, not drawn curves) with every kind of trouble a kitchen has, replays each
through potwatch's tracker (the same ``service.replay.replay`` the CLI runs) and
through three alarms people use instead, and prints, per trace and in total:
false alarms, late alerts, misses, degrees past the target at the alert, the
warning's lead time and the ETA's error two minutes out.

Definitions (the truth is the simulator's noise-free probe signal, ``sensed``):
- crossing: the first sample whose sensed value is at or above the target;
- false: the alarm rang while the sensed value was more than 1 °F below the
  target (or the probe was out of the pot);
- late: the alarm rang after the sample that follows the crossing;
- miss: the pot crossed and the alarm never rang;
- past: how far the *pot* (not the probe) was past the target when it rang.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from drivers.simulated import PotScenario, SimSample, simulate
from service.core.units import c_to_f, f_to_c
from service.profiles import load_profiles
from service.replay import TraceRow, replay

TARGET_F = 225.0
TARGET_C = f_to_c(TARGET_F)
FALSE_BAND_F = 1.0
MINUTES = 60.0


@dataclass(frozen=True)
class Case:
    name: str
    scenario: PotScenario
    # trouble placed relative to the clean crossing time t*
    trouble: Callable[[float], dict[str, Any]] = lambda t: {}
    expect_crossing: bool = True


def _c(f: float) -> float:
    return f_to_c(f)


def _d(f: float) -> float:
    return f / 1.8


CASES: list[Case] = [
    Case("clean", PotScenario(tau_s=0.5)),
    Case("noisy ±1°F", PotScenario(noise_c=_d(0.35), noise_clip_c=_d(1.0))),
    Case("max31855 0.25°C steps", PotScenario(resolution_c=0.25, noise_c=0.1)),
    Case("spiky", PotScenario(), lambda t: {"spikes_at": (t - 300, t - 90, t - 40, t - 12, t - 3)}),
    Case("bursty (induction)", PotScenario(), lambda t: {"bursts_at": (t - 240, t - 60, t - 20, t - 6)}),
    Case("faulty", PotScenario(), lambda t: {"faults_at": (t - 200, t - 199, t - 30, t - 2)}),
    Case("dropout at the crossing", PotScenario(), lambda t: {"dropouts": ((t - 25, 45.0),)}),
    Case("probe out, back after crossing", PotScenario(tau_s=0.5), lambda t: {"removed": ((t - 40, 55.0),)}),
    Case("slow stove", PotScenario(power_w=500.0)),
    Case("fast stove", PotScenario(power_w=1500.0)),
    Case("laggy DS18B20 (τ 15 s)", PotScenario(tau_s=15.0, resolution_c=0.0625)),
    Case("gateway 5 s", PotScenario(interval_s=5.0)),
    Case("gateway 10 s", PotScenario(interval_s=10.0)),
    Case("gateway 15 s", PotScenario(interval_s=15.0)),
    Case("gateway 30 s", PotScenario(interval_s=30.0, tau_s=15.0, resolution_c=0.0625)),
    Case("gateway 30 s, spiky", PotScenario(interval_s=30.0), lambda t: {"spikes_at": (t - 95, t - 35)}),
    Case("gateway 10 s, dropout", PotScenario(interval_s=10.0), lambda t: {"dropouts": ((t - 30, 50.0),)}),
    Case("stalls 1.5°F below", PotScenario(hold_below_c=_c(TARGET_F - 1.5)), expect_crossing=False),
    Case("off the heat 1 min before", PotScenario(), lambda t: {"off_heat_at_s": t - 60}, expect_crossing=False),
    Case(
        "noisy + bursty + slow",
        PotScenario(power_w=600.0, noise_c=_d(0.3), noise_clip_c=_d(1.0)),
        lambda t: {"bursts_at": (t - 90, t - 15)},
    ),
]


# ---- the alarms -----------------------------------------------------------------


def first_reading(samples: list[SimSample]) -> float | None:
    """ChefAlarm, PiFire: ring at the first reading at or above the target."""
    for s in samples:
        if s.reading_c is not None and s.reading_c >= TARGET_C:
            return s.t
    return None


def ha_for_5s(samples: list[SimSample]) -> float | None:
    """Home Assistant: numeric_state above the target, ``for: 5 s``.

    The state changes only when a reading arrives (a fault makes it
    unavailable); the trigger fires 5 s after the state went above, if no
    reading took it back below in between.
    """
    above_since: float | None = None
    for s in samples:
        if above_since is not None and s.t >= above_since + 5.0:
            return above_since + 5.0
        if s.reading_c is not None and s.reading_c > TARGET_C:
            if above_since is None:
                above_since = s.t
        else:
            above_since = None
    return None if above_since is None else above_since + 5.0


def median_of_three(samples: list[SimSample]) -> float | None:
    last: list[float] = []
    for s in samples:
        if s.reading_c is None:
            continue
        last = [*last[-2:], s.reading_c]
        if len(last) == 3 and sorted(last)[1] >= TARGET_C:
            return s.t
    return None


@dataclass
class PotwatchResult:
    reached_at: float | None = None
    approaching_at: float | None = None
    etas: dict[float, float | None] = field(default_factory=dict)


def potwatch(samples: list[SimSample]) -> PotwatchResult:
    profile = load_profiles()["caramel"]
    result = PotwatchResult()
    last_t = [0.0]

    def emit(line: dict[str, Any]) -> None:
        kind = line.get("kind")
        if kind == "target_reached" and result.reached_at is None:
            result.reached_at = line["t"]
        elif kind == "target_approaching" and result.approaching_at is None:
            result.approaching_at = line["t"]
        elif line["type"] == "sample":
            result.etas[line["t"]] = line["eta_s"]
        last_t[0] = line["t"]

    rows: Iterator[TraceRow] = (TraceRow(i, s.t, s.reading_c, None) for i, s in enumerate(samples))
    replay(rows, profile, emit, every_sample=True)
    return result


def linear_eta(samples: list[SimSample], at: float) -> float | None:
    """What a straight line over the last minute of readings says (a template sensor would)."""
    window = [(s.t, s.reading_c) for s in samples if at - MINUTES <= s.t <= at and s.reading_c is not None]
    if len(window) < 3:
        return None
    ts = [t for t, _ in window]
    vs = [v for _, v in window if v is not None]
    tbar, vbar = statistics.fmean(ts), statistics.fmean(vs)
    sxx = sum((t - tbar) ** 2 for t in ts)
    slope = sum((t - tbar) * (v - vbar) for t, v in zip(ts, vs, strict=True)) / sxx if sxx else 0.0
    if slope <= 0:
        return None
    now = vbar + slope * (at - tbar)
    return max((TARGET_C - now) / slope, 0.0)


# ---- scoring --------------------------------------------------------------------------


@dataclass
class Score:
    false: int = 0
    late: int = 0
    miss: int = 0
    past_f: float | None = None

    @property
    def verdict(self) -> str:
        if self.false:
            return "FALSE"
        if self.miss:
            return "MISS"
        if self.late:
            return "late"
        return "ok"


def score(samples: list[SimSample], fired: float | None) -> tuple[Score, float | None]:
    """Score one alarm; also returns the crossing time."""
    k = next((i for i, s in enumerate(samples) if s.phase != "removed" and s.sensed_c >= TARGET_C), None)
    crossing = samples[k].t if k is not None else None
    result = Score()
    if fired is not None:
        at = max((s for s in samples if s.t <= fired), key=lambda s: s.t)
        if at.phase == "removed" or c_to_f(at.sensed_c) < TARGET_F - FALSE_BAND_F:
            result.false = 1
        result.past_f = c_to_f(at.pot_c) - TARGET_F
    if k is not None:
        if fired is None:
            result.miss = 1
        elif not result.false:
            deadline = samples[min(k + 1, len(samples) - 1)].t
            if fired > deadline + 1e-9:
                result.late = 1
    return result, crossing


def clean_crossing(scenario: PotScenario) -> float:
    for s in simulate(replace(scenario, off_heat_at_s=None, hold_below_c=None), 4 * 3600):
        if s.sensed_c >= TARGET_C:
            return s.t
    raise RuntimeError(f"{scenario} never reaches {TARGET_F} °F")


ALARMS: list[tuple[str, Callable[[list[SimSample]], float | None]]] = [
    ("first reading ≥ target", first_reading),
    ("HA numeric_state for 5 s", ha_for_5s),
    ("median of 3", median_of_three),
]


def run(seeds: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for case in CASES:
        for seed in range(1, seeds + 1):
            base = replace(case.scenario, seed=seed)
            t_star = clean_crossing(base)
            scenario = replace(base, **case.trouble(t_star))
            samples = list(simulate(scenario, t_star + 600.0))
            pw = potwatch(samples)
            pw_score, crossing = score(samples, pw.reached_at)
            row: dict[str, Any] = {
                "case": case.name,
                "seed": seed,
                "crossing": crossing,
                "potwatch": pw_score,
            }
            row["lead_s"] = crossing - pw.approaching_at if crossing and pw.approaching_at is not None else None
            row["eta_err"] = row["linear_err"] = None
            if crossing is not None:
                two_min = min(pw.etas, key=lambda t: abs(t - (crossing - 120.0)))
                truth = crossing - two_min
                eta = pw.etas[two_min]
                if truth > 60.0:
                    row["eta_err"] = abs(eta - truth) / truth if eta is not None else float("inf")
                    lin = linear_eta(samples, two_min)
                    row["linear_err"] = abs(lin - truth) / truth if lin is not None else float("inf")
            for name, alarm in ALARMS:
                row[name] = score(samples, alarm(samples))[0]
            rows.append(row)
    return rows


def _fmt_past(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def _fmt_pct(value: float | None) -> str:
    if value is None:
        return "—"
    return "none" if value == float("inf") else f"{100 * value:.0f} %"


def report(rows: list[dict[str, Any]], markdown: bool) -> str:
    names = ["potwatch"] + [n for n, _ in ALARMS]
    out: list[str] = []
    header = (
        ["trace", "seed"]
        + [f"{n}: verdict, °F past" for n in names]
        + ["warning lead", "ETA err @2 min", "linear ETA err"]
    )
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for r in rows:
        cells = [r["case"], str(r["seed"])]
        for n in names:
            s: Score = r[n]
            cells.append(f"{s.verdict} {_fmt_past(s.past_f)}")
        cells.append("—" if r["lead_s"] is None else f"{r['lead_s']:.0f} s")
        cells.append(_fmt_pct(r["eta_err"]))
        cells.append(_fmt_pct(r["linear_err"]))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("| alarm | traces | false | late | missed | median °F past the target at the alert |")
    out.append("|---|---|---|---|---|---|")
    for n in names:
        scores: list[Score] = [r[n] for r in rows]
        past = [s.past_f for s in scores if s.past_f is not None and not s.false]
        med = f"{statistics.median(past):+.2f}" if past else "—"
        out.append(
            f"| {n} | {len(scores)} | {sum(s.false for s in scores)} | {sum(s.late for s in scores)} | "
            f"{sum(s.miss for s in scores)} | {med} |"
        )
    leads = [r["lead_s"] for r in rows if r["lead_s"] is not None]
    errs = [r["eta_err"] for r in rows if r["eta_err"] is not None]
    lin = [r["linear_err"] for r in rows if r["linear_err"] is not None]
    out.append("")
    if leads:
        out.append(f"potwatch warning lead time: median {statistics.median(leads):.0f} s, min {min(leads):.0f} s")
    if errs:
        out.append(
            f"ETA error two minutes out: potwatch median {100 * statistics.median(errs):.1f} % "
            f"(p90 {100 * sorted(errs)[int(0.9 * (len(errs) - 1))]:.1f} %); "
            f"straight line over the last minute: median {100 * statistics.median(lin):.1f} %"
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
    totals = rows and sum(r["potwatch"].false + r["potwatch"].late + r["potwatch"].miss for r in rows)
    return 1 if totals else 0


if __name__ == "__main__":
    sys.exit(main())
