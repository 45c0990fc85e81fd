"""How does the tracker do on real probe logs? Other people's recordings, not a simulator's.

    .venv/bin/python -m bench.real_logs [--real-traces DIR] [--markdown]

bench/detect.py scores potwatch on simulated cooks, where the truth is known
exactly. Real logs bring what no simulator makes (noise, quantisation, lag,
logger gaps, fault readings), and their truth is read off the log itself. They
live beside the checkout in ``shared/real-traces/`` (its README says what each
log is and where its target is truly crossed) and are read where they are,
never copied into the repository; ``--real-traces DIR`` or the environment
variable POTWATCH_REAL_TRACES points elsewhere.

Each log is replayed through the tracker (``service.replay.replay``, as the
CLI does) with a one-step reach profile at the target a cook would set, and
scored as bench/detect.py scores its corpora, with the log's reading as truth:

- crossing: the README's true crossing (the first sample at or above the target);
- false: ``target_reached`` rang while the reading, the median of the five
  samples around the alarm (a real log is noisy), was more than 1 °F below
  the target;
- late: it rang after the first sample after the crossing;
- missed: the log crossed and it never rang.

A log with no target gets one just above anything it reads (its maximum +
2 °F): ``target_reached`` must never ring there, and every alert it raises is
counted (probe_lost and probe_fault on a logger's gaps and faults are
expected). On logs with a crossing it also reports the warning's lead time,
any approaching → heating flap, and the ETA's error 2 and 5 minutes out next
to the Combustion probe's own prediction.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.core.cook import ProbeSetup
from service.core.profile import EtaModel, Profile, ReachStep
from service.core.units import c_to_f, f_to_c
from service.replay import TraceRow, read_trace, replay

ENV_VAR = "POTWATCH_REAL_TRACES"
FALSE_BAND_F = 1.0
AROUND_SAMPLES = 2  # each side of the alarm: a median of five real readings
NO_TARGET_MARGIN_F = 2.0
ETA_MARKS_S = (120.0, 300.0)
NO_PREDICTION_S = 131071.0  # the Combustion probe's "no prediction"
SETPOINT_TOLERANCE_F = 0.1  # the device stores its set point in 0.1 °C
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class RealLog:
    """One log of the README, with the target a cook would set and where the log truly crosses it."""

    name: str
    target_f: float | None  # None: the log has no target; one is chosen above its maximum
    crossing_s: float | None
    why: str
    device: str | None = None  # extras/<device>_device_prediction.csv: the probe's own ETA
    # Leave the tracker's staleness rules alone unless a log's regular cadence trips them.
    stale_after_s: float | None = None


LOGS: tuple[RealLog, ...] = (
    RealLog(
        "ardumashtun_20120124_2142_wort_heatup",
        203.0,
        1790.75,
        "'boiling': this probe reads its boil in 0.9 °F steps, 202.64 ↔ 203.54 °F (the plateau that follows "
        "averages 204.1 °F). 203 °F lies between the two steps, so 'at the target' means 'on the boil step', "
        "first read at t = 1790.75 s where the climb flattens; a target at a step's edge (203.5 °F) would ask "
        "the median of a reading flipping between steps to settle on the upper one",
    ),
    RealLog(
        "ardumashtun_20120124_2221_wort_boil_plateau",
        None,
        None,
        "77 min at a rolling boil: a plateau that must never look like a climb",
    ),
    RealLog(
        "combustion_10003925_core",
        203.0,
        17705.0,
        "the device's set point (95 °C); the device's own 'done' is the same sample",
        device="combustion_10003925",
    ),
    RealLog("combustion_10003925_ambient", None, None, "smoker air, real noise near 225 °F"),
    RealLog(
        "combustion_10002351_chicken_core",
        154.4,
        3065.0,
        "the device's set point (68 °C)",
        device="combustion_10002351_chicken",
    ),
    RealLog(
        "combustion_10002351_chicken_ambient",
        225.0,
        445.0,
        "oven air passing 225 °F at ~30 °F/min (the device predicts the core only)",
    ),
    RealLog(
        "combustion_10000170_core",
        115.0,
        1565.0,
        "the device's set point (46.1 °C); a fast 8.2 °F/min finish",
        device="combustion_10000170",
    ),
    RealLog("heatledger_bbq_ribs_sensor_1", None, None, "logger gaps up to 808 s, jumps up to 154 °F"),
    RealLog("heatledger_bbq_ribs_sensor_2", None, None, "4 'no probe' fault readings, left empty"),
)


# ---- where the logs are -------------------------------------------------------------


def default_folder() -> Path:
    """``shared/real-traces`` beside the checkout: where CI and every developer have it."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "real-traces"


