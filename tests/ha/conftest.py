"""One real Home Assistant Core and one Mosquitto for the whole session; a fresh potwatch per test.

Home Assistant takes tens of seconds to start and onboard, so it is started
once; each test starts its own ``potwatch run`` on the same broker and leaves
the broker's retained messages as a real installation would have them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.broker import Broker
from tests.support.home_assistant import HomeAssistant, ha_venv
from tests.support.net import free_port
from tests.support.parts import require_binary
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess

# The newest release this machine's Pythons run (scripts/ha-venv picks it), and the oldest
# the docs support; POTWATCH_HA_VERSION narrows the run to one release (to try another by hand).
OLDEST_SUPPORTED = "2024.3.3"
RELEASES = (
    [os.environ["POTWATCH_HA_VERSION"]] if os.environ.get("POTWATCH_HA_VERSION") else ["newest", OLDEST_SUPPORTED]
)


@pytest.fixture(scope="session", params=RELEASES)
def ha_release(request: pytest.FixtureRequest) -> str | None:
    """The release asked for; None for the newest. Each one gets its own broker and Home Assistant."""
    return None if request.param == "newest" else str(request.param)


@pytest.fixture(scope="session")
def ha_broker(tmp_path_factory: pytest.TempPathFactory, ha_release: str | None) -> Iterator[Broker]:
    broker = Broker(require_binary("mosquitto"), tmp_path_factory.mktemp("ha-broker"))
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture(scope="session")
def home_assistant(
    tmp_path_factory: pytest.TempPathFactory, ha_release: str | None, ha_broker: Broker
) -> Iterator[HomeAssistant]:
    work = tmp_path_factory.mktemp("home-assistant")
    hass = HomeAssistant(ha_venv(work, ha_release), work / "config")
    try:
        hass.start()
        hass.onboard()
        hass.add_mqtt(ha_broker)
        yield hass
    finally:
        hass.stop()


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


@pytest.fixture
def potwatch_for(tmp_path: Path, ha_broker: Broker) -> Iterator[Callable[..., ServiceProcess]]:
    """``potwatch_for(device, extra_probes="", mqtt="")``: a ``potwatch run`` (not started) cooking on the pty."""
    made: list[ServiceProcess] = []

    def make(device: PtyDevice, extra_probes: str = "", mqtt: str = "") -> ServiceProcess:
        """``extra_probes``: more ``[[probes]]`` tables; ``mqtt``: more ``[mqtt]`` lines.

        The config is rewritten on each call, the state kept.
        """
        config = tmp_path / "potwatch.toml"
        config.write_text(
            f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
            f'[mqtt]\nurl = "mqtt://{ha_broker.host}:{ha_broker.port}"\n{mqtt}\n'
            f'[[probes]]\nid = "pot"\nlabel = "Caramel pot"\n'
            f'url = "serial://{device.path}?baud=9600&format=number&unit=F"\nstale_after = "30s"\n\n'
            f"{extra_probes}\n"
            '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
        )
        service = ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())
        made.append(service)
        return service

    yield make
    for service in made:
        if service.proc is not None and service.proc.poll() is None:
            service.stop()
