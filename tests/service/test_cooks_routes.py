"""``GET /api/cooks…``: one router, one contract, fed by the hub and a real SQLite file the recorder wrote."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from service.api.app import AppSettings, create_app
from service.core.cook import ProbeSetup
from service.core.events import StartCook, StopCook
from service.history import HistoryReader, HistoryRecorder
from service.history.restore import restore_now
from service.runtime.hub import Hub
from tests.support.clock import HandClock
from tests.support.history import PROFILES, climb, feed, recorder_for, start, stop

ROUTES = ["/api/cooks", "/api/cooks/{id}", "/api/cooks/{id}/series", "/api/cooks/{id}/readings.csv"]
SUMMARY = {"id", "profile", "title", "probe", "started_at", "ended_at", "outcome", "running"}


def client(hub: Hub, reader: HistoryReader | None, routers: list[APIRouter] | None = None) -> httpx.AsyncClient:
    app = create_app(hub, AppSettings(history=reader, routers=routers or []))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def one_cook_recorded(path: Path, clock: HandClock, *, stopped: bool = True) -> tuple[Hub, HistoryRecorder]:
    """A caramel cook that reached its target, written to ``path`` by the recorder (its writer then stopped)."""
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, climb(200.0, 229.5, 60))
    if stopped:
        hub.apply(StopCook(clock.t, "1-c1"))
    stop(recorder)
    return hub, recorder


def unrecorded(path: Path, clock: HandClock) -> tuple[Hub, HistoryRecorder]:
    """A later start whose writer never runs: what its hub does is in memory only (recording paused)."""
    recorder = recorder_for(path)
    kitchen, _ = restore_now(recorder, [ProbeSetup("pot")], clock)
    hub = Hub(kitchen, clock, PROFILES)
    recorder.attach(hub)
    return hub, recorder


class OtherPart:
    """A part with a route of its own, to be wired before or after the history."""

    name = "other"

    def routers(self) -> list[APIRouter]:
        router = APIRouter()
        router.add_api_route("/api/other", lambda: {"other": True})
        return [router]


async def answers(c: httpx.AsyncClient, cook_id: str) -> dict[str, Any]:
    """What each route says: status, the listing's header, and its fields (the CSV: its first line)."""
    out: dict[str, Any] = {}
    for route in ROUTES:
        r = await c.get(route.replace("{id}", cook_id))
        if r.is_error:
            body: Any = r.json()
        elif route.endswith(".csv"):
            body = r.text.splitlines()[0]
        elif route == "/api/cooks":
            body = [sorted(item) for item in r.json()]
        else:
            body = sorted(r.json())
        out[route] = (r.status_code, r.headers.get("X-Total-Count"), body)
    return out


@pytest.fixture
async def past_and_running(tmp_path: Path) -> AsyncIterator[tuple[Hub, HistoryReader]]:
    """One cook in the file from an earlier start, one running now in the hub (and in the file)."""
    path = tmp_path / "h.db"
    clock = HandClock()
    one_cook_recorded(path, clock)
    later = HandClock(clock.t + 100.0)
    hub, recorder = start(path, later)
    hub.apply(StartCook(later.t, PROFILES["caramel"], "pot"))
    feed(hub, later, climb(200.0, 215.0, 20))
    assert recorder.sync()
    yield hub, HistoryReader(path)
    stop(recorder)