def resolve_folder(arg: str | Path | None = None) -> Path:
    """The command line wins, then the environment, then the folder beside the checkout."""
    if arg:
        return Path(arg)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else default_folder()


def unknown_logs(folder: Path) -> list[str]:
    """Logs in the folder this bench does not score: a new one must not be skipped silently."""
    known = {log.name for log in LOGS}
    return sorted(p.stem for p in folder.glob("*.csv") if p.stem not in known)


# ---- reading and replaying ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    t: float
    f: float | None  # °F as the log wrote it (0.01 °F), None for a fault


def load_log(path: Path) -> list[TraceRow]:
    """Parse with the replay CLI's own reader, so the bench sees the log exactly as a user's replay would."""
    _, rows = read_trace(path)
    return list(rows)


def readings_of(rows: Iterable[TraceRow]) -> list[Reading]:
    """Back to the log's own °F, rounded as written, so comparisons with a target are exact."""
    return [Reading(r.t, None if r.celsius is None else round(c_to_f(r.celsius), 2)) for r in rows]


def reach_profile(target_f: float) -> Profile:
    """One reach step at the target. The ETA is the straight line: none of these logs is a syrup
    (for a target below the boil that is what ``auto`` picks anyway; above it, ``auto`` would fit
    a sugar syrup's boiling curve to oven or smoker air)."""
    step = ReachStep("reach", f_to_c(target_f), eta_model=EtaModel.LINEAR)
    return Profile("real-log", f"reach {target_f:g} °F", (step,))


@dataclass
class Replayed:
    """What the tracker said about one log: alerts and stage changes in order, the ETA at each sample."""

    alerts: list[tuple[float, str]] = field(default_factory=list)
    stages: list[tuple[float, str]] = field(default_factory=list)
    etas: dict[float, float | None] = field(default_factory=dict)

    def first(self, kind: str) -> float | None:
        return next((t for t, k in self.alerts if k == kind), None)


def run_tracker(rows: list[TraceRow], target_f: float, stale_after_s: float | None = None) -> Replayed:
    """Replay a log as the CLI would, keeping only what the scoring needs."""
    out = Replayed()

    def emit(line: dict[str, Any]) -> None:
        kind = line["type"]
        if kind == "alert":
            out.alerts.append((line["t"], line["kind"]))
        elif kind == "stage":
            out.stages.append((line["t"], line["stage"]))
        elif kind == "sample":
            out.etas[line["t"]] = line["eta_s"]

    probes = [ProbeSetup("pot", stale_after=stale_after_s)] if stale_after_s is not None else None
    replay(iter(rows), reach_profile(target_f), emit, probes=probes, every_sample=True)
    return out


# ---- scoring ---------------------------------------------------------------------------


def chosen_target(readings: list[Reading]) -> float:
    """A target just above anything the log reads: the alarm must never ring on it."""
    return round(max(r.f for r in readings if r.f is not None) + NO_TARGET_MARGIN_F, 2)


def index_at(readings: list[Reading], at: float) -> int:
    """The last sample at or before ``at`` (the one the tracker had just seen)."""
    return max(i for i, r in enumerate(readings) if r.t <= at + EPS)


def reading_around(readings: list[Reading], at: float) -> float | None:
    """The log's reading at ``at``: a median of the few samples around it, as one sample can lie."""
    i = index_at(readings, at)
    window = [r.f for r in readings[max(0, i - AROUND_SAMPLES) : i + AROUND_SAMPLES + 1] if r.f is not None]
    return statistics.median(window) if window else None


