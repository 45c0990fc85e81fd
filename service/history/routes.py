"""``/api/cooks…`` from the history file: every cook ever recorded, not only this run's.

Included before the in-memory routes of ``service.api.app``, so these answer.
The file is read on a worker thread with a read-only connection of its own
(WAL lets it read while the recorder writes); the kitchen is read on the event
loop, where the hub owns it. A cook the file does not know yet (recording
paused) is still served from the hub's memory.

Times in the file are on the tracker's time line, which continues across
restarts (see restore.py): ``t`` in a series or a CSV is seconds since the
cook started on that line, so a wall clock set late never reorders anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
from bisect import insort
from dataclasses import dataclass, field
from itertools import pairwise
from statistics import median
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse

from service.core.cook import Cook
from service.core.profile import HoldStep, Profile, ReachStep
from service.history.codec import Kind, profile_from_json
from service.history.recorder import HistoryRecorder
from service.runtime.clock import iso_utc
from service.runtime.views import alert_json, both, cook_json

log = logging.getLogger(__name__)

SERIES_POINTS = 2000
GAP_MIN_S = 10.0  # a silence this long (and 3 intervals) is drawn as a gap, like a lost probe
COOK_COLUMNS = (
    "id, profile, title, probe, channel, first_seq, last_seq, started_at, started_wall, ended_at, ended_wall, "
    "outcome, boil_c, offset_c, run, chain"
)


@dataclass
class CookRow:
    id: str
    profile: str
    title: str
    probe: str
    channel: str | None
    first_seq: int
    last_seq: int | None
    started_at: float
    started_wall: float
    ended_at: float | None
    ended_wall: float | None
    outcome: str | None
    boil_c: float | None
    offset_c: float
    run: int
    chain: int

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "profile": self.profile,
            "title": self.title,
            "probe": self.probe,
            "started_at": iso_utc(self.started_wall),
            "ended_at": iso_utc(self.ended_wall) if self.ended_wall is not None else None,
            "outcome": self.outcome,
            "running": self.ended_at is None and self.outcome is None,
        }


@dataclass
class Reading:
    at: float
    celsius: float | None
    gone: str | None = None  # a ProbeGone: the reason


@dataclass
class CookRecord:
    """One cook as the file has it."""

    row: CookRow
    profile: Profile | None
    stages: list[tuple[float, float, str, str, str | None]] = field(default_factory=list)  # at, wall, step, ...
    alerts: list[dict[str, Any]] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    runs: list[tuple[float, int]] = field(default_factory=list)  # (at, run) where a restart began


# ---- reading the file (worker thread) -------------------------------------------------------


def _with_reader(recorder: HistoryRecorder, work: Any, *args: Any) -> Any:
    conn = recorder.reader()
    if conn is None:
        return None
    try:
        return work(conn, *args)
    except sqlite3.Error as exc:
        log.warning("history: cannot read %s: %s", recorder.path, exc)
        return None
    finally:
        conn.close()


def _list(conn: sqlite3.Connection, limit: int, offset: int) -> tuple[list[CookRow], int]:
    total = int(conn.execute("SELECT count(*) FROM cooks").fetchone()[0])
    rows = conn.execute(
        f"SELECT {COOK_COLUMNS} FROM cooks ORDER BY first_seq DESC LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    return [CookRow(*r) for r in rows], total


def _known(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {r[0] for r in conn.execute(f"SELECT id FROM cooks WHERE id IN ({marks})", ids)}


def _record(conn: sqlite3.Connection, cook_id: str, with_readings: bool) -> CookRecord | None:
    found = conn.execute(f"SELECT {COOK_COLUMNS} FROM cooks WHERE id = ?", (cook_id,)).fetchone()
    if found is None:
        return None
    row = CookRow(*found)
    start = conn.execute("SELECT data FROM events WHERE seq = ? AND kind = ?", (row.first_seq, Kind.START)).fetchone()
    profile = _profile(start[0]) if start and start[0] else None
    record = CookRecord(row, profile)
    record.stages = conn.execute(
        "SELECT at, wall, step, stage, previous FROM stages WHERE cook = ? ORDER BY rowid", (cook_id,)
    ).fetchall()
    for a in conn.execute(
        "SELECT id, kind, level, at, wall, probe, step, celsius, message, acked_at, acked_wall FROM alerts "
        "WHERE cook = ? ORDER BY rowid",
        (cook_id,),
    ):
        celsius, fahrenheit = both(a[7])
        record.alerts.append(
            {
                "id": a[0],
                "kind": a[1],
                "level": a[2],
                "active": False,
                "acked": a[9] is not None,
                "at": iso_utc(a[4]),
                "acked_at": iso_utc(a[10]) if a[10] is not None else None,
                "probe": a[5],
                "cook": cook_id,
                "step": a[6],
                "celsius": celsius,
                "fahrenheit": fahrenheit,
                "message": a[8],
                "t": round(a[3] - row.started_at, 3),
            }
        )
    if with_readings:
        _readings(conn, record)
    return record


def _profile(data: str) -> Profile | None:
    """The recipe a cook ran; None when this potwatch cannot read it (the cook is still listed)."""
    try:
        return profile_from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("history: unreadable recipe in the file: %r", exc)
        return None


def _readings(conn: sqlite3.Connection, record: CookRecord) -> None:
    row = record.row
    last = row.last_seq if row.last_seq is not None else 2**62
    channel = row.channel
    previous_run = row.run
    for kind, at, celsius, chan, live, fault, run in conn.execute(
        "SELECT kind, at, celsius, channel, live, fault, run FROM events "
        "WHERE seq >= ? AND seq <= ? AND kind IN (?, ?) AND probe = ? ORDER BY seq",
        (row.first_seq, last, Kind.READING, Kind.GONE, row.probe),
    ):
        if run != previous_run:
            record.runs.append((at, run))
            previous_run = run
        if kind == Kind.GONE:
            record.readings.append(Reading(at, None, fault or "gone"))
            continue
        if not live:
            continue  # a retained (old) value: shown live, never part of the curve
        if channel is None:
            channel = chan  # the cook follows the first channel it heard, as the tracker does
        elif chan != channel:
            continue
        record.readings.append(Reading(at, celsius))


# ---- shaping -------------------------------------------------------------------------------------


def _targets(profile: Profile | None, offset_c: float) -> dict[str, float | None]:
    target = low = high = None
    for step in profile.steps if profile else ():
        if isinstance(step, ReachStep):
            target = step.target_c + offset_c
        elif isinstance(step, HoldStep) and low is None:
            low, high = step.low_c + offset_c, step.high_c + offset_c
    return {"target_c": target, "low_c": low, "high_c": high}


def _detail(record: CookRecord) -> dict[str, Any]:
    row = record.row
    body = row.summary()
    body["channel"] = row.channel
    body["steps"] = [s.name for s in record.profile.steps] if record.profile else []
    body["duration_s"] = round(row.ended_at - row.started_at, 1) if row.ended_at is not None else None
    body["calibration"] = {"boil_c": row.boil_c, "offset_c": round(row.offset_c, 3)}
    body.update({k: None if v is None else round(v, 2) for k, v in _targets(record.profile, row.offset_c).items()})
    return body


def _stages(record: CookRecord) -> list[dict[str, Any]]:
    t0 = record.row.started_at
    return [
        {"at": iso_utc(wall), "t": round(at - t0, 3), "step": step, "stage": stage, "previous": previous}
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


def series(record: CookRecord, most: int = SERIES_POINTS) -> dict[str, Any]:
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
    body: dict[str, Any] = {"cook": row.id, "t0": iso_utc(row.started_wall), "points": points}
    body.update({k: None if v is None else round(v, 2) for k, v in _targets(record.profile, row.offset_c).items()})
    body["stages"] = [[round(at - t0, 1), stage] for at, _, _, stage, _ in record.stages]
    body["alerts"] = [[a["t"], a["kind"]] for a in record.alerts]
    body["restarts"] = [round(at - t0, 1) for at, _ in record.runs]
    return body


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


# ---- the router ------------------------------------------------------------------------------------


def history_router(recorder: HistoryRecorder) -> APIRouter:
    router = APIRouter(tags=["history"])

    def hub_cook(cook_id: str) -> Cook | None:
        hub = recorder.hub
        if hub is None:
            return None
        cooks = hub.kitchen.cooks
        if cook_id == "current":
            running = [c for c in cooks.values() if c.ended_at is None]
            if not running:
                raise HTTPException(409, detail="nothing is cooking")
            return running[-1]
        return cooks.get(cook_id)

    async def record_of(cook_id: str, with_readings: bool) -> CookRecord | None:
        result: CookRecord | None = await asyncio.to_thread(_with_reader, recorder, _record, cook_id, with_readings)
        return result

    @router.get("/api/cooks")
    async def cooks(
        response: Response,
        limit: Annotated[int, Query(ge=1, le=500, description="cooks per page")] = 50,
        offset: Annotated[int, Query(ge=0, description="cooks to skip (newest first)")] = 0,
    ) -> list[dict[str, Any]]:
        """Every recorded cook, newest first (by when it started on the time line, not the wall clock)."""
        hub = recorder.hub
        live = list(hub.kitchen.cooks.values()) if hub is not None else []
        live_ids = [c.id for c in live]

        def read(conn: sqlite3.Connection) -> tuple[list[CookRow], int, set[str]]:
            rows, total = _list(conn, limit, offset)
            return rows, total, _known(conn, live_ids)

        found = await asyncio.to_thread(_with_reader, recorder, read)
        rows, total, known = found if found is not None else ([], 0, set())
        # cooks of this run the file does not have yet (recording paused), newest first, on page one
        missing = [c for c in reversed(live) if c.id not in known]
        total += len(missing)
        response.headers["X-Total-Count"] = str(total)
        items: list[dict[str, Any]] = []
        if offset == 0 and hub is not None:
            for c in missing:
                clock = hub.clock
                items.append(
                    {
                        "id": c.id,
                        "profile": c.profile.name,
                        "title": c.profile.title,
                        "probe": c.probe,
                        "started_at": clock.iso(c.started_at),
                        "ended_at": clock.iso(c.ended_at) if c.ended_at is not None else None,
                        "outcome": c.outcome,
                        "running": c.ended_at is None,
                    }
                )
        items += [r.summary() for r in rows]
        return items[:limit]

    @router.get("/api/cooks/{cook_id}")
    async def cook(cook_id: str) -> dict[str, Any]:
        """One cook with its stage changes and alerts (the running one: with its live view)."""
        live = hub_cook(cook_id)
        record = await record_of(live.id if live else cook_id, False)
        hub = recorder.hub
        if live is not None and hub is not None:
            body = cook_json(hub.kitchen, live, hub.clock)
            if record is not None:
                body["started_at"] = iso_utc(record.row.started_wall)
                body["stages"] = _stages(record)
            else:
                cooklog = hub.logs.get(live.id)
                body["stages"] = [
                    {"at": hub.clock.iso(at), "t": round(at - live.started_at, 3), "step": step, "stage": stage}
                    for at, step, stage in (cooklog.stages if cooklog else [])
                ]
            alerts = {a["id"]: a for a in (record.alerts if record else [])}
            for a in hub.kitchen.alerts.values():
                if a.cook_id == live.id:
                    alerts[a.id] = alert_json(a, hub.clock) | {"t": round(a.at - live.started_at, 3)}
            body["alerts"] = sorted(alerts.values(), key=lambda a: a["t"])
            body["running"] = live.ended_at is None
            return body
        if record is None:
            raise HTTPException(404, detail=f"no cook {cook_id!r}")
        body = _detail(record)
        body["stages"] = _stages(record)
        body["alerts"] = record.alerts
        return body

    @router.get("/api/cooks/{cook_id}/series")
    async def cook_series(cook_id: str) -> dict[str, Any]:
        """The cook's curve for a chart (at most ~2,000 points), its stage changes and alerts."""
        live = hub_cook(cook_id)
        record = await record_of(live.id if live else cook_id, True)
        if record is not None:
            body = series(record)
            hub = recorder.hub
            if live is not None and hub is not None:
                view = cook_json(hub.kitchen, live, hub.clock)
                body.update(target_c=view["target_c"], low_c=view["low_c"], high_c=view["high_c"])
            return body
        return _memory_series(recorder, live, cook_id)

    @router.get("/api/cooks/{cook_id}/readings.csv", response_class=PlainTextResponse)
    async def readings_csv(cook_id: str) -> PlainTextResponse:
        """The cook's readings in the replay trace format; ``potwatch replay`` takes it as it is."""
        live = hub_cook(cook_id)
        name = live.id if live else cook_id
        record = await record_of(name, True)
        if record is None:
            record = _memory_record(recorder, live)
        if record is None:
            raise HTTPException(404, detail=f"no cook {cook_id!r}")
        return PlainTextResponse(
            trace_csv(record),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="potwatch-{name}.csv"'},
        )

    return router


