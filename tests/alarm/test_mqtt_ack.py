"""Repeat-until-ack stopped from MQTT (``potwatch/cook/ack`` and Home Assistant's button) through a real Mosquitto."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.alarm.part import AlarmPart
from service.config import AlarmConfig, MqttConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Sample, StartCook
from service.core.units import f_to_c
from service.mqtt.discovery import ProbeInfo
from service.mqtt.publisher import MqttPublisher
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.alarm import RecordingChannel
from tests.support.broker import Broker, Publisher, mosquitto, mosquitto_binary, mosquitto_factory  # noqa: F401
from tests.support.clock import HandClock
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.real_part("mosquitto")


@pytest.mark.parametrize(("topic", "payload"), [("potwatch/cook/ack", None), ("potwatch/cook/ack/press", "PRESS")])
async def test_an_mqtt_ack_stops_the_repeats_and_silences_every_channel(
    mosquitto: Broker,  # noqa: F811
    topic: str,
    payload: str | None,
) -> None:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    mqtt = MqttPublisher(MqttConfig(url=f"mqtt://{mosquitto.host}:{mosquitto.port}"), [ProbeInfo("pot", "Pot")])
    channels = [RecordingChannel("push"), RecordingChannel("buzzer"), RecordingChannel("voice")]
    alarm = AlarmPart.from_config(
        list(channels), AlarmConfig(), page_url=None, token="", mqtt_connected=lambda: mqtt.connected
    )
    alarm.tick_s = 0.01
    mqtt.attach(hub)
    alarm.attach(hub)
    tasks = [asyncio.create_task(t) for t in (hub.run(), mqtt.run(), alarm.run())]
    device = None
    try:
        await wait_until_async(lambda: mqtt.connected, 10, "the MQTT part to connect")
        await hub.request(StartCook(clock.t, hub.profiles["caramel"], "pot"))
        for i in range(90):
            clock.t += 1.0
            await hub.request(Sample(clock.t, "pot", "", f_to_c(220.0 + 0.1 * i)))
        (reached,) = [a for a in hub.kitchen.alerts.values() if a.kind.value == "target_reached"]
        push = channels[0]
        for _ in range(16):
            clock.t += 1.0
            await wait_until_async(lambda: alarm.ticked_at >= clock.t, 5, "the part to tick")
        await wait_until_async(lambda: len(push.messages(reached.id)) >= 2, 5, "the push to repeat")
        device = Publisher(mosquitto, client_id="kitchen-button")
        asked = time.monotonic()
        await asyncio.to_thread(device.publish, topic, payload or reached.id)
        await wait_until_async(
            lambda: all(c.silent_since is not None and c.silent_since >= asked for c in channels),
            2.0,
            "every channel silenced by the MQTT ack",
        )
        assert reached.acked
        assert time.monotonic() - asked < 1.0 + 0.5  # the broker's round trip, then the part within 1 s
        pushes = len(push.messages(reached.id))
        for _ in range(60):
            clock.t += 1.0
            await wait_until_async(lambda: alarm.ticked_at >= clock.t, 5, "the part to tick")
        assert len(push.messages(reached.id)) == pushes
        test = await alarm.self_test()
        assert {e["kind"]: e["ok"] for e in test["channels"]}["mqtt"] is True
    finally:
        if device is not None:
            device.close()
        await mqtt.close()
        await alarm.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
