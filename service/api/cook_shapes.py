"""What a cook looks like over HTTP: a listing entry, its detail, its chart and its replay CSV.

Pure functions of a ``CookRecord`` (from the history file, or built here from
the hub's memory for a cook the file does not have yet), so a cook reads the
same whichever source it came from. Times in a record are on the tracker's
time line, which continues across restarts: ``t`` in a series or a CSV is
seconds since the cook started on that line, so a wall clock set late never
reorders anything.
"""

from __future__ import annotations

import math
from bisect import insort
from itertools import pairwise
from statistics import median

from service.core.cook import Cook
from service.core.probes import ProbeHealth
from service.core.profile import HoldStep, Profile, ReachStep
from service.history.reader import CookRecord, CookRow, Reading
from service.runtime.clock import Clock, iso_utc
from service.runtime.cooklog import CookLog
from service.runtime.views import CalibrationRecord, CookDetail, CookSeries, CookStageRecord, CookSummary

SERIES_POINTS = 2000
GAP_MIN_S = 10.0  # a silence this long (and 3 intervals) is drawn as a gap, like a lost probe


def summary(row: CookRow) -> CookSummary:
    """One entry of ``GET /api/cooks``."""
    return CookSummary(
        id=row.id,
        profile=row.profile,
        title=row.title,
        probe=row.probe,
        started_at=iso_utc(row.started_wall),
        ended_at=iso_utc(row.ended_wall) if row.ended_wall is not None else None,
        outcome=row.outcome,
        running=row.running,
    )


def live_state(item: CookSummary, cook: Cook, clock: Clock) -> CookSummary:
    """A summary with what the hub knows better than the file: is it still cooking, and how it ended."""
    return CookSummary(
        id=item["id"],
        profile=item["profile"],
        title=item["title"],
        probe=item["probe"],
        started_at=item["started_at"],
        ended_at=clock.iso(cook.ended_at) if cook.ended_at is not None else None,
        outcome=cook.outcome,
        running=cook.ended_at is None,
    )


def memory_row(cook: Cook, clock: Clock, probe: ProbeHealth | None = None) -> CookRow:
    """A cook the file does not have (yet), as if it were a row of it (calibration: the probe's now)."""
    boil_c, offset_c = (probe.boil_c, probe.offset_c) if probe is not None else (None, 0.0)
    return CookRow(
        cook.id, cook.profile.name, cook.profile.title, cook.probe, cook.channel, 0, None, cook.started_at,
        clock.wall_at(cook.started_at), cook.ended_at,
        clock.wall_at(cook.ended_at) if cook.ended_at is not None else None, cook.outcome, boil_c, offset_c, 0, 0,
    )  # fmt: skip


def memory_record(cook: Cook, cooklog: CookLog, clock: Clock, probe: ProbeHealth | None) -> CookRecord:
    """What the hub keeps in memory of a cook, shaped like a record of the file."""
    record = CookRecord(memory_row(cook, clock, probe), cook.profile)
    record.readings = [Reading(at, c) for at, c in cooklog.points]
    record.stages = [(at, clock.wall_at(at), step, stage, None) for at, step, stage in cooklog.stages]
    record.alerts = [
        {"t": round(at - cook.started_at, 3), "kind": kind, "id": alert_id} for at, alert_id, kind in cooklog.alerts
    ]
    return record


def targets(profile: Profile | None, offset_c: float) -> dict[str, float | None]:
    """The first reach target and hold window of a recipe, shifted by the probe's calibration."""
    target = low = high = None
    for step in profile.steps if profile else ():
        if isinstance(step, ReachStep):
            target = step.target_c + offset_c
        elif isinstance(step, HoldStep) and low is None:
            low, high = step.low_c + offset_c, step.high_c + offset_c
    found = {"target_c": target, "low_c": low, "high_c": high}
    return {k: None if v is None else round(v, 2) for k, v in found.items()}


