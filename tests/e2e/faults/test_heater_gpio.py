"""A GPIO relay heater in a real ``potwatch run``, on gpiozero's mock pin factory (this machine has no GPIO).

``GPIOZERO_PIN_FACTORY=mock`` is gpiozero's own switch for its mock pins; the
service runs its own code everywhere else. The pin lives in the service's
process, so what is judged is what the status says the pin reads back, and
that the heat follows the cook: on for the caramel's reach, off the moment the
probe is unplugged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, serving
from tests.support.waiting import wait_until


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


def gpio_service(tmp_path: Path, device: PtyDevice) -> ServiceProcess:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "3s"\n\n'
        '[[heaters]]\nid = "ssr"\nurl = "gpio://17?pulse=20"\nprobe = "pot"\nmin_on = "1s"\nmin_off = "1s"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    env = {"GPIOZERO_PIN_FACTORY": "mock"}
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port(), env=env)


def ssr(service: ServiceProcess) -> dict[str, Any]:
    return dict(service.get("/api/status")["heaters"][0])


@pytest.mark.real_part("pty")
def test_a_pulsed_gpio_relay_heats_the_reach_and_stops_when_the_probe_is_unplugged(
    tmp_path: Path, device: PtyDevice
) -> None:
    """Pass: the heater is available, on and reported on (its pulses run) with the probe reading 150 °F under
    the caramel; the probe's pty closed, it is off, reported off, "probe lost", within 2 s."""
    service = gpio_service(tmp_path, device)
    with serving(service), Thermometer(device, 150.0, 0.2):
        shown = wait_until(lambda: (h := ssr(service))["reported"] == "on" and h, 20.0, "the relay on")
        assert shown["on"] and shown["available"] and shown["reason"].startswith("heating to target"), shown
        unplugged = time.monotonic()
        device.unplug()
        shown = wait_until(lambda: (h := ssr(service))["reported"] == "off" and h, 5.0, "the relay off")
        assert time.monotonic() - unplugged <= 2.0 + 0.5  # the bound, plus one look at the status
        assert shown["reason"] == "probe lost" and not shown["on"], shown