def score_alarm(
    readings: list[Reading], target_f: float, crossing_s: float | None, fired: float | None
) -> dict[str, Any]:
    """False, late and missed as bench/detect.py counts them, with the log's reading for truth."""
    reading = reading_around(readings, fired) if fired is not None else None
    false = fired is not None and (reading is None or reading < target_f - FALSE_BAND_F)
    late = missed = False
    if crossing_s is not None:
        k = next(i for i, r in enumerate(readings) if r.t >= crossing_s - EPS)
        deadline = readings[min(k + 1, len(readings) - 1)].t
        missed = fired is None
        late = fired is not None and not false and fired > deadline + EPS
    delay = fired - crossing_s if fired is not None and crossing_s is not None else None
    return {"fired_s": fired, "delay_s": delay, "reading_f": reading, "false": false, "late": late, "missed": missed}


def count_flaps(stages: list[tuple[float, str]]) -> int:
    """Stage lines back to heating after approaching: a warning that came, went and may come again."""
    flaps = 0
    previous = None
    for _, stage in stages:
        if previous == "approaching" and stage == "heating":
            flaps += 1
        previous = stage
    return flaps


def warning_lead(replayed: Replayed, crossing_s: float | None, reached: float | None) -> float | None:
    """How long before the crossing the cook was warned; None when the alarm rang unannounced."""
    approaching = replayed.first("target_approaching")
    if crossing_s is None or approaching is None or (reached is not None and approaching > reached):
        return None
    return crossing_s - approaching


def eta_times(readings: list[Reading], crossing_s: float) -> dict[float, float]:
    """For each mark, the sample nearest that long before the crossing."""
    before = [r.t for r in readings if r.t < crossing_s - EPS]
    return {mark: nearest(before, crossing_s - mark) for mark in ETA_MARKS_S}


def nearest(times: list[float], at: float) -> float:
    return min(times, key=lambda t: abs(t - at))


def relative_error(eta: float | None, truth: float) -> float:
    """|eta − truth| / truth; no ETA at all is infinitely wrong, so it never looks good in a median."""
    return math.inf if eta is None else abs(eta - truth) / truth


@dataclass(frozen=True, slots=True)
class Prediction:
    state: str
    setpoint_f: float
    seconds: float | None  # None: the device made no prediction


def read_device(path: Path) -> dict[float, Prediction]:
    """The Combustion probe's own prediction at each sample, keyed by the same ``t`` as its _core log."""
    out: dict[float, Prediction] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = float(row["prediction_value_s"])
            seconds = None if value >= NO_PREDICTION_S else value
            setpoint = c_to_f(float(row["prediction_setpoint_c"]))
            out[float(row["t"])] = Prediction(row["prediction_state"], setpoint, seconds)
    return out


def score_etas(
    replayed: Replayed, readings: list[Reading], crossing_s: float, target_f: float, device_csv: Path | None
) -> dict[str, Any]:
    """potwatch's ETA error 2 and 5 min out, beside the device's on the very same samples."""
    marks = eta_times(readings, crossing_s)
    ours = {m: relative_error(replayed.etas.get(t), crossing_s - t) for m, t in marks.items()}
    device: dict[float, float] | None = None
    setpoints: list[float] = []
    if device_csv is not None:
        predictions = read_device(device_csv)
        at = {m: predictions[t] for m, t in marks.items()}
        setpoints = sorted({round(p.setpoint_f, 2) for p in at.values()})
        device = {m: relative_error(p.seconds, crossing_s - marks[m]) for m, p in at.items()}
    setpoint_ok = all(abs(s - target_f) <= SETPOINT_TOLERANCE_F for s in setpoints) if setpoints else None
    if setpoint_ok is False:
        device = None  # a prediction toward another temperature says nothing about this target
    return {
        "eta_at_s": marks,
        "eta_err": ours,
        "device_err": device,
        "device_setpoint_f": setpoints or None,
        "setpoint_ok": setpoint_ok,
    }


