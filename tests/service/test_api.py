"""The HTTP API through httpx against the app, with a real hub task behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.api.app import AppSettings
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Sample
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.api import client_for
from tests.support.clock import HandClock


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    kitchen = Kitchen([ProbeSetup("pot"), ProbeSetup("oven")])
    hub = Hub(kitchen, HandClock(), load_profiles())
    task = asyncio.create_task(hub.run())
    yield hub
    task.cancel()


async def feed(hub: Hub, probe: str, start_f: float, rate_f_per_s: float, seconds: int) -> None:
    clock = hub.clock
    assert isinstance(clock, HandClock)
    for i in range(seconds):
        clock.t += 1.0
        await hub.request(Sample(clock.t, probe, "", f_to_c(start_f + rate_f_per_s * i)))


async def test_status_shapes(hub: Hub) -> None:
    async with client_for(hub) as client:
        r = await client.post("/api/cooks", json={"profile": "caramel", "probe": "pot"})
        assert r.status_code == 201
        await feed(hub, "pot", 215.0, 0.1, 30)
        st = (await client.get("/api/status")).json()
    pot = next(p for p in st["probes"] if p["id"] == "pot")
    assert {"id", "celsius", "fahrenheit", "at", "state"} <= set(pot)
    assert pot["state"] == "ok" and pot["at"].endswith("Z")
    assert pot["fahrenheit"] == pytest.approx(215.0 + 2.9, abs=0.01)
    cook = st["cook"]
    assert {"id", "profile", "probe", "step", "stage", "eta_s", "target_f"} <= set(cook)
    assert cook["target_f"] == pytest.approx(225.0)
    assert cook["rate_f_per_min"] == pytest.approx(6.0, abs=0.3)
    assert st["auth_required"] is False
    oven = next(p for p in st["probes"] if p["id"] == "oven")
    assert oven["state"] == "waiting" and oven["celsius"] is None


async def test_token_guards_every_post_and_changes_nothing(hub: Hub) -> None:
    async with client_for(hub, AppSettings(token="s3cret")) as client:
        for path, body in [
            ("/api/cooks", {"profile": "caramel", "probe": "pot"}),
            ("/api/cooks/current/advance", None),
            ("/api/cooks/current/stop", None),
            ("/api/alerts/all/ack", None),
            ("/api/probes/pot/calibrate", None),
        ]:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
                r = await client.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers)
        assert (await client.get("/api/status")).json()["cook"] is None
        good = {"Authorization": "Bearer s3cret"}
        r = await client.post("/api/cooks", json={"profile": "caramel", "probe": "pot"}, headers=good)
        assert r.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"probe": "pot"}, "profile"),
        ({"profile": "caramel"}, "probe"),
        ({"profile": "toffee", "probe": "pot"}, "profile"),
        ({"profile": "caramel", "probe": "grill"}, "probe"),
        ({"profile": "caramel", "probe": "pot", "colour": "red"}, "colour"),
        ({"profile": 5, "probe": "pot"}, "profile"),
    ],
)
async def test_bad_bodies_get_422_naming_the_field(hub: Hub, body: dict[str, object], field: str) -> None:
    async with client_for(hub) as client:
        r = await client.post("/api/cooks", json=body)
    assert r.status_code == 422
    assert any(d["loc"][-1] == field for d in r.json()["detail"]), r.json()


async def test_bodies_that_are_not_json_are_refused_clearly(hub: Hub) -> None:
    headers = {"content-type": "application/json"}
    async with client_for(hub) as client:
        r = await client.post("/api/cooks", content=b'{"profile": "caramel",', headers=headers)
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
        r = await client.post("/api/cooks", content=b"\xff\x00garbage", headers=headers)
        assert r.status_code == 400  # not even text: FastAPI says it could not parse the body
        assert (await client.get("/api/status")).json()["cook"] is None


async def test_404_and_409(hub: Hub) -> None:
    async with client_for(hub) as client:
        assert (await client.post("/api/alerts/a999/ack")).status_code == 404
        assert (await client.post("/api/cooks/c42/stop")).status_code == 404
        assert (await client.get("/api/cooks/c42")).status_code == 404
        assert (await client.post("/api/probes/grill/calibrate")).status_code == 404
        assert (await client.post("/api/cooks/current/advance")).status_code == 409
        assert (await client.post("/api/cooks/current/stop")).status_code == 409
        assert (await client.post("/api/cooks", json={"profile": "caramel", "probe": "pot"})).status_code == 201
        second = await client.post("/api/cooks", json={"profile": "rillons", "probe": "pot"})
        assert second.status_code == 409
        assert (await client.post("/api/probes/pot/calibrate")).status_code == 409
        # another probe is free: several cooks at once
        assert (await client.post("/api/cooks", json={"profile": "rillons", "probe": "oven"})).status_code == 201
        st = (await client.get("/api/status")).json()
        assert len(st["cooks"]) == 2


async def test_alarm_ack_flow(hub: Hub) -> None:
    async with client_for(hub) as client:
        await client.post("/api/cooks", json={"profile": "caramel", "probe": "pot"})
        await feed(hub, "pot", 220.0, 0.1, 80)  # crosses 225 °F
        st = (await client.get("/api/status")).json()
        reached = [a for a in st["alerts"] if a["kind"] == "target_reached"]
        assert len(reached) == 1 and reached[0]["active"] and reached[0]["level"] == "critical"
        r = await client.post(f"/api/alerts/{reached[0]['id']}/ack")
        assert r.status_code == 200 and r.json() == {"acked": [reached[0]["id"]]}
        st = (await client.get("/api/status")).json()
        again = next(a for a in st["alerts"] if a["id"] == reached[0]["id"])
        assert again["acked"] and not again["active"]
        assert (await client.post(f"/api/alerts/{reached[0]['id']}/ack")).json() == {"acked": []}


async def test_advance_stop_and_history_reads(hub: Hub) -> None:
    async with client_for(hub) as client:
        cook = (await client.post("/api/cooks", json={"profile": "rillons", "probe": "pot"})).json()
        await feed(hub, "pot", 190.0, 0.0, 20)
        adv = (await client.post("/api/cooks/current/advance")).json()
        assert adv["step"] == "caramel" and adv["step_kind"] == "reach"
        await feed(hub, "pot", 214.0, 0.1, 20)
        series = (await client.get(f"/api/cooks/{cook['id']}/series")).json()
        assert len(series["points"]) == 40
        csv = (await client.get(f"/api/cooks/{cook['id']}/readings.csv")).text
        assert csv.startswith("# profile: rillons\n") and "t,temp_c,probe" in csv.splitlines()
        assert len([line for line in csv.splitlines() if not line.startswith(("#", "t,"))]) == 40
        stop = (await client.post("/api/cooks/current/stop")).json()
        assert stop == {"cook": cook["id"], "outcome": "stopped"}
        listing = (await client.get("/api/cooks")).json()
        assert listing[0]["id"] == cook["id"] and listing[0]["outcome"] == "stopped"
        detail = (await client.get(f"/api/cooks/{cook['id']}")).json()
        assert [s["stage"] for s in detail["stages"]][:2] == ["heating", "holding"]


async def test_profiles_health_metrics_and_openapi(hub: Hub) -> None:
    async with client_for(hub) as client:
        profiles = (await client.get("/api/profiles")).json()
        names = [p["name"] for p in profiles]
        assert {"rillons", "caramel", "candy", "boil"} <= set(names)
        caramel = next(p for p in profiles if p["name"] == "caramel")
        assert caramel["steps"][0]["target_f"] == pytest.approx(225.0)
        assert (await client.get("/healthz")).json()["status"] == "ok"
        await feed(hub, "pot", 100.0, 0.0, 2)
        metrics = (await client.get("/metrics")).text
        assert 'potwatch_probe_temperature_celsius{probe="pot"}' in metrics
        assert 'potwatch_probe_state{probe="pot",state="ok"} 1.0' in metrics
        schema = (await client.get("/openapi.json")).json()
        for path in ["/api/status", "/api/events", "/api/cooks", "/api/alerts/{alert_id}/ack", "/healthz"]:
            assert path in schema["paths"]


async def test_calibration_from_the_api_shifts_targets(hub: Hub) -> None:
    async with client_for(hub) as client:
        r = await client.post("/api/probes/pot/calibrate")
        assert r.status_code == 202 and r.json()["profile"] == "boil"
        await feed(hub, "pot", 209.0, 0.0, 90)  # water boils at 209 °F here
        st = (await client.get("/api/status")).json()
        pot = next(p for p in st["probes"] if p["id"] == "pot")
        assert pot["boil_c"] == pytest.approx(f_to_c(209.0), abs=0.01)
        await client.post("/api/cooks", json={"profile": "caramel", "probe": "pot"})
        st = (await client.get("/api/status")).json()
        assert st["cook"]["target_f"] == pytest.approx(222.0, abs=0.01)