@pytest.mark.parametrize("order", ["history first", "history last"])
async def test_every_route_has_one_contract_whatever_the_wiring_order(
    past_and_running: tuple[Hub, HistoryReader], order: str
) -> None:
    hub, reader = past_and_running
    parts = [OtherPart(), HistoryRecorder(reader.path)]
    if order == "history first":
        parts.reverse()
    routers = [router for part in parts for router in part.routers()]
    seen = []
    for routers_in_order in itertools.permutations(routers):
        async with client(hub, reader, list(routers_in_order)) as c:
            assert (await c.get("/api/other")).json() == {"other": True}
            seen.append({"past": await answers(c, "1-c1"), "running": await answers(c, "current")})
    assert all(s == seen[0] for s in seen)
    listing = seen[0]["past"]["/api/cooks"]
    assert listing[0] == 200 and listing[1] == "2"
    assert all(set(item) == SUMMARY for item in listing[2])
    for which in ("past", "running"):
        status, _, fields = seen[0][which]["/api/cooks/{id}"]
        assert status == 200
        calibration = {"measured_boil_c", "calibration_offset_c", "calibration_offset_f"}
        assert SUMMARY | calibration | {"steps", "stages", "alerts", "target_c", "low_c", "high_c"} <= set(fields)
        status, _, fields = seen[0][which]["/api/cooks/{id}/series"]
        assert status == 200 and {"cook", "t0", "points", "stages", "alerts", "restarts"} <= set(fields)
        assert seen[0][which]["/api/cooks/{id}/readings.csv"] == (200, None, "# profile: caramel")


async def test_without_a_history_file_the_fields_are_the_same(past_and_running: tuple[Hub, HistoryReader]) -> None:
    hub, reader = past_and_running
    async with client(hub, reader) as c:
        with_file = await answers(c, "current")
    async with client(hub, None) as c:
        memory_only = await answers(c, "current")
    assert with_file["/api/cooks"][1] == "2" and memory_only["/api/cooks"][1] == "1"
    assert with_file["/api/cooks"][2][0] == memory_only["/api/cooks"][2][0]
    for route in ROUTES[1:]:
        assert with_file[route] == memory_only[route], route


async def test_a_part_that_serves_a_cooks_route_again_is_refused(tmp_path: Path) -> None:
    hub, recorder = unrecorded(tmp_path / "h.db", HandClock())
    again = APIRouter()
    again.add_api_route("/api/cooks", lambda: [])
    with pytest.raises(ValueError, match="two routes answer GET /api/cooks"):
        create_app(hub, AppSettings(history=HistoryReader(recorder.path), routers=[again]))
    recorder.store.close()


async def test_paging_runs_across_the_memory_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    for n in range(1, 4):
        hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
        feed(hub, clock, [200.0] * 5)
        hub.apply(StopCook(clock.t, f"1-c{n}"))
    stop(recorder)
    # a later start with recording paused: its two cooks are in memory only, and they are the newest
    hub2, recorder2 = unrecorded(path, HandClock(clock.t + 100.0))
    hub2.apply(StartCook(hub2.clock.monotonic(), PROFILES["caramel"], "pot"))
    hub2.apply(StopCook(hub2.clock.monotonic(), "2-c1"))
    hub2.apply(StartCook(hub2.clock.monotonic(), PROFILES["caramel"], "pot"))
    newest_first = ["2-c2", "2-c1", "1-c3", "1-c2", "1-c1"]
    async with client(hub2, HistoryReader(path)) as c:
        r = await c.get("/api/cooks")
        assert [x["id"] for x in r.json()] == newest_first and r.headers["X-Total-Count"] == "5"
        assert [x["running"] for x in r.json()] == [True, False, False, False, False]
        for limit in (1, 2, 3):
            ids = []
            for offset in range(0, 6, limit):
                page = await c.get("/api/cooks", params={"limit": limit, "offset": offset})
                assert page.headers["X-Total-Count"] == "5"
                assert len(page.json()) == min(limit, 5 - offset)
                ids += [x["id"] for x in page.json()]
            assert ids == newest_first, limit
        assert (await c.get("/api/cooks", params={"offset": 5})).json() == []
    recorder2.store.close()


