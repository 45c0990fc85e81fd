"""How well does the caramel alarm work? potwatch against what cooks use instead.

    .venv/bin/python -m bench.detect [--seeds 3] [--markdown]
        [--corpus sim|syrups|held-out|fresh|unseen|sealed|real|all]

Three corpora, each reported on its own (a threshold chosen on one proves
nothing on it, so the held-out seeds of the second are never tuned on):

- ``sim``: drivers/simulated.py, the project's own physics (Norrish syrup);
- ``syrups`` / ``held-out``: bench/syrups.py, a second physics (the candy
  table, wine syrups ±8 %, room losses, a wandering burner, syrups that start
  near the target, 5,000 ft uncalibrated, gateways of 5–30 s, laggy probes),
  its tuning seeds and its held-out seeds (``fresh``: a second held-out set,
  added unrun and run once on a fixed version; ``unseen``: a third, added when
  the first two had been studied; ``sealed``: a fourth, added unrun to judge
  the next fix once); the probe's lag is configured
  (``lag`` = its τ), so the truth is the syrup itself;
- ``real``: the real probe logs beside the checkout (bench/real_logs.py).

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
import itertools
import re
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bench import real_logs, syrups
from drivers.simulated import PotScenario, SimSample, simulate
from service.core.cook import ProbeSetup
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
    approaching_message: str = ""
    warnings: list[float] = field(default_factory=list)  # every target_approaching
    stages: list[str] = field(default_factory=list)
    etas: dict[float, float | None] = field(default_factory=dict)
    sigmas: dict[float, float | None] = field(default_factory=dict)

    @property
    def flaps(self) -> int:
        """approaching → heating → approaching again: a warning withdrawn and given again."""
        seen = "".join({"approaching": "a", "heating": "h"}.get(s, "") for s in self.stages)
        return len(re.findall("(?=aha)", seen))  # overlapping: "ahaha" is two


def potwatch(samples: list[SimSample], lag_s: float | None = None) -> PotwatchResult:
    profile = load_profiles()["caramel"]
    result = PotwatchResult()

    def emit(line: dict[str, Any]) -> None:
        kind = line.get("kind")
        if kind == "target_reached" and result.reached_at is None:
            result.reached_at = line["t"]
        elif kind == "target_approaching":
            result.warnings.append(line["t"])
            if result.approaching_at is None:
                result.approaching_at = line["t"]
                result.approaching_message = line["message"]
        elif line["type"] == "stage":
            result.stages.append(line["stage"])
        elif line["type"] == "sample":
            result.etas[line["t"]] = line["eta_s"]
            result.sigmas[line["t"]] = line["eta_sigma_s"]

    rows: Iterator[TraceRow] = (TraceRow(i, s.t, s.reading_c, None) for i, s in enumerate(samples))
    replay(rows, profile, emit, probes=[ProbeSetup("pot", lag_s=lag_s)], every_sample=True)
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


LATE_PAST_F = 0.5  # with a known lag the alarm is about the syrup: at most this far past it


def score(samples: list[SimSample], fired: float | None, *, about_pot: bool = False) -> tuple[Score, float | None]:
    """Score one alarm; also returns the crossing time.

    The truth is the noise-free probe (``sensed``), or with ``about_pot`` (the
    probe's lag is configured) the syrup itself: false — more than 1 °F below
    the target; late — after the sample that follows the crossing, and with
    ``about_pot`` also after the first sample with the syrup 0.5 °F past it (at
    a 30 s gateway the next sample may be 4 °F past).
    """

    def truth(s: SimSample) -> float:
        return s.pot_c if about_pot else s.sensed_c

    k = next((i for i, s in enumerate(samples) if s.phase != "removed" and truth(s) >= TARGET_C), None)
    crossing = samples[k].t if k is not None else None
    result = Score()
    if fired is not None:
        at = max((s for s in samples if s.t <= fired), key=lambda s: s.t)
        if at.phase == "removed" or c_to_f(truth(at)) < TARGET_F - FALSE_BAND_F:
            result.false = 1
        result.past_f = c_to_f(at.pot_c) - TARGET_F
    if k is not None:
        if fired is None:
            result.miss = 1
        elif not result.false:
            deadline = samples[min(k + 1, len(samples) - 1)].t
            if about_pot:
                past = next((s.t for s in samples if c_to_f(s.pot_c) >= TARGET_F + LATE_PAST_F), samples[-1].t)
                deadline = max(deadline, past)
            if fired > deadline + 1e-9:
                result.late = 1
    return result, crossing


def boil_onset(samples: list[SimSample]) -> float | None:
    """When the pot itself began to boil: its rate of rise falls to a third of the heat-up's."""
    peak = 0.0
    for a, b in itertools.pairwise(samples):
        if b.t <= a.t:
            continue
        rate = (b.pot_c - a.pot_c) / (b.t - a.t)
        peak = max(peak, rate)
        if b.pot_c >= 85.0 and peak > 0.05 and rate < peak / 3.0:
            return b.t
    return samples[0].t if samples else None


def warning_facts(samples: list[SimSample], pw: PotwatchResult, crossing: float | None) -> dict[str, Any]:
    """What the cook was told before the alarm, and whether it could be trusted."""
    onset = boil_onset(samples)
    by_t = {s.t: s for s in samples}
    heatup = sum(1 for t in pw.warnings if onset is not None and t < onset)
    far = sum(1 for t in pw.warnings if t in by_t and c_to_f(by_t[t].pot_c) < TARGET_F - 10.0)
    lead = crossing - pw.approaching_at if crossing is not None and pw.approaching_at is not None else None
    margin_first = "°F to go" in pw.approaching_message
    return {"heatup_warnings": heatup, "far_warnings": far, "flaps": pw.flaps, "lead_s": lead,
            "margin_first": margin_first, "says_time": "in about" in pw.approaching_message}  # fmt: skip


def eta_facts(pw: PotwatchResult, crossing: float | None, minutes: float = 2.0) -> tuple[float | None, bool | None]:
    """|ETA − truth| / truth at the sample nearest ``minutes`` before the crossing, and truth within ±2σ."""
    if crossing is None or not pw.etas:
        return None, None
    at = min(pw.etas, key=lambda t: abs(t - (crossing - 60.0 * minutes)))
    truth = crossing - at
    if truth <= 60.0:
        return None, None
    eta, sigma = pw.etas[at], pw.sigmas[at]
    if eta is None:
        return float("inf"), False
    return abs(eta - truth) / truth, sigma is not None and abs(eta - truth) <= 2.0 * sigma


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
            row.update(warning_facts(samples, pw, crossing))
            row["eta_err"], row["eta_in_2sigma"] = eta_facts(pw, crossing)
            row["linear_err"] = None
            if row["eta_err"] is not None and crossing is not None:
                two_min = min(pw.etas, key=lambda t: abs(t - (crossing - 120.0)))
                truth = crossing - two_min
                lin = linear_eta(samples, two_min)
                row["linear_err"] = abs(lin - truth) / truth if lin is not None else float("inf")
            for name, alarm in ALARMS:
                row[name] = score(samples, alarm(samples))[0]
            rows.append(row)
    return rows


def run_syrups(seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """The second physics, the probe's lag configured: scored against the syrup itself."""
    rows: list[dict[str, Any]] = []
    for name, seed, cook in syrups.corpus(seeds):
        crossing_pot = syrups.crossing_time(cook)
        if crossing_pot is None:
            raise RuntimeError(f"{name} seed {seed} never reaches {TARGET_F} °F")
        samples = list(syrups.simulate_syrup(cook, crossing_pot + 600.0))
        pw = potwatch(samples, lag_s=cook.tau_s)
        pw_score, crossing = score(samples, pw.reached_at, about_pot=True)
        row: dict[str, Any] = {"case": name, "seed": seed, "crossing": crossing, "potwatch": pw_score}
        row.update(warning_facts(samples, pw, crossing))
        row["eta_err"], row["eta_in_2sigma"] = eta_facts(pw, crossing)
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
    out.append("")
    out.extend(summary_lines(rows))
    lin = [r["linear_err"] for r in rows if r.get("linear_err") is not None]
    if lin:
        out.append(f"straight line over the last minute, two minutes out: median {100 * statistics.median(lin):.1f} %")
    text = "\n".join(out)
    return text if markdown else text.replace("|---", "")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The corpus's totals against the goals: alarms, warnings, ETA."""
    scores: list[Score] = [r["potwatch"] for r in rows]
    past = [s.past_f for s in scores if s.past_f is not None and not s.false]
    leads = [r["lead_s"] for r in rows if r["lead_s"] is not None]
    warned = [r for r in rows if r["lead_s"] is not None]
    # outside the window, unless it is the margin's early warning on a slow climb that says how long
    outside = [r for r in warned if r["lead_s"] < 30.0 or (r["lead_s"] > 180.0 and not r["says_time"])]
    timed = [r for r in warned if r["says_time"]]
    margin = [r for r in warned if not r["says_time"]]
    errs = [r["eta_err"] for r in rows if r["eta_err"] is not None]
    covered = [r["eta_in_2sigma"] for r in rows if r["eta_in_2sigma"] is not None]
    lines = [
        f"alarms: {len(rows)} cooks, {sum(s.false for s in scores)} false, {sum(s.late for s in scores)} late, "
        f"{sum(s.miss for s in scores)} missed; °F past the target at the alarm: "
        + (f"median {statistics.median(past):+.2f}, range {min(past):+.2f} … {max(past):+.2f}" if past else "—"),
        f"warnings: {sum(r['heatup_warnings'] for r in rows)} during the heat-up, "
        f"{sum(r['far_warnings'] for r in rows)} with the pot more than 10 °F below, "
        f"{sum(r['flaps'] for r in rows)} approach → heating → approach flaps, "
        f"{sum(1 for r in rows if r['lead_s'] is None and r['crossing'] is not None)} cooks that crossed "
        "with no warning before",
    ]
    if leads:
        lines.append(
            f"warning lead: median {statistics.median(leads):.0f} s, range {min(leads):.0f}–{max(leads):.0f} s; "
            f"{len(outside)} outside 30 s–3 min (a slow climb's margin warning that says how long excepted); "
            f"{len(timed)} saying how long, {len(margin)} by the 5 °F margin before the ETA was trusted (no time)"
        )
    if errs:
        finite = sum(1 for e in errs if e != float("inf"))
        lines.append(
            f"ETA two minutes out: median error {100 * statistics.median(errs):.1f} %, "
            f"p90 {100 * _pct(errs, 0.9):.1f} % over {len(errs)} cooks ({len(errs) - finite} with no ETA); "
            f"truth within ±2σ in {sum(covered)} of {len(covered)} "
            f"({100 * sum(covered) / len(covered):.0f} %)"
        )
    return lines


def report_syrups(rows: list[dict[str, Any]], markdown: bool) -> str:
    header = ["kind", "seed", "verdict, °F past", "warning lead", "heat-up/far/flaps", "ETA err @2 min", "in ±2σ"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        s: Score = r["potwatch"]
        cells = [
            r["case"],
            str(r["seed"]),
            f"{s.verdict} {_fmt_past(s.past_f)}",
            "—" if r["lead_s"] is None else f"{r['lead_s']:.0f} s" + (" (margin)" if r["margin_first"] else ""),
            f"{r['heatup_warnings']}/{r['far_warnings']}/{r['flaps']}",
            _fmt_pct(r["eta_err"]),
            "—" if r["eta_in_2sigma"] is None else ("yes" if r["eta_in_2sigma"] else "no"),
        ]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.extend(summary_lines(rows))
    text = "\n".join(out)
    return text if markdown else text.replace("|---", "")


def _bad(rows: list[dict[str, Any]]) -> int:
    return sum(r["potwatch"].false + r["potwatch"].late + r["potwatch"].miss for r in rows)


# bench/syrups.py's seed sets: the name on the command line, and the one in the report
SYRUP_CORPORA: dict[str, tuple[str, tuple[int, ...]]] = {
    "syrups": ("tuning", syrups.TUNING_SEEDS),
    "held-out": ("held-out", syrups.HELD_OUT_SEEDS),
    "fresh": ("fresh held-out", syrups.FRESH_SEEDS),
    "unseen": ("unseen held-out", syrups.UNSEEN_SEEDS),
    "sealed": ("sealed held-out", syrups.SEALED_SEEDS),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the sim corpus")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--corpus", choices=["sim", *SYRUP_CORPORA, "real", "all"], default="all")
    parser.add_argument(
        "--real-traces", help="folder of the real logs (default: shared/real-traces beside the checkout)"
    )
    args = parser.parse_args(argv)
    bad = 0
    chosen = ["sim", *SYRUP_CORPORA, "real"] if args.corpus == "all" else [args.corpus]
    for corpus in chosen:
        if corpus == "sim":
            rows = run(args.seeds)
            title = f"## Corpus 1: drivers/simulated.py, {len(rows)} cooks ({args.seeds} seeds)"
            body = report(rows, args.markdown)
        elif corpus in SYRUP_CORPORA:
            which, seeds = SYRUP_CORPORA[corpus]
            rows = run_syrups(seeds)
            title = f"## Corpus 2: bench/syrups.py, {which} seeds {seeds}, {len(rows)} cooks"
            body = report_syrups(rows, args.markdown)
        else:
            folder = real_logs.resolve_folder(args.real_traces)
            rows = []
            logs = real_logs.run_real_logs(folder)
            title = f"## Real logs: {len(logs)} logs"
            body = real_logs.report_real_logs(logs, args.markdown)
            bad += sum(int(r.get("false", 0)) + int(r.get("late", 0)) + int(r.get("missed", 0)) for r in logs)
        bad += _bad(rows)
        print(title + "\n\n" + body + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
