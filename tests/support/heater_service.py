"""A real ``potwatch run`` heating a pot through a Tasmota plug double: what the heater fault tests share.

The caramel cooks on a USB probe on a pty, so its reach step wants full heat
while the probe reads below the target; the plug is the double of
tests/support/plugs.py on the test's Mosquitto. Small minimum times and
dead-man periods keep the tests short (the controller's defaults are longer:
docs/heat.md).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.net import free_port
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker

START_S = 20.0  # the service up, the probe read, the plug found and switched on, on a loaded machine
PLUG_TOPIC = "kitchen_plug"


def heater_service(
    tmp_path: Path,
    device: PtyDevice,
    broker: Broker,
    *,
    deadman: str,
    grace: str = "10s",
    token: str = "",
    env: dict[str, str] | None = None,
    mqtt: str | None = None,
    duty_window: str | None = None,
) -> ServiceProcess:
    """The service of every heater test; started again on the same ``tmp_path``, it resumes from its history.

    ``mqtt``: the lines of an ``[mqtt]`` section after its url (the test's broker); None: no ``[mqtt]``.
    ``duty_window``: the heater's (None: the default, 10 min).
    """
    config = tmp_path / "potwatch.toml"
    mqtt_section = f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\n{mqtt}\n' if mqtt is not None else ""
    config.write_text(
        (f'[server]\ntoken = "{token}"\n\n' if token else "")
        + mqtt_section
        + f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "3s"\n\n'
        f'[[heaters]]\nid = "hob"\nurl = "{broker.url(PLUG_TOPIC, "kind=tasmota")}"\nprobe = "pot"\n'
        f'min_on = "1s"\nmin_off = "1s"\ndeadman = "{deadman}"\nmismatch_grace = "{grace}"\n'
        + (f'duty_window = "{duty_window}"\n' if duty_window is not None else "")
        + "\n"
        + '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port(), env=env or {})


def seconds_since(service: ServiceProcess, then: datetime) -> float:
    now = datetime.fromisoformat(service.get("/api/status")["now"].replace("Z", "+00:00"))
    return (now - then).total_seconds()


def seconds_to_off(plug: TasmotaDouble, since: float) -> float:
    """From ``since`` to the relay's last change to off: a relay never switched off fails here, not as a negative."""
    off_at = plug.switched_off_at()
    assert off_at is not None, plug.switches
    return off_at - since


def heater(service: ServiceProcess) -> dict[str, Any]:
    heaters = service.get("/api/status")["heaters"]
    assert [h["id"] for h in heaters] == ["hob"], heaters
    return dict(heaters[0])


def heating(service: ServiceProcess, plug: TasmotaDouble) -> dict[str, Any]:
    """The plug on, and the status saying why: the start every test shares."""
    wait_until(lambda: plug.relay_on, START_S, lambda: f"the plug on; status {service.get('/api/status')['heaters']}")
    shown = wait_until(lambda: (h := heater(service))["reported"] == "on" and h, 5.0, "the status to show it on")
    assert shown["on"] is True and shown["available"] is True and shown["override"] == "auto", shown
    assert shown["reason"].startswith("heating to target"), shown
    assert shown["probe"] == "pot"
    return shown


def mismatch_alerts(service: ServiceProcess) -> list[dict[str, Any]]:
    return [a for a in service.get("/api/status")["alerts"] if a["kind"] == "heater_mismatch"]
