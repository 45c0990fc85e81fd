"""The fixtures every heater test in a real ``potwatch run`` shares: the probe's pty and the Tasmota plug double.

A plugin (``pytest_plugins = ["tests.support.broker", "tests.support.heater_fixtures"]``)
rather than an import, so that a test's arguments shadow no imported name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.heater_service import PLUG_TOPIC
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice

if TYPE_CHECKING:
    from tests.support.broker import Broker


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


@pytest.fixture
def plug(mosquitto: Broker) -> Iterator[TasmotaDouble]:
    with TasmotaDouble(mosquitto, PLUG_TOPIC) as double:
        yield double