def score_log(folder: Path, log: RealLog) -> dict[str, Any]:
    """Replay one log and score it: one row of the report."""
    rows = load_log(folder / f"{log.name}.csv")
    readings = readings_of(rows)
    target_f = log.target_f if log.target_f is not None else chosen_target(readings)
    first_at_target = next((r.t for r in readings if r.f is not None and r.f >= target_f), None)
    replayed = run_tracker(rows, target_f, log.stale_after_s)
    row: dict[str, Any] = {
        "name": log.name,
        "samples": len(readings),
        "duration_s": readings[-1].t - readings[0].t,
        "target_f": target_f,
        "target_chosen": log.target_f is None,
        "crossing_s": log.crossing_s,
        "first_at_target_s": first_at_target,
        "why": log.why,
        "alerts": dict(Counter(kind for _, kind in replayed.alerts)),
        "flaps": count_flaps(replayed.stages),
        "stale_after_s": log.stale_after_s,
    }
    row.update(score_alarm(readings, target_f, log.crossing_s, replayed.first("target_reached")))
    row["lead_s"] = warning_lead(replayed, log.crossing_s, row["fired_s"])
    row.update({"eta_at_s": None, "eta_err": None, "device_err": None, "device_setpoint_f": None, "setpoint_ok": None})
    if log.crossing_s is not None:
        device_csv = folder / "extras" / f"{log.device}_device_prediction.csv" if log.device else None
        row.update(score_etas(replayed, readings, log.crossing_s, target_f, device_csv))
    return row


def run_real_logs(folder: Path) -> list[dict[str, Any]]:
    """Every log of the README, scored; a listed log that is missing is an error, never a skip."""
    missing = [log.name for log in LOGS if not (folder / f"{log.name}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)}")
    return [score_log(folder, log) for log in LOGS]


# ---- the report ----------------------------------------------------------------------


def verdict(row: dict[str, Any]) -> str:
    if row["false"]:
        return "FALSE"
    if row["missed"]:
        return "MISSED"
    if row["late"]:
        return "LATE"
    if row["crossing_s"] is None:
        return "never rang ✓"
    return "ok"


def _fmt_s(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.0f} s" if signed else f"{value:.0f} s"


def _fmt_pct(value: float | None) -> str:
    if value is None:
        return "—"
    return "none" if math.isinf(value) else f"{100 * value:.0f} %"


def _fmt_eta(row: dict[str, Any], mark: float) -> str:
    """potwatch / device at one mark."""
    if row["eta_err"] is None:
        return "—"
    device = row["device_err"]
    ours = _fmt_pct(row["eta_err"][mark])
    return f"{ours} / {_fmt_pct(device[mark]) if device is not None else '—'}"


def _fmt_alarm(row: dict[str, Any]) -> str:
    fired = row["fired_s"]
    if fired is None:
        return "—"
    return f"{fired:.0f} s ({_fmt_s(row['delay_s'], signed=True)})" if row["delay_s"] is not None else f"{fired:.0f} s"


def _fmt_reading(row: dict[str, Any]) -> str:
    reading = row["reading_f"]
    return "—" if reading is None else f"{reading:.2f} ({reading - row['target_f']:+.2f})"


def _fmt_alerts(alerts: dict[str, int]) -> str:
    return ", ".join(f"{kind} ×{n}" for kind, n in sorted(alerts.items())) or "none"


def _table(header: list[str], body: list[list[str]], markdown: bool) -> list[str]:
    """A markdown table, or the same columns padded for a terminal."""
    if markdown:
        return ["| " + " | ".join(cells) + " |" for cells in [header, ["---"] * len(header), *body]]
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in [header, *body]]


def _per_log(rows: list[dict[str, Any]], markdown: bool) -> list[str]:
    header = [
        "log",
        "samples",
        "target °F",
        "crossing",
        "verdict",
        "target_reached (vs crossing)",
        "reading then °F (vs target)",
        "warning lead",
        "flaps",
        *[f"ETA err {m / 60:.0f} min: potwatch / device" for m in ETA_MARKS_S],
        "alerts raised",
    ]
    body = [
        [
            r["name"],
            str(r["samples"]),
            f"{r['target_f']:.2f}" + (" (max + 2)" if r["target_chosen"] else ""),
            _fmt_s(r["crossing_s"]),
            verdict(r),
            _fmt_alarm(r),
            _fmt_reading(r),
            _fmt_s(r["lead_s"]) if r["crossing_s"] is not None else "—",
            str(r["flaps"]),
            *[_fmt_eta(r, m) for m in ETA_MARKS_S],
            _fmt_alerts(r["alerts"]),
        ]
        for r in rows
    ]
    return _table(header, body, markdown)


def _median_pct(values: list[float]) -> str:
    return _fmt_pct(statistics.median(values)) if values else "—"


