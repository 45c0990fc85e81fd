"""The heater over MQTT, in a real ``potwatch run``: its state retained, Home Assistant's entities, the override.

A Tasmota plug double and a recording subscriber on the test's Mosquitto, a
USB probe on a pty reading 150 °F under the caramel, so the reach wants heat.
What is judged is what a Home Assistant user's broker carries (the retained
state, the discovery configs, checked with the strict validator) and what the
plug's own relay does when an override arrives on ``<base>/heater/<id>/override``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.publish as publish
import pytest

from service.mqtt.discovery import Message
from tests.support.figures import FigureRecorder
from tests.support.ha_discovery import validate_all
from tests.support.heater_service import heater, heater_service, heating, seconds_to_off
from tests.support.mqtt_watch import Recorder, Seen, recording
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, serving
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker", "tests.support.heater_fixtures"]

STATE = "potwatch/heater/hob/state"
OVERRIDE = "potwatch/heater/hob/override"
OFF_WITHIN_S = 1.0  # the bound for an override off, from the command to the relay
ENTITIES = {
    "homeassistant/switch/potwatch/heater_hob_control/config",
    "homeassistant/sensor/potwatch/heater_hob_duty/config",
    "homeassistant/binary_sensor/potwatch/heater_hob_heat/config",
}


def command(broker: Broker, payload: str, topic: str = OVERRIDE) -> float:
    """Publish as Home Assistant's switch does (QoS 1, not retained); returns when it was sent."""
    sent = time.monotonic()
    publish.single(topic, payload, qos=1, hostname=broker.host, port=broker.port)
    return sent


def state_where(watch: Recorder, check: Any, after: int = 0, what: str = "") -> dict[str, Any]:
    seen: Seen = watch.wait_for(lambda m: m.topic == STATE and check(json.loads(m.payload)), 10.0, after, what)
    return dict(seen.json())


def ignored(service: ServiceProcess) -> int:
    return int(service.get("/healthz")["mqtt"]["ignored"])


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_the_heater_state_is_retained_announced_and_an_mqtt_off_turns_the_plug_off_within_1_s(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, figure: FigureRecorder
) -> None:
    """Pass: the heater's state is on the broker, retained (a subscriber arriving later gets it), saying on,
    reported on, auto; the switch, duty sensor and heat binary sensor are announced and valid for Home
    Assistant; "off" on the override topic turns the plug's relay off within 1 s and the state says
    force_off, "override: off"; an unreadable payload is ignored and counted; "auto" hands the heat back."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", mqtt="")
    with (
        serving(service),
        Thermometer(device, 150.0, 0.2),
        recording(mosquitto.host, mosquitto.port) as watch,
    ):
        heating(service, plug)
        state_where(watch, lambda s: s["on"] and s["reported"] == "on" and s["override"] == "auto", what="on")
        with recording(mosquitto.host, mosquitto.port, STATE) as late:
            replayed = late.wait_for(lambda m: m.topic == STATE and m.retain, 5.0, what="the retained state")
        assert replayed.json()["id"] == "hob" and replayed.json()["probe"] == "pot", replayed.json()
        configs = wait_until(lambda: set(d := watch.discovery()) >= ENTITIES and d, 10.0, "the heater's entities")
        heater_configs = [Message(t, configs[t].text, retain=True) for t in sorted(ENTITIES)]
        assert validate_all(heater_configs) == []
        switch = json.loads(configs["homeassistant/switch/potwatch/heater_hob_control/config"].text)
        assert switch["command_topic"] == OVERRIDE and switch["state_topic"] == STATE
        assert (switch["payload_on"], switch["payload_off"]) == ("auto", "off")

        before = ignored(service)
        mark = watch.mark()
        command(mosquitto, "maybe")
        wait_until(lambda: ignored(service) > before, 5.0, "the bad payload to be ignored")
        assert plug.relay_on and heater(service)["override"] == "auto"

        sent = command(mosquitto, "off")
        wait_until(lambda: not plug.relay_on, OFF_WITHIN_S + 3.0, "the plug off")
        off_after = seconds_to_off(plug, sent)
        figure("heater_off_after_mqtt_override", off_after, "s", f"≤ {OFF_WITHIN_S:g} s")
        assert off_after <= OFF_WITHIN_S, off_after
        forced = state_where(watch, lambda s: s["override"] == "force_off", mark, "the forced-off state")
        assert forced["on"] is False and forced["reason"] == "override: off", forced

        command(mosquitto, "auto")
        wait_until(lambda: plug.relay_on, 5.0, "the heat handed back")
        assert heater(service)["override"] == "auto"


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_with_a_token_mqtt_may_force_the_heat_off_but_not_hand_it_back(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble
) -> None:
    """Pass: with a token set (and [mqtt] accept_commands left false), "off" over MQTT still turns the relay
    off, since off can only make the kitchen safer; "auto" and "on" are ignored and counted, and the relay
    stays off; an override for a heater that does not exist is ignored too."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", token="s3cret", mqtt="")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        command(mosquitto, "OFF")  # Home Assistant's default word, in capitals: taken as off
        wait_until(lambda: not plug.relay_on, 5.0, "the plug off")
        for refused in ("auto", "on"):
            before = ignored(service)
            command(mosquitto, refused)
            wait_until(lambda: ignored(service) > before, 5.0, f"{refused!r} to be ignored")  # noqa: B023
        before = ignored(service)
        command(mosquitto, "off", "potwatch/heater/oven/override")
        wait_until(lambda: ignored(service) > before, 5.0, "the unknown heater's override to be ignored")
        shown = heater(service)
        assert shown["override"] == "force_off" and not plug.relay_on, shown
