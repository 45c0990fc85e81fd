"""Closed-loop heat in a real ``potwatch run``: a Tasmota plug double on a real Mosquitto, a USB probe on a pty.

The caramel cooks on the probe, reading 150 °F, so its reach step wants full
heat: the heater turns the plug on. Then the world breaks, one way per test,
and the plug itself (the double's relay, not what potwatch says) must end up
off within the stated time. Small minimum times and dead-man periods keep the
tests short; the controller's defaults are longer (docs/heat.md).
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.figures import FigureRecorder
from tests.support.heater_service import (
    heater,
    heater_service,
    heating,
    mismatch_alerts,
    seconds_since,
    seconds_to_off,
)
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import serving
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker", "tests.support.heater_fixtures"]

OFF_WITHIN_S = 2.0  # the issue's bound from a lost probe to the heat off


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_a_probe_unplugged_turns_the_plug_off_within_2_s(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: with the plug on, the probe's pty is closed (the cable pulled); the plug's own relay is off within
    2 s of that, by a command (the dead-man period is 60 s, so not by its timer), the status says "probe lost",
    and the heat stays off (the condition latches) while the probe is gone."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        unplugged = time.monotonic()
        device.unplug()
        wait_until(lambda: not plug.relay_on, OFF_WITHIN_S + 3.0, "the plug off")
        off_after = seconds_to_off(plug, unplugged)
        figure("heater_off_after_probe_unplugged", off_after, "s", f"≤ {OFF_WITHIN_S:g} s")
        assert off_after <= OFF_WITHIN_S, off_after
        shown = wait_until(lambda: (h := heater(service))["reason"] == "probe lost" and h, 5.0, "the reason")
        assert shown["on"] is False and shown["reported"] == "off", shown
        assert any(t.endswith("/POWER") and p == b"OFF" for _, t, p in plug.commands), plug.commands


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_sigterm_turns_the_plug_off_before_potwatch_exits(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble
) -> None:
    """Pass: with the plug on, SIGTERM; potwatch exits 0 and the OFF it sent reaches the plug: the relay is off
    within 2 s of the exit, long before its 60 s dead-man period could have done it, and the log says so.
    The history file then holds, for the cook, the ON command with its 60 s dead-man period, the plug's
    "on" report, and the OFF sent at the stop, in that order."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s")
    with serving(service), Thermometer(device, 150.0, 0.2):
        cook_id = heating(service, plug) and service.get("/api/status")["cook"]["id"]
        service.stop(signal.SIGTERM)
        assert service.proc is not None and service.proc.returncode == 0
        exited = time.monotonic()
        wait_until(lambda: not plug.relay_on, 2.0, "the plug off after the stop")
        assert seconds_to_off(plug, exited) <= 2.0
        assert "heater hob: off at the stop" in service.log()
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "potwatch.db")) as db:
        rows = db.execute(
            "SELECT what, on_, hold_s, sent, detail FROM heater_log WHERE heater = 'hob' AND cook = ? ORDER BY rowid",
            (cook_id,),
        ).fetchall()
    on_command = rows.index(("command", 1, 60.0, 1, "heating to target (225 °F)"))
    on_report = next(i for i, r in enumerate(rows) if r[:2] == ("state", 1))
    off_command = rows.index(("command", 0, None, 1, "potwatch stopping"))
    assert on_command < on_report < off_command, rows


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_sigkill_leaves_the_plug_to_its_own_pulsetime(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: with the plug on and a 3 s dead-man period, potwatch is SIGKILLed (no chance to say anything);
    the plug's own PulseTime turns it off no later than 3 s (+ 0.5 s of the double's tick and a loaded machine)
    after the kill, and nothing commanded it off meanwhile."""
    service = heater_service(tmp_path, device, mosquitto, deadman="3s")
    with serving(service, signal.SIGKILL), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        commands = len(plug.commands)
        service.stop(signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: not plug.relay_on, 6.0, "the plug's own timer to turn it off")
        off_after = seconds_to_off(plug, killed)
        figure("heater_off_after_sigkill", off_after, "s", "≤ 3 s dead-man + 0.5 s")
        assert off_after <= 3.5, off_after
        assert all(p != b"OFF" for _, t, p in plug.commands[commands:] if t.endswith("/POWER")), plug.commands


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_the_broker_killed_leaves_the_plug_to_its_own_pulsetime_and_the_heat_returns_with_it(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: with the plug on and a 3 s dead-man period, the broker is SIGKILLed (no OFF can reach the plug);
    the plug's own PulseTime turns it off no later than 3.5 s after the kill; potwatch serves throughout and
    says "link to the plug down"; once the broker is back, the plug and potwatch find each other and the
    reach, which still wants heat, turns it on again."""
    service = heater_service(tmp_path, device, mosquitto, deadman="3s")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        mosquitto.kill()
        killed = time.monotonic()
        wait_until(lambda: not plug.relay_on, 6.0, "the plug's own timer to turn it off")
        off_after = seconds_to_off(plug, killed)
        figure("heater_off_after_broker_killed", off_after, "s", "≤ 3 s dead-man + 0.5 s")
        assert off_after <= 3.5, off_after
        shown = wait_until(lambda: (h := heater(service))["reason"].startswith("link to") and h, 10.0, "link down")
        assert shown["on"] is False and shown["available"] is False, shown
        mosquitto.start()
        wait_until(lambda: plug.relay_on, 20.0, lambda: f"the heat on again; status {heater(service)}")


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_a_plug_that_ignores_the_off_raises_a_critical_heater_mismatch(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble
) -> None:
    """Pass: the plug on, then deaf (its relay stuck on); the cook is stopped, so the heat is commanded off;
    within the 1 s grace and a few seconds more a ``heater_mismatch`` alert is active, level critical, naming
    the heater, and the heater's status says it is commanded off while the plug reports on."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", grace="1s")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        plug.ignore_commands = True
        cook = service.get("/api/status")["cook"]
        assert service.post(f"/api/cooks/{cook['id']}/stop").status_code == 200
        alert = wait_until(
            lambda: next(iter(mismatch_alerts(service)), None),
            8.0,
            "a heater_mismatch alert",
        )
        assert alert["level"] == "critical" and alert["active"] is True, alert
        assert "heater hob: commanded off, the plug reports on" in alert["message"], alert
        shown = heater(service)
        assert shown["on"] is False and shown["reported"] == "on", shown
        assert plug.relay_on


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_the_cook_ended_turns_the_plug_off(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble
) -> None:
    """Pass: the plug on; the cook is stopped through the API; the plug's relay is off within 2 s, the status
    says "no cook running", and no mismatch alert is raised (the plug obeyed)."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", grace="1s")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        cook = service.get("/api/status")["cook"]
        stopped = time.monotonic()
        assert service.post(f"/api/cooks/{cook['id']}/stop").status_code == 200
        wait_until(lambda: not plug.relay_on, 5.0, "the plug off")
        assert seconds_to_off(plug, stopped) <= OFF_WITHIN_S
        shown = wait_until(lambda: (h := heater(service))["reported"] == "off" and h, 5.0, "the plug's report")
        assert shown["reason"] == "no cook running" and shown["on"] is False, shown
        # the grace is 1 s: the service's own clock 3 s past the off, then no mismatch may be there
        off_at = datetime.fromisoformat(service.get("/api/status")["now"].replace("Z", "+00:00"))
        wait_until(lambda: seconds_since(service, off_at) >= 3.0, 10.0, "3 s of the service's clock")
        assert mismatch_alerts(service) == []


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_override_off_needs_no_token_and_on_or_auto_do(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: with a token set and the plug on, "on" and "auto" without the token get 401 and change nothing;
    bad bodies get 422 and an unknown heater 404; "off" without any token gets 202 and the plug's relay is off
    within 1 s, the status saying "override: off"; "auto" with the token hands the heat back: the plug is on
    again (the reach still wants heat) and the status says "auto"."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", token="s3cret")
    path = "/api/heaters/hob/override"
    auth = {"Authorization": "Bearer s3cret"}
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        for mode in ("on", "auto"):
            refused = service.post(path, json={"mode": mode})
            assert refused.status_code == 401, refused.text
        for body in ({"mode": "of"}, {"mode": "off", "why": "x"}, {}, ["off"]):
            assert service.post(path, json=body).status_code == 422, body
        assert service.post("/api/heaters/oven/override", json={"mode": "off"}).status_code == 404
        assert plug.relay_on and heater(service)["override"] == "auto"
        asked = time.monotonic()
        answer = service.post(path, json={"mode": "off"})
        assert answer.status_code == 202 and answer.json() == {"heater": "hob", "mode": "force_off"}, answer.text
        wait_until(lambda: not plug.relay_on, 3.0, "the plug off")
        off_after = seconds_to_off(plug, asked)
        figure("heater_off_after_override", off_after, "s", "≤ 1 s")
        assert off_after <= 1.0, off_after
        shown = heater(service)
        assert shown["override"] == "force_off" and shown["reason"] == "override: off" and not shown["on"], shown
        assert service.post(path, json={"mode": "auto"}, headers=auth).status_code == 202
        wait_until(lambda: plug.relay_on, 5.0, "the plug on again")
        assert heater(service)["override"] == "auto"