def _memory_record(recorder: HistoryRecorder, live: Cook | None) -> CookRecord | None:
    """A cook the file does not have (yet): what the hub keeps in memory, shaped like a record."""
    hub = recorder.hub
    if hub is None or live is None:
        return None
    cooklog = hub.logs.get(live.id)
    if cooklog is None:
        return None
    clock = hub.clock
    row = CookRow(
        live.id, live.profile.name, live.profile.title, live.probe, live.channel, 0, None, live.started_at,
        clock.wall_at(live.started_at), live.ended_at, None, live.outcome, None, 0.0, 0, 0,
    )  # fmt: skip
    record = CookRecord(row, live.profile)
    record.readings = [Reading(at, c) for at, c in cooklog.points]
    record.stages = [(at, clock.wall_at(at), step, stage, None) for at, step, stage in cooklog.stages]
    record.alerts = [
        {"t": round(at - live.started_at, 3), "kind": kind, "id": alert_id} for at, alert_id, kind in cooklog.alerts
    ]
    return record


def _memory_series(recorder: HistoryRecorder, live: Cook | None, cook_id: str) -> dict[str, Any]:
    record = _memory_record(recorder, live)
    if record is None:
        raise HTTPException(404, detail=f"no cook {cook_id!r}")
    return series(record)