async def test_the_hub_has_the_last_word_on_a_cook_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, _ = one_cook_recorded(path, clock, stopped=False)  # the file: running, last seen "reached"
    feed(hub, clock, [234.0] * 30)  # the hub alone sees the overshoot (the writer has stopped)
    reader = HistoryReader(path)
    record = reader.record("1-c1", with_readings=False)
    assert record is not None and record.row.running and record.stages[-1][3] == "reached"
    async with client(hub, reader) as c:
        running = (await c.get("/api/cooks/current")).json()
        assert running["id"] == "1-c1" and running["running"] and running["stage"] == "overshoot"
        assert running["level_f"] > 232.0  # the live view: the file never saw more than 229.5 °F
        assert any(a["kind"] == "target_overshoot" and a["active"] for a in running["alerts"])
        hub.apply(StopCook(clock.t, "1-c1"))
        (listed,) = (await c.get("/api/cooks")).json()
        assert listed["running"] is False and listed["outcome"] == "stopped" and listed["ended_at"]
        assert (await c.get("/api/cooks/current")).status_code == 409


async def test_a_running_cooks_start_agrees_with_the_status_after_the_wall_clock_steps(tmp_path: Path) -> None:
    """An NTP sync after boot moves the wall clock: every route must still give one start for a running cook."""
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, _ = one_cook_recorded(path, clock, stopped=False)
    clock.jump = 3600.0  # the Pi booted an hour behind; NTP has just put it right
    async with client(hub, HistoryReader(path)) as c:
        status = (await c.get("/api/status")).json()["cook"]["started_at"]
        detail = (await c.get("/api/cooks/1-c1")).json()["started_at"]
        (listed,) = (await c.get("/api/cooks")).json()
        assert detail == status == listed["started_at"]
        hub.apply(StopCook(clock.t, "1-c1"))
        # ended: the stamp it was recorded with (before the step), in the listing and the detail alike
        ended = (await c.get("/api/cooks/1-c1")).json()["started_at"]
        (listed,) = (await c.get("/api/cooks")).json()
        assert ended == listed["started_at"] < status


async def test_a_past_cook_comes_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    one_cook_recorded(path, clock)
    hub, recorder = unrecorded(path, HandClock(clock.t + 100.0))
    assert "1-c1" not in hub.kitchen.cooks  # a new time line: the hub knows nothing of it
    async with client(hub, HistoryReader(path)) as c:
        past = (await c.get("/api/cooks/1-c1")).json()
        assert past["running"] is False and past["outcome"] == "stopped" and past["duration_s"] == 60.0
        assert past["steps"] == ["caramel"] and past["calibration"] == {"boil_c": None, "offset_c": 0.0}
        assert [s["stage"] for s in past["stages"]] == ["heating", "approaching", "reached"]
        assert "target_reached" in [a["kind"] for a in past["alerts"]]
        series = (await c.get("/api/cooks/1-c1/series")).json()
        assert len(series["points"]) == 60 and series["restarts"] == []
        csv = (await c.get("/api/cooks/1-c1/readings.csv")).text.splitlines()
        assert csv[0] == "# profile: caramel" and len([x for x in csv if x.endswith(",pot")]) == 60
        for route in ROUTES[1:]:
            assert (await c.get(route.replace("{id}", "9-c9"))).status_code == 404
    recorder.store.close()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("offset=" + "9" * 30, "offset"),  # past SQLite's 64-bit integers: once a 500
    ],
)
@pytest.mark.parametrize("with_file", [True, False])
async def test_a_garbage_query_gets_422_naming_the_parameter(
    tmp_path: Path, query: str, field: str, with_file: bool
) -> None:
    hub, recorder = unrecorded(tmp_path / "h.db", HandClock())
    async with client(hub, HistoryReader(recorder.path) if with_file else None) as c:
        r = await c.get(f"/api/cooks?{query}")
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["query", field]]
    recorder.store.close()


@pytest.mark.parametrize("cook_id", ["%00", "x'y;--", "a" * 5000, "%E2%82%AC", "current%20"])
async def test_an_odd_cook_id_is_a_404(tmp_path: Path, cook_id: str) -> None:
    path = tmp_path / "h.db"
    one_cook_recorded(path, HandClock())
    hub, recorder = unrecorded(path, HandClock(5000.0))
    async with client(hub, HistoryReader(path)) as c:
        for route in ROUTES[1:]:
            assert (await c.get(route.replace("{id}", cook_id))).status_code == 404, route
    recorder.store.close()
