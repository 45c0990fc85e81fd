"""``GET /api/cooks…``: the one home of the cooks' read routes (the commands live in app.py).

Two sources, one contract (docs/api.md):
- the hub, which owns the kitchen: it has the last word on a cook it holds
  (the running one, and the others of this time line): its live view, whether
  it still runs, its alerts as they stand now;
- the history file, through a ``HistoryReader``: every cook ever recorded.

A cook the file does not have yet (recording paused) is served from the hub's
memory; without a history file at all (tests, a service wired without one)
every route still answers from the hub alone, with the same fields. The file
is read on a worker thread (``asyncio.to_thread``); the kitchen only on the
event loop, where the hub owns it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse

from service.api.cook_shapes import detail, live_state, memory_record, memory_row, series, stages, summary, trace_csv
from service.api.models import READ_ERRORS, Problem
from service.core.cook import Cook
from service.history.reader import CookRecord, Damaged, HistoryReader, Listing
from service.runtime.clock import iso_utc
from service.runtime.hub import Hub
from service.runtime.views import CookDetail, CookSeries, CookSummary, alert_json, cook_json

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# SQLite takes 64-bit integers; a bound far below that turns a silly offset into a 422, not a 500
MAX_OFFSET = 1_000_000_000
# a past cook the file holds but cannot read back: not "no such cook" (404), but "there, and damaged"
DAMAGED = {
    503: {
        "description": "the history file is damaged where this cook is kept (salvaged at the next start)",
        "content": {"application/json": {"schema": Problem.model_json_schema()}},
    }
}
ERRORS = READ_ERRORS | DAMAGED


def held_cook(hub: Hub, cook_id: str) -> Cook | None:
    """The hub's cook of that id; ``current``: the newest running one (409 when none runs).

    The commands (advance, stop) resolve ``current`` with this too: one meaning everywhere.
    """
    cooks = hub.kitchen.cooks
    if cook_id == "current":
        running = [c for c in cooks.values() if c.ended_at is None]
        if not running:
            raise HTTPException(409, detail="nothing is cooking")
        return running[-1]
    return cooks.get(cook_id)


class CsvResponse(PlainTextResponse):
    media_type = "text/csv"


def cooks_router(hub: Hub, history: HistoryReader | None) -> APIRouter:
    """The four read routes of the cooks, fed by ``hub`` and, when there is one, by ``history``."""
    router = APIRouter(tags=["read"])

    async def from_file(cook_id: str, with_readings: bool, held: bool) -> CookRecord | None:
        """The file's record; a damaged one is a 503 unless the hub holds the cook (it answers from memory)."""
        if history is None:
            return None
        try:
            return await asyncio.to_thread(history.record, cook_id, with_readings=with_readings)
        except Damaged as exc:
            if held:
                return None
            raise HTTPException(503, detail=str(exc)) from exc

    def from_memory(live: Cook | None) -> CookRecord | None:
        cooklog = hub.logs.get(live.id) if live is not None else None
        if live is None or cooklog is None:
            return None
        return memory_record(live, cooklog, hub.clock, hub.kitchen.probes.get(live.probe))

    @router.get("/api/cooks")
    async def list_cooks(
        response: Response,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="cooks per page")] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="cooks to skip (newest first)")] = 0,
    ) -> list[CookSummary]:
        """Every recorded cook, newest first (by when it started on the time line, not the wall clock).

        The total is in ``X-Total-Count``.
        """
        cooks = hub.kitchen.cooks
        live = list(reversed(cooks))  # the kitchen holds its cooks in the order they started
        if history is None:
            page = Listing.unrecorded(live, limit, offset)
        else:
            page = await asyncio.to_thread(history.listing, live, limit, offset)
        response.headers["X-Total-Count"] = str(page.total)
        clock = hub.clock
        items = [summary(memory_row(cooks[i], clock)) for i in page.unwritten if i in cooks]
        for row in page.rows:
            item = summary(row)
            cook = cooks.get(row.id)
            if cook is not None and item["running"] != (cook.ended_at is None):
                # the file lags the hub by up to one flush: the hub knows whether it still cooks
                item = live_state(item, cook, clock)
            if cook is not None and cook.ended_at is None:
                item["started_at"] = clock.iso(cook.started_at)  # a running cook: as /api/status says
            items.append(item)
        return items

    @router.get("/api/cooks/{cook_id}", responses=ERRORS)
    async def one_cook(cook_id: str) -> CookDetail:
        """One cook with its stage changes and alerts (one the hub holds: with its live view)."""
        live = held_cook(hub, cook_id)
        record = await from_file(live.id if live else cook_id, False, live is not None)
        if live is None:
            if record is None:
                raise HTTPException(404, detail=f"no cook {cook_id!r}")
            return detail(record)
        shaped = record or from_memory(live)
        body: dict[str, Any] = dict(detail(shaped)) if shaped is not None else {}
        body.update(cook_json(hub.kitchen, live, hub.clock))
        body["running"] = live.ended_at is None
        if record is not None and live.ended_at is not None:
            # an ended cook: the stamp it was recorded with. A running one keeps the hub's word, as
            # /api/status gives it: after the wall clock steps (NTP after boot) both move together
            body["started_at"] = iso_utc(record.row.started_wall)
        body["stages"] = stages(shaped) if shaped is not None else []
        alerts = {a["id"]: a for a in (record.alerts if record is not None else [])}
        for a in hub.kitchen.alerts.values():
            if a.cook_id == live.id:
                alerts[a.id] = alert_json(a, hub.clock) | {"t": round(a.at - live.started_at, 3)}
        body["alerts"] = sorted(alerts.values(), key=lambda a: float(a["t"]))
        return cast(CookDetail, body)

    @router.get("/api/cooks/{cook_id}/series", responses=ERRORS)
    async def cook_series(cook_id: str) -> CookSeries:
        """The cook's curve for a chart (at most ~2,000 points), its stage changes and alerts."""
        live = held_cook(hub, cook_id)
        record = await from_file(live.id if live else cook_id, True, live is not None) or from_memory(live)
        if record is None:
            raise HTTPException(404, detail=f"no cook {cook_id!r}")
        body = series(record)
        if live is not None:
            view = cook_json(hub.kitchen, live, hub.clock)  # targets as calibrated now
            body["target_c"], body["low_c"], body["high_c"] = view["target_c"], view["low_c"], view["high_c"]
        return body

    @router.get("/api/cooks/{cook_id}/readings.csv", response_class=CsvResponse, responses=ERRORS)
    async def readings_csv(cook_id: str) -> CsvResponse:
        """The cook's readings in the replay trace format; ``potwatch replay`` takes it as it is."""
        live = held_cook(hub, cook_id)
        name = live.id if live else cook_id
        record = await from_file(name, True, live is not None) or from_memory(live)
        if record is None:
            raise HTTPException(404, detail=f"no cook {cook_id!r}")
        return CsvResponse(
            trace_csv(record),
            headers={"Content-Disposition": f'attachment; filename="potwatch-{name}.csv"'},
        )

    return router
