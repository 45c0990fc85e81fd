"""The heater's own failures in a real ``potwatch run``: its task dies, its reports end, it restarts mid-mismatch.

The faults are put in from outside (tests/support/inject/ on the child's
PYTHONPATH, as in the injected-exceptions scenario): the heat controller
raising on a forced-on override, and the plug driver's report stream raising
after its first "on". A part that dies stops the service so that systemd
restarts it; for a heater, the heat must go off by command before that,
not 60 s later by the plug's own timer. And a mismatch alert raised before a
restart must be cleared when the plug agrees again after it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.figures import FigureRecorder
from tests.support.heater_service import heater, heater_service, heating, mismatch_alerts, seconds_to_off
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, serving
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker", "tests.support.heater_fixtures"]

INJECT = Path(__file__).resolve().parents[2] / "support" / "inject"
OFF_WITHIN_S = 2.0  # the heat off by command, long before the 60 s dead-man period
EXIT_WITHIN_S = 10.0  # the service's stop: the parts' close and the tasks' cancel


def injected(*parts: str) -> dict[str, str]:
    path = os.pathsep.join([str(INJECT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": path, "POTWATCH_INJECT": ",".join(parts)}


def exited(service: ServiceProcess, within: float) -> int:
    assert service.proc is not None
    proc = service.proc
    wait_until(lambda: proc.poll() is not None, within, lambda: f"potwatch to exit\n{service.log()}")
    return proc.returncode


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_a_heat_controller_that_raises_turns_the_plug_off_and_stops_the_service(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: the plug on; a forced-on override makes the controller raise; the plug's relay is off within 2 s,
    by an OFF command (its dead-man period is 60 s); the service then exits 1 (for systemd to restart it),
    and its log names the fault and says the heat went off."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", env=injected("heat_controller"))
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        commands = len(plug.commands)
        asked = time.monotonic()
        assert service.post("/api/heaters/hob/override", json={"mode": "on"}).status_code == 202
        wait_until(lambda: not plug.relay_on, OFF_WITHIN_S + 3.0, "the plug off")
        off_after = seconds_to_off(plug, asked)
        figure("heater_off_after_controller_fault", off_after, "s", f"≤ {OFF_WITHIN_S:g} s")
        assert off_after <= OFF_WITHIN_S, off_after
        assert any(t.endswith("/POWER") and p == b"OFF" for _, t, p in plug.commands[commands:]), plug.commands
        assert exited(service, EXIT_WITHIN_S) == 1
    log = service.log()
    assert "injected into the heat controller" in log, log
    assert "a heater failed: the heat goes off on every plug" in log, log
    assert "heater hob: off at the stop" in log, log
    assert not plug.relay_on


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_a_plug_whose_reports_end_is_turned_off_and_the_service_stops(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: the driver's report stream raises once it has handed over the plug's first "on": without reports
    the controller would go on judging a plug it no longer hears, so the relay is off within 2 s of its switch
    on, by command, and the service exits 1 with the fault in its log."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", env=injected("heater_reports"))
    with serving(service), Thermometer(device, 150.0, 0.2):
        # on and off again may both come between two looks at the relay: its record of switches is what counts
        on_at = wait_until(
            lambda: next((t for t, on in plug.switches if on), None), 20.0, lambda: f"the plug on\n{service.log()}"
        )
        wait_until(lambda: not plug.relay_on and plug.switches[-1][0] > on_at, OFF_WITHIN_S + 3.0, "the plug off")
        off_after = seconds_to_off(plug, on_at)
        figure("heater_off_after_reports_ended", off_after, "s", f"≤ {OFF_WITHIN_S:g} s")
        assert off_after <= OFF_WITHIN_S, off_after
        assert exited(service, EXIT_WITHIN_S) == 1
    log = service.log()
    assert "injected into heater hob's reports" in log, log
    assert "heater hob: off at the stop" in log, log


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
@pytest.mark.parametrize("healed_while_down", [False, True], ids=["still lying after", "healed while down"])
def test_a_mismatch_raised_before_a_restart_stays_one_alert_and_its_end_is_seen_after(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, healed_while_down: bool
) -> None:
    """Pass: the plug on, then lying (its reports say off): one critical ``heater_mismatch``; SIGTERM and a
    restart on the same history. While it still lies, the restored alert stays the only one (the stop's OFF,
    which the lying plug answers "on", is no agreement). When it tells the truth, whether it healed while
    potwatch was down or after, the end of that mismatch is seen: when it lies again, that is a new alert."""
    with Thermometer(device, 150.0, 0.2):
        first = heater_service(tmp_path, device, mosquitto, deadman="6s", grace="1s")
        with serving(first):
            heating(first, plug)
            plug.lie = True
            alert = wait_until(lambda: next(iter(mismatch_alerts(first)), None), 10.0, "a heater_mismatch alert")
            assert alert["level"] == "critical" and "commanded on, the plug reports off" in alert["message"], alert
        assert first.proc is not None and first.proc.returncode == 0
        plug.lie = not healed_while_down
        second = heater_service(tmp_path, device, mosquitto, deadman="6s", grace="1s")
        with serving(second):
            wait_until(lambda: plug.relay_on and heater(second)["on"], 20.0, "the heat on again after the restart")
            if not healed_while_down:
                # the grace is 1 s and the plug is re-armed every 2 s: two re-arms on, still the one alert
                heard = len(plug.commands)
                wait_until(lambda: len(plug.commands) >= heard + 4, 10.0, "two re-arms heard")
                assert [a["id"] for a in mismatch_alerts(second)] == [alert["id"]], mismatch_alerts(second)
                plug.lie = False
            wait_until(lambda: heater(second)["reported"] == "on", 10.0, "the plug's true report")
            heard = len(plug.commands)
            wait_until(lambda: len(plug.commands) >= heard + 4, 10.0, "two re-arms answered truly")
            assert [a["id"] for a in mismatch_alerts(second)] == [alert["id"]], mismatch_alerts(second)
            plug.lie = True
            alerts = wait_until(lambda: len(a := mismatch_alerts(second)) == 2 and a, 10.0, "a second alert")
            assert {a["id"] for a in alerts} > {alert["id"]}, alerts