def _eta_totals(rows: list[dict[str, Any]]) -> list[str]:
    """Both predictors on the logs the device predicted, then potwatch on every log with a crossing."""
    out: list[str] = []
    for mark in ETA_MARKS_S:
        ours = [r["eta_err"][mark] for r in rows if r["eta_err"] is not None]
        paired = [(r["eta_err"][mark], r["device_err"][mark]) for r in rows if r["device_err"] is not None]
        out.append(
            f"ETA error {mark / 60:.0f} min out: potwatch median {_median_pct(ours)} over {len(ours)} logs; "
            f"on the {len(paired)} logs the probe predicted: potwatch {_median_pct([p for p, _ in paired])}, "
            f"the probe's own {_median_pct([d for _, d in paired])} "
            f"(each: {', '.join(f'{_fmt_pct(p)} vs {_fmt_pct(d)}' for p, d in paired) or '—'})"
        )
    return out


def _notes(rows: list[dict[str, Any]]) -> list[str]:
    """Why each target, and anything that does not match the README."""
    out = ["Targets and crossings:"]
    for r in rows:
        line = f"- {r['name']}: {r['target_f']:.2f} °F — {r['why']}"
        if r["crossing_s"] is not None and r["first_at_target_s"] != r["crossing_s"]:
            line += f" (NB: the log first reads the target at {_fmt_s(r['first_at_target_s'])})"
        if r["setpoint_ok"] is not None:
            points = ", ".join(f"{p:.2f}" for p in r["device_setpoint_f"])
            agrees = "matches" if r["setpoint_ok"] else "does NOT match: its ETA is not compared"
            line += f"; the device's set point at the ETA samples, {points} °F, {agrees}"
        if r["stale_after_s"] is not None:
            line += f" (stale_after {r['stale_after_s']:g} s)"
        out.append(line)
    return out


def report_real_logs(rows: list[dict[str, Any]], markdown: bool) -> str:
    """The per-log table, then the totals: false, late, missed, flaps, ETA errors beside the device's."""
    crossing = [r for r in rows if r["crossing_s"] is not None]
    plateau = [r for r in rows if r["crossing_s"] is None]
    leads = [r["lead_s"] for r in crossing if r["lead_s"] is not None]
    out = ["Real probe logs (shared/real-traces), replayed through potwatch's tracker", ""]
    out += _per_log(rows, markdown)
    out += [
        "",
        f"logs with a crossing: {len(crossing)}; false {sum(r['false'] for r in crossing)}, "
        f"late {sum(r['late'] for r in crossing)}, missed {sum(r['missed'] for r in crossing)}, "
        f"approaching → heating flaps {sum(r['flaps'] for r in crossing)}; "
        f"warned before the alarm on {len(leads)}, lead "
        + (f"median {statistics.median(leads):.0f} s, min {min(leads):.0f} s" if leads else "—"),
        f"logs with no target (target = max + {NO_TARGET_MARGIN_F:g} °F): {len(plateau)}; "
        f"target_reached rang on {sum(r['fired_s'] is not None for r in plateau)}; "
        f"alerts raised: {_fmt_alerts(dict(sum((Counter(r['alerts']) for r in plateau), Counter())))}",
        *_eta_totals(crossing),
        "",
        *_notes(rows),
    ]
    return "\n".join(out)


def failures(rows: list[dict[str, Any]]) -> int:
    """False, late and missed alarms over every log: what makes the bench exit 1."""
    return sum(int(r["false"]) + int(r["late"]) + int(r["missed"]) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--real-traces", metavar="DIR", help=f"the logs' folder (default: ${ENV_VAR}, then beside the checkout)"
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    folder = resolve_folder(args.real_traces)
    if not folder.is_dir():
        print(f"no real probe logs at {folder} (--real-traces DIR or ${ENV_VAR})", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rows = run_real_logs(folder)
    print(report_real_logs(rows, args.markdown))
    extra = unknown_logs(folder)
    if extra:
        print(f"\nnot scored (not in this bench's list): {', '.join(extra)}", file=sys.stderr)
    print(f"\n{len(rows)} logs replayed in {time.perf_counter() - started:.1f} s")
    return 1 if failures(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