def detail(record: CookRecord) -> CookDetail:
    """``GET /api/cooks/{id}`` for a cook as the file has it (the router adds the live view)."""
    row = record.row
    aims = targets(record.profile, row.offset_c)
    return CookDetail(
        **summary(row),
        channel=row.channel,
        steps=[s.name for s in record.profile.steps] if record.profile else [],
        duration_s=round(row.ended_at - row.started_at, 1) if row.ended_at is not None else None,
        # the old shape of a past cook's calibration, kept for its clients; a cook of the running
        # time line has /api/status's word here instead, so the names below are the ones every cook has
        calibration=CalibrationRecord(boil_c=row.boil_c, offset_c=round(row.offset_c, 3)),
        measured_boil_c=row.boil_c,
        calibration_offset_c=round(row.offset_c, 3),
        calibration_offset_f=round(row.offset_c * 1.8, 3),
        target_c=aims["target_c"],
        low_c=aims["low_c"],
        high_c=aims["high_c"],
        stages=stages(record),
        alerts=record.alerts,
    )


def stages(record: CookRecord) -> list[CookStageRecord]:
    t0 = record.row.started_at
    return [
        CookStageRecord(at=iso_utc(wall), t=round(at - t0, 3), step=step, stage=stage, previous=previous)
        for at, wall, step, stage, previous in record.stages
    ]


def _gaps(readings: list[Reading]) -> list[tuple[float, float]]:
    """Silences drawn as gaps: a probe gone, or longer than 3 usual intervals (and GAP_MIN_S)."""
    times = [r.at for r in readings if r.gone is None]
    steps = [b - a for a, b in pairwise(times) if b > a]
    usual = median(steps) if steps else 1.0
    limit = max(GAP_MIN_S, 3.0 * usual)
    gaps = [(a, b) for a, b in pairwise(times) if b - a > limit]
    gaps += [(r.at, r.at) for r in readings if r.gone is not None]
    return sorted(gaps)


def series(record: CookRecord, most: int = SERIES_POINTS) -> CookSeries:
    """The chart: at most ``most`` points (thinned evenly), a null point where the line must break."""
    row = record.row
    t0 = row.started_at
    values = [r for r in record.readings if r.gone is None]
    stride = max(1, math.ceil(len(values) / most))
    points: list[list[float | None]] = [
        [round(r.at - t0, 1), None if r.celsius is None else round(r.celsius, 2)] for r in values[::stride]
    ]
    for a, b in _gaps(record.readings):
        # a null between two points breaks the line: the chart never draws across a gap
        insort(points, [round((a + b) / 2.0 - t0, 1), None], key=lambda p: p[0] or 0.0)
    aims = targets(record.profile, row.offset_c)
    return CookSeries(
        cook=row.id,
        t0=iso_utc(row.started_wall),
        points=points,
        target_c=aims["target_c"],
        low_c=aims["low_c"],
        high_c=aims["high_c"],
        stages=[[round(at - t0, 1), stage] for at, _, _, stage, _ in record.stages],
        alerts=[[a["t"], a["kind"]] for a in record.alerts],
        restarts=[round(at - t0, 1) for at, _ in record.runs],
    )


def trace_csv(record: CookRecord) -> str:
    """The replay trace format: ``potwatch replay`` takes this file as it is."""
    row = record.row
    t0 = row.started_at
    lines = [
        f"# profile: {row.profile}",
        f"# cook: {row.id}",
        f"# started: {iso_utc(row.started_wall)}",
    ]
    if row.boil_c is not None:
        lines.append(f"# calibration: water boiled at {row.boil_c:.2f} °C on probe {row.probe}")
    lines.append("t,temp_c,probe")
    restarts = iter(record.runs)
    restart = next(restarts, None)
    for r in record.readings:
        while restart is not None and restart[0] <= r.at:
            lines.append(f"# t={restart[0] - t0:.3f}: the service restarted (run {restart[1]})")
            restart = next(restarts, None)
        t = r.at - t0
        if r.gone is not None:
            lines.append(f"# t={t:.3f}: probe {row.probe} gone: {r.gone}")
        else:
            lines.append(f"{t:.6f},{'' if r.celsius is None else repr(r.celsius)},{row.probe}")
    return "\n".join(lines) + "\n"
