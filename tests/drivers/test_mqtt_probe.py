"""The MQTT probe through a real Mosquitto (tests/support/broker.py), as on the Pi.

Each test plays the device with a paho client (or a vanishing one, for a
device losing power), reads through ``events()`` and waits on the events it
expects, with a timeout: no sleep-and-hope. The only sleeps are outages a
scenario asks for (a broker that stays down for 3 s).

Broker restarts are timed: from the moment the restarted broker accepts TCP
connections to the first new reading through the probe. The times are
printed and recorded in the JUnit XML (``record_property``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from drivers.base import ProbeDown, ProbeNotice, ProbeUrlError, Reading
from drivers.mqtt_link import LinkDown, LinkError, LinkSettings, LinkUp, Message, MqttLink, check_topic_filter
from drivers.mqtt_probe import MqttMonitor, MqttProbe, MqttSettings, Timing, settings_from_url
from drivers.registry import open_probe, parse_probe_url
from tests.support.broker import retained_now
from tests.support.events import EventCollector, is_down, is_fault, is_notice, is_reading
from tests.support.parts import require_binary
from tests.support.waiting import wait_until_async

if TYPE_CHECKING:  # imported at run time by pytest_plugins, so that pytest rewrites its asserts
    from tests.support.broker import Broker, Publisher

# The broker fixtures (mosquitto, mosquitto_factory, publisher) live in tests/support/broker.py.
pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")

# How long a wait on the probe lasts unless a test says otherwise: each event
# comes through a real broker, slower on a loaded machine than a pty.
BROKER_WAIT_S = 5.0

TASMOTA_SENSOR = (
    '{"Time":"2024-02-01T18:00:00","DS18B20-1":{"Id":"01183379C9FF","Temperature":%s},'
    '"DS18B20-2":{"Id":"011833902FFF","Temperature":21.0},"TempUnit":"C"}'
)


# ---------------------------------------------------------------------------
# helpers


def probe_at(broker: Broker, topic: str, query: str = "", timing: Timing | None = None, **kw: str) -> MqttProbe:
    url = broker.url(topic, query, **kw)
    return MqttProbe("pot", settings_from_url(parse_probe_url(url)), time.monotonic, timing)


async def connected(events: EventCollector, after: int = 0, timeout: float = 5.0) -> None:
    await events.wait_for(is_notice("connected to"), timeout, after)


# ---------------------------------------------------------------------------
# URLs: checked before any I/O


def test_url_defaults_and_derived_topics() -> None:
    s = settings_from_url(parse_probe_url("mqtt://kitchen.local/tele/kitchen/SENSOR?channel=DS18B20-1"))
    assert (s.link.host, s.link.port, s.link.tls) == ("kitchen.local", 1883, False)
    assert (s.topic, s.fmt, s.fmt_guessed, s.lwt) == ("tele/kitchen/SENSOR", "tasmota", True, "tele/kitchen/LWT")
    assert s.decoder.channel == "DS18B20-1"
    assert s.subscriptions == ["tele/kitchen/SENSOR", "tele/kitchen/LWT"]

    tls = settings_from_url(parse_probe_url("mqtts://user:s3cret@broker.lan/kitchen/sensor/pot/state"))
    assert (tls.link.port, tls.link.tls, tls.link.username, tls.link.password) == (8883, True, "user", "s3cret")
    assert (tls.fmt, tls.lwt) == ("number", "kitchen/status")
    assert "s3cret" not in tls.url

    rtl = settings_from_url(parse_probe_url("mqtt://pi:1884/rtl_433/%23?format=rtl_433&model=ThermoPro-TP829b&id=92"))
    assert (rtl.topic, rtl.lwt, rtl.decoder.model, rtl.decoder.device_id) == (
        "rtl_433/#",
        None,
        "ThermoPro-TP829b",
        "92",
    )
    assert rtl.decoder.per_topic

    off = settings_from_url(parse_probe_url("mqtt://pi/tele/kitchen/SENSOR?format=tasmota&lwt="))
    assert off.lwt is None and off.subscriptions == ["tele/kitchen/SENSOR"]
    own = settings_from_url(
        parse_probe_url("mqtt://pi/kitchen/probe?format=json&channel=probe.temp_f&lwt=kitchen/alive")
    )
    assert own.lwt == "kitchen/alive"
    assert settings_from_url(parse_probe_url("mqtt://pi/kitchen/probe")).fmt == "auto"
    assert settings_from_url(parse_probe_url("mqtt://pi/x?format=ESPHome")).fmt == "number"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mqtt://pi:1883/tele/kitchen/SENSOR?format=tasmota&baud=9600", "unknown option 'baud'"),
        ("mqtt://pi:1883/tele/kitchen/SENSOR?format=zigbee", "format='zigbee'"),
        ("mqtt://pi:1883/tele/kitchen/SENSOR?unit=K", "unit='K'"),
        ("mqtt://pi:1883/?format=number", "topic is missing"),
        ("mqtt://pi:1883?format=number", "topic is missing"),
        ("mqtt:///tele/kitchen/SENSOR", "host is missing"),
        ("mqtt://pi:1883/rtl_433/#?format=rtl_433", "%23"),
        ("mqtt://pi:1883/tele/kit+chen/SENSOR", "'+' must be a whole level"),
        ("mqtt://pi:1883/rtl_433/%23/events", "'#' must be a whole level"),
        ("mqtt://pi:1883/tele/kitchen/SENSOR?format=tasmota&model=x", "model= and id="),
        ("mqtt://pi:1883/tele/kitchen/SENSOR?cafile=/etc/ca.pem", "cafile= only applies to mqtts"),
        ("mqtt://pi:1883/tele/kitchen/SENSOR?lwt=a/%23/b", "lwt='a/#/b'"),
        ("mqtt://pi:1883/kitchen/sensor/pot/state?channel=pot", "one value per topic"),
    ],
)
def test_bad_urls_are_refused_before_any_io(url: str, complaint: str) -> None:
    with pytest.raises(ProbeUrlError, match=None) as info:
        open_probe("pot", url)
    assert complaint in str(info.value)


def test_open_probe_gives_an_mqtt_probe_without_connecting() -> None:
    # Port 9 (discard) on a documentation address: nothing is contacted until events().
    probe = open_probe("oven", "mqtt://192.0.2.1:9/tele/oven/SENSOR?format=tasmota&channel=MAX31855")
    assert isinstance(probe, MqttProbe) and probe.probe_id == "oven" and probe.link is None


@pytest.mark.parametrize(
    ("topic", "ok"),
    [("a/b", True), ("a/+/c", True), ("#", True), ("a/#", True), ("a/#/c", False), ("a+/b", False), ("", False)],
)
def test_topic_filters(topic: str, ok: bool) -> None:
    assert (check_topic_filter(topic) is None) is ok


# ---------------------------------------------------------------------------
# the monitor alone: decisions with time passed in


def monitor_for(url: str, timing: Timing | None = None) -> MqttMonitor:
    settings: MqttSettings = settings_from_url(parse_probe_url(url))
    return MqttMonitor("pot", settings, timing or Timing())


def test_monitor_silence_is_told_once_per_silence() -> None:
    m = monitor_for("mqtt://pi/tele/kitchen/SENSOR", Timing(silence_notice=60))
    assert m.on_link(LinkUp(100.0, "pi:1883"))[0].message.startswith("connected to pi:1883")  # type: ignore[union-attr]
    assert m.on_tick(159.0) == []
    told = m.on_tick(160.0)
    assert len(told) == 1 and "no message on tele/kitchen/SENSOR for 60 s" in told[0].message  # type: ignore[union-attr]
    assert "TelePeriod" in told[0].message  # type: ignore[union-attr]
    assert m.on_tick(300.0) == []
    m.on_link(Message(301.0, "tele/kitchen/SENSOR", (TASMOTA_SENSOR % "21.5").encode()))
    assert m.on_tick(350.0) == []
    assert len(m.on_tick(361.0)) == 1
    m.on_link(LinkDown(362.0, "connection lost", True))
    assert m.on_tick(1000.0) == []  # not connected: the link's own notice says why


def test_monitor_garbage_is_summarised_not_repeated() -> None:
    m = monitor_for("mqtt://pi/kitchen/sensor/pot/state", Timing(garbage_notice_every=60))
    first = m.on_link(Message(10.0, "kitchen/sensor/pot/state", b"hot"))
    assert len(first) == 1 and "dropped an unreadable payload" in first[0].message  # type: ignore[union-attr]
    for i in range(50):
        assert m.on_link(Message(11.0 + i, "kitchen/sensor/pot/state", b"\xff")) == []
    later = m.on_link(Message(71.0, "kitchen/sensor/pot/state", b"warm"))
    assert "dropped 51 unreadable payloads" in later[0].message  # type: ignore[union-attr]
    assert m.unreadable == 52
    good = m.on_link(Message(72.0, "kitchen/sensor/pot/state", b"107.25"))
    assert next(e for e in good if isinstance(e, Reading)).celsius == 107.25


def test_monitor_gives_a_no_value_payload_to_every_channel_it_has_seen() -> None:
    m = monitor_for("mqtt://pi/kitchen/probe?format=json")
    m.on_link(Message(1.0, "kitchen/probe", b'{"pot": 107.2, "oven": 180.0}'))
    out = m.on_link(Message(2.0, "kitchen/probe", b"nan"))
    faults = [(e.channel, e.celsius, e.fault) for e in out if isinstance(e, Reading)]
    assert faults == [
        ("pot", None, "the sensor has no value ('nan')"),
        ("oven", None, "the sensor has no value ('nan')"),
    ]
    assert m.unreadable == 0
    first = monitor_for("mqtt://pi/kitchen/probe").on_link(Message(1.0, "kitchen/probe", b"NaN"))
    assert [(e.channel, e.celsius) for e in first if isinstance(e, Reading)] == [("", None)]


def test_monitor_availability_changes_only() -> None:
    m = monitor_for("mqtt://pi/tele/kitchen/SENSOR")
    lwt = "tele/kitchen/LWT"
    assert "says 'Online'" in m.on_link(Message(1.0, lwt, b"Online", retain=True))[0].message  # type: ignore[union-attr]
    assert m.on_link(Message(2.0, lwt, b"Online")) == []
    down = m.on_link(Message(3.0, lwt, b"Offline"))
    assert len(down) == 1 and isinstance(down[0], ProbeDown) and "'Offline'" in down[0].reason
    assert m.on_link(Message(4.0, lwt, b"Offline")) == []
    assert m.on_link(Message(5.0, lwt, b"rebooting")) == []
    assert isinstance(m.on_link(Message(6.0, lwt, b"Online"))[0], ProbeNotice)
    m.on_link(LinkUp(7.0, "pi:1883"))  # after a reconnect the retained LWT counts again
    assert isinstance(m.on_link(Message(8.0, lwt, b"Offline", retain=True))[0], ProbeDown)


def test_monitor_stamps_readings_with_the_arrival_time_and_marks_retained_ones() -> None:
    m = monitor_for("mqtt://pi/tele/kitchen/SENSOR?channel=DS18B20-1")
    out = m.on_link(Message(42.5, "tele/kitchen/SENSOR", (TASMOTA_SENSOR % "107.3").encode(), retain=True))
    reading = [e for e in out if isinstance(e, Reading)]
    assert [(r.channel, r.celsius, r.at, r.live) for r in reading] == [("DS18B20-1", 107.3, 42.5, False)]
    assert reading[0].raw.startswith('{"Time":"2024-02-01T18:00:00"')
    notice = next(e for e in out if isinstance(e, ProbeNotice))
    assert "recognised Tasmota" in notice.message and "retained" in notice.message
    assert "channel DS18B20-1 (also in the message: DS18B20-2)" in notice.message
    second = monitor_for("mqtt://pi/tele/kitchen/SENSOR?channel=DS18B20_2")
    said = second.on_link(Message(1.0, "tele/kitchen/SENSOR", (TASMOTA_SENSOR % "107.3").encode()))
    assert any(isinstance(e, ProbeNotice) and "channel DS18B20-2 (also" in e.message for e in said)
    big = Message(43.0, "tele/kitchen/SENSOR", b"{" * 100, size=1 << 20)
    assert "1048576 bytes" in m.on_link(big)[0].message  # type: ignore[union-attr]


def test_monitor_warns_once_about_several_rtl_433_devices() -> None:
    m = monitor_for("mqtt://pi/rtl_433/pi/events")
    nexus = b'{"model":"Nexus-TH","id":42,"temperature_C":20.5}'
    tp = b'{"model":"ThermoPro-TP829b","id":92,"temperature_1_C":107.1}'
    m.on_link(Message(1.0, "rtl_433/pi/events", nexus))
    out = m.on_link(Message(2.0, "rtl_433/pi/events", tp))
    warn = [e for e in out if isinstance(e, ProbeNotice) and "several devices" in e.message]
    assert len(warn) == 1 and "model= and id=" in warn[0].message
    assert not any("several" in getattr(e, "message", "") for e in m.on_link(Message(3.0, "rtl_433/pi/events", nexus)))


# ---------------------------------------------------------------------------
# end to end, one test per source


async def test_tasmota_through_the_broker(mosquitto: Broker, publisher: Publisher) -> None:
    publisher.publish("tele/kitchen/LWT", "Online", retain=True)
    probe = probe_at(mosquitto, "tele/kitchen/SENSOR", "format=tasmota&channel=DS18B20-1")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        start = await ev.wait_for(is_notice("MQTT probe"))
        assert "format tasmota" in start.message and "tele/kitchen/LWT" in start.message  # type: ignore[union-attr]
        await connected(ev)
        await ev.wait_for(is_notice("Tasmota says 'Online'"))
        publisher.publish("tele/kitchen/SENSOR", TASMOTA_SENSOR % "107.25")
        reading = await ev.reading(is_reading(107.25, "DS18B20-1"))
        assert reading.live and reading.fault is None and reading.raw.startswith('{"Time"')
        await ev.wait_for(is_notice("recognised Tasmota", "channel DS18B20-1"))
        publisher.publish(
            "tele/kitchen/SENSOR", '{"DS18B20-2":{"Id":"011833902FFF","Temperature":21.0},"TempUnit":"C"}'
        )
        await ev.wait_for(is_fault("DS18B20-1"))
    assert ev.count(is_reading(21.0)) == 0  # DS18B20-2 was not selected


async def test_tasmota_status_reply_and_an_open_thermocouple(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "stat/kitchen/STATUS10")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish(
            "stat/kitchen/STATUS10",
            '{"StatusSNS":{"Time":"2024-02-01T18:00:00","MAX31855":{"Temperature":107.5,'
            '"ReferenceTemperature":25.0,"Error":0},"TempUnit":"C"}}',
        )
        await ev.reading(is_reading(107.5, "MAX31855"))
        publisher.publish(
            "stat/kitchen/STATUS10",
            '{"StatusSNS":{"MAX31855":{"Temperature":null,"ReferenceTemperature":25.0,"Error":1},"TempUnit":"C"}}',
        )
        fault = await ev.reading(is_fault("MAX31855"))
        assert fault.celsius is None and fault.fault == "thermocouple open circuit (Error 1)"
    assert ev.count(is_reading(25.0)) == 0  # the cold junction is not the pot


async def test_esphome_number_nan_and_status_offline(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "kitchen/sensor/pot_temperature/state", "unit=F")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish("kitchen/status", "online", retain=True)
        await ev.wait_for(is_notice("says 'online'", "kitchen/status"))
        publisher.publish("kitchen/sensor/pot_temperature/state", "225.0")
        reading = await ev.reading(is_reading(channel=""))
        assert reading.celsius is not None and round(reading.celsius, 2) == 107.22
        publisher.publish("kitchen/sensor/pot_temperature/state", "nan")
        await ev.wait_for(is_fault(""))
        publisher.publish("kitchen/status", "offline", retain=True)
        down = await ev.wait_for(is_down)
        assert "'offline'" in down.reason  # type: ignore[union-attr]


async def test_rtl_433_events_with_a_device_filter(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "rtl_433/+/events", "model=ThermoPro-TP829b&id=92&channel=temperature_1")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish(
            "rtl_433/pi/events",
            '{"time":"2024-06-01 12:00:00","model":"Nexus-TH","id":42,"channel":2,"temperature_C":20.5,"humidity":83}',
        )
        publisher.publish(
            "rtl_433/pi/events",
            '{"time":"2024-06-01 12:00:01","model":"ThermoPro-TP829b","id":92,"temperature_1_C":107.1,'
            '"temperature_2_C":98.0,"mic":"CHECKSUM"}',
        )
        await ev.reading(is_reading(107.1, "temperature_1"))
    assert ev.count(is_reading(20.5)) == 0 and ev.count(is_reading(98.0)) == 0


async def test_rtl_433_per_field_device_topics(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "rtl_433/pi/devices/ThermoPro-TP829b/92/+", "format=rtl_433")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        base = "rtl_433/pi/devices/ThermoPro-TP829b/92"
        publisher.publish(f"{base}/battery_ok", "1")
        publisher.publish(f"{base}/temperature_1_C", "107.1")
        publisher.publish(f"{base}/temperature_2_C", "2635.8")
        await ev.reading(is_reading(107.1, "temperature_1"))
        fault = await ev.reading(is_fault("temperature_2"))
        assert "impossible value 2635.8" in (fault.fault or "")


async def test_openmqttgateway_ibbq_and_its_lwt(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "home/OpenMQTTGateway/BTtoMQTT/4922051700FF", "channel=tempc2")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish(
            "home/OpenMQTTGateway/BTtoMQTT/4922051700FF",
            '{"id":"49:22:05:17:00:FF","name":"iBBQ","rssi":-73,"brand":"Inkbird","model":"iBBQ",'
            '"model_id":"IBT-2X","tempc":24,"tempf":75.2,"tempc2":"107.50","tempf2":225.5}',
        )
        await ev.reading(is_reading(107.5, "tempc2"))
        publisher.publish("home/OpenMQTTGateway/LWT", "offline", retain=True)
        await ev.wait_for(is_down)


async def test_any_json_with_a_dotted_path(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "kitchen/probe", "format=json&channel=probe.temp_f")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish("kitchen/probe", '{"probe":{"temp_f":225.1,"battery":88}}')
        reading = await ev.reading(is_reading(channel="probe.temp_f"))
        assert reading.celsius is not None and round(reading.celsius, 2) == 107.28


async def test_nan_and_null_from_a_json_probe_are_faults_not_dropped(mosquitto: Broker, publisher: Publisher) -> None:
    """A Python publisher writes NaN bare, firmware a plain "nan": each is the probe's fault."""
    probe = probe_at(mosquitto, "kitchen/probe", "channel=temperature")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish("kitchen/probe", '{"temperature": 107.2}')
        await ev.reading(is_reading(107.2, "temperature"))
        for payload in ("nan", '{"temperature": NaN}', '{"temperature": null}'):
            mark = ev.mark()
            publisher.publish("kitchen/probe", payload)
            fault = await ev.reading(is_fault("temperature"), after=mark)
            assert fault.celsius is None and fault.raw == payload
    assert not [e for e in ev.events if isinstance(e, ProbeNotice) and "dropped" in e.message]


async def test_auto_format_announces_what_it_recognised(mosquitto: Broker, publisher: Publisher) -> None:
    probe = probe_at(mosquitto, "kitchen/thing")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        publisher.publish("kitchen/thing", '{"Time":"x","DS18B20":{"Temperature":99.0},"TempUnit":"C"}')
        await ev.reading(is_reading(99.0, "DS18B20"))
        await ev.wait_for(is_notice("recognised Tasmota on kitchen/thing"))


# ---------------------------------------------------------------------------
# retained values, source availability


async def test_retained_values_are_shown_but_not_live(mosquitto: Broker, publisher: Publisher) -> None:
    publisher.publish("tele/kitchen/SENSOR", TASMOTA_SENSOR % "88.0", retain=True)
    probe = probe_at(mosquitto, "tele/kitchen/SENSOR", "channel=DS18B20-1")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        old = await ev.reading(is_reading(88.0))
        assert old.live is False
        publisher.publish("tele/kitchen/SENSOR", TASMOTA_SENSOR % "89.0")
        new = await ev.reading(is_reading(89.0))
        assert new.live is True and new.at >= old.at


async def test_a_device_losing_power_is_probe_down_at_once(
    mosquitto: Broker, make_publisher: Callable[..., Publisher]
) -> None:
    # The device sets its will like Tasmota does; it then drops off without a goodbye.
    device = make_publisher(mosquitto, "tasmota-kitchen", ("tele/kitchen/LWT", b"Offline"))
    device.publish("tele/kitchen/LWT", "Online", retain=True)
    probe = probe_at(mosquitto, "tele/kitchen/SENSOR", "channel=DS18B20-1")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await ev.wait_for(is_notice("Tasmota says 'Online'"))
        device.publish("tele/kitchen/SENSOR", TASMOTA_SENSOR % "100.0")
        await ev.reading(is_reading(100.0))
        mark = ev.mark()
        lost_at = time.monotonic()
        device.vanish()
        down = await ev.wait_for(is_down, after=mark)
        assert isinstance(down, ProbeDown) and down.at - lost_at < 2.0
        assert "'Offline'" in down.reason and "tele/kitchen/LWT" in down.reason
        back = make_publisher(mosquitto, "tasmota-kitchen")
        back.publish("tele/kitchen/LWT", "Online", retain=True)
        await ev.wait_for(is_notice("Tasmota says 'Online'"), after=mark)


# ---------------------------------------------------------------------------
# the broker going away


@pytest.mark.parametrize(
    ("how", "down_for"),
    [("SIGTERM", 0.0), ("SIGTERM", 3.0), ("SIGKILL", 0.0), ("SIGKILL", 3.0)],
    ids=["sigterm-restart", "sigterm-3s-outage", "sigkill-restart", "sigkill-3s-outage"],
)
async def test_broker_restart_mid_stream_recovers_within_5_s(
    mosquitto: Broker, how: str, down_for: float, record_property: Callable[[str, object], None]
) -> None:
    topic = "kitchen/sensor/pot/state"
    probe = probe_at(mosquitto, topic, "format=number")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        with mosquitto.publishing(topic, "20.5"):
            await ev.reading(is_reading(20.5))
        mark = ev.mark()
        await asyncio.to_thread(mosquitto.kill if how == "SIGKILL" else mosquitto.terminate)
        await ev.wait_for(is_notice("lost"), after=mark)
        if down_for:
            await asyncio.sleep(down_for)  # the outage itself: long enough for the backoff to reach its cap
        accepting_at = await asyncio.to_thread(mosquitto.start)
        after = ev.mark()
        with mosquitto.publishing(topic, "99.5"):
            first = await ev.reading(is_reading(99.5), timeout=10.0, after=after)
        recovery = first.at - accepting_at
        record_property(f"recovery_{how}_{down_for:g}s_outage", round(recovery, 3))
        print(f"\nbroker {how}, down {down_for:g} s: first reading {recovery:.2f} s after it accepted again")
        assert recovery < 5.0
        assert first.live
        # Once per change, not once per retry: one "lost", at most one "refused".
        assert ev.count(is_notice("lost"), mark) == 1
        assert ev.count(is_notice("refused"), mark) <= 1
        assert ev.count(is_notice("connected to"), mark) == 1
        assert probe.link is not None and probe.link.thread_alive


async def test_broker_absent_at_start(mosquitto_factory: Callable[..., Broker]) -> None:
    broker = mosquitto_factory()  # not started: nothing listens on its port yet
    probe = probe_at(broker, "kitchen/sensor/pot/state", "format=number")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        refused = await ev.wait_for(is_notice("refused", "is the broker running"))
        assert isinstance(refused, ProbeNotice) and refused.level == "warning"
        await asyncio.sleep(2.5)  # several retries while it stays down
        assert ev.count(is_notice("refused")) == 1
        accepting_at = await asyncio.to_thread(broker.start)
        with broker.publishing("kitchen/sensor/pot/state", "50.0"):
            first = await ev.reading(is_reading(50.0), timeout=8.0)
        assert first.at - accepting_at < 5.0
        print(f"\nbroker absent at start: first reading {first.at - accepting_at:.2f} s after it accepted")


async def test_cancel_disconnects_cleanly(mosquitto: Broker) -> None:
    probe = probe_at(mosquitto, "kitchen/sensor/pot/state")
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
    assert probe.link is not None and not probe.link.thread_alive

    # Mosquitto logs "disconnected" for a DISCONNECT packet, "closed its connection" otherwise,
    # once it has read what the client left behind: wait for its verdict, then look at which
    def verdicts() -> list[str]:
        lines = [line for line in mosquitto.log().splitlines() if "potwatch-" in line]
        return [line for line in lines if line.endswith("disconnected.") or "closed its connection" in line]

    said = await wait_until_async(verdicts, 5, lambda: "the broker's word on the disconnect:\n" + mosquitto.log())
    assert all(line.endswith("disconnected.") for line in said), said


# ---------------------------------------------------------------------------
# bad payloads and bad callbacks


async def test_a_flood_of_malformed_payloads_is_dropped_and_the_network_thread_survives(
    mosquitto: Broker, publisher: Publisher
) -> None:
    topic = "tele/kitchen/SENSOR"
    probe = probe_at(mosquitto, topic, "channel=DS18B20-1")
    bad = [  # NaN/Infinity tokens are no longer here: they are the sensor's fault (test_payloads.py)
        b"not json at all",
        b'{"DS18B20-1":{"Temperature":"hot"},"TempUnit":"C"}',
        b"\xff\xfe\xfd invalid utf-8",
        b"[" * 5000 + b"]" * 5000,
        b"",
    ]
    flood = bad * 50 + [b"{" + b"7" * (1 << 20) + b"}"] * 3
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)

        def send() -> None:
            for payload in flood:
                publisher.publish(topic, payload, qos=0)

        await asyncio.to_thread(send)
        publisher.publish(topic, TASMOTA_SENSOR % "107.25")
        await ev.reading(is_reading(107.25, "DS18B20-1"), timeout=15.0)
        link = probe.link
        assert link is not None and link.thread_alive and link.connected
        assert ev.count(is_reading()) == 1  # nothing of the flood became a reading
        told = [e for e in ev.events if isinstance(e, ProbeNotice) and "dropped" in e.message]
        assert len(told) == 1, told  # summarised later, not one notice per payload
        publisher.publish(topic, TASMOTA_SENSOR % "107.5")
        await ev.reading(is_reading(107.5))


async def test_an_exception_in_a_paho_callback_never_kills_the_network_thread(
    mosquitto: Broker, publisher: Publisher
) -> None:
    link = MqttLink(LinkSettings(mosquitto.host, mosquitto.port), subscriptions=["kitchen/#"])
    original = link._handover_message

    def exploding(msg: object) -> object:
        if getattr(msg, "payload", b"") == b"boom":
            raise RuntimeError("a bug in the callback")
        return original(msg)  # type: ignore[arg-type]

    link._handover_message = exploding  # type: ignore[method-assign,assignment]
    async with link:
        assert isinstance(await asyncio.wait_for(link.get(), 5), LinkUp)
        publisher.publish("kitchen/x", b"boom")
        publisher.publish("kitchen/x", b"fine")
        msg = await asyncio.wait_for(link.get(), 5)
        assert isinstance(msg, Message) and msg.payload == b"fine" and msg.topic == "kitchen/x"
        assert link.thread_alive and link.callback_errors == 1


async def test_a_consumer_that_falls_behind_holds_a_bounded_number_of_bytes(
    mosquitto: Broker, publisher: Publisher
) -> None:
    """A flood of big payloads while the loop is busy elsewhere: the link's queue is capped in bytes,
    not only in messages (10,000 payloads of 128 KiB would be 1.25 GiB), and what it drops is counted."""
    settings = LinkSettings(mosquitto.host, mosquitto.port, max_queued_bytes=1024 * 1024)
    async with MqttLink(settings, subscriptions=["kitchen/#"]) as link:
        assert isinstance(await asyncio.wait_for(link.get(), 5), LinkUp)
        for i in range(40):  # nobody reads the link meanwhile
            await asyncio.to_thread(publisher.publish, "kitchen/big", bytes([i]) * (100 * 1024))
        await wait_until_async(lambda: link.dropped >= 30, 10, "the link to refuse what it cannot hold")
        got = []
        with contextlib.suppress(TimeoutError):
            while True:
                got.append(await asyncio.wait_for(link.get(), 0.5))
    assert 1 <= len(got) <= 10 and len(got) + link.dropped == 40, (len(got), link.dropped)
    # the oldest are kept, the rest refused: no half-delivered stream
    assert [m.payload[0] for m in got if isinstance(m, Message)] == list(range(len(got)))


# ---------------------------------------------------------------------------
# the link on its own: refusals, credentials, TLS, publishing, hooks


async def next_link_event(link: MqttLink, timeout: float = 5.0) -> LinkUp | LinkDown | Message:
    return await asyncio.wait_for(link.get(), timeout)


async def test_a_refused_connack_is_not_connected_and_is_reported_once(
    mosquitto_factory: Callable[..., Broker],
) -> None:
    broker = mosquitto_factory(anonymous=False)  # no password file: everyone is refused
    broker.start()
    async with MqttLink(LinkSettings(broker.host, broker.port)) as link:
        first = await next_link_event(link)
        assert isinstance(first, LinkDown) and not first.was_up
        assert "refused the connection" in first.reason and "user and password" in first.reason
        with pytest.raises(TimeoutError):
            await next_link_event(link, 3.0)  # retries at 0.25, 0.5, 1, 2 s: all silent
        assert not link.connected and link.thread_alive


async def test_user_and_password_from_the_url(mosquitto_factory: Callable[..., Broker], tmp_path: Path) -> None:
    passwd = require_binary("mosquitto_passwd", "mosquitto")
    pwfile = tmp_path / "passwd"
    subprocess.run([passwd, "-c", "-b", str(pwfile), "cook", "s3cret"], check=True, capture_output=True)
    broker = mosquitto_factory([f"password_file {pwfile}"], anonymous=False)
    broker.start()
    good = probe_at(broker, "kitchen/sensor/pot/state", userinfo="cook:s3cret")
    async with EventCollector(good, BROKER_WAIT_S) as ev:
        await connected(ev)
    bad = probe_at(broker, "kitchen/sensor/pot/state", userinfo="cook:wrong")
    async with EventCollector(bad, BROKER_WAIT_S) as ev:
        refused = await ev.wait_for(is_notice("refused the connection"))
        assert "s3cret" not in refused.message and "wrong" not in refused.message  # type: ignore[union-attr]
        assert ev.count(is_notice("connected to")) == 0


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=potwatch-test", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    os.chmod(key, 0o644)
    return cert, key


async def test_mqtts_with_a_private_ca(mosquitto_factory: Callable[..., Broker], tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    broker = mosquitto_factory([f"certfile {cert}", f"keyfile {key}"])
    broker.start()
    trusted = probe_at(broker, "kitchen/sensor/pot/state", f"cafile={cert}", scheme="mqtts")
    async with EventCollector(trusted, BROKER_WAIT_S) as ev:
        await connected(ev)
    unknown = probe_at(broker, "kitchen/sensor/pot/state", scheme="mqtts")
    async with EventCollector(unknown, BROKER_WAIT_S) as ev:
        await ev.wait_for(is_notice("TLS certificate", "rejected", "cafile="))
    plain = probe_at(broker, "kitchen/sensor/pot/state")  # mqtt:// to a TLS port
    async with EventCollector(plain, BROKER_WAIT_S) as ev:
        notice = await ev.wait_for(lambda e: isinstance(e, ProbeNotice) and e.level == "warning")
        assert ev.count(is_notice("connected to")) == 0, notice


async def until_up(link: MqttLink, timeout: float = 6.0) -> LinkUp:
    async with asyncio.timeout(timeout):
        while True:
            event = await link.get()
            if isinstance(event, LinkUp):
                return event


async def test_link_publishes_and_reruns_its_hook_after_every_reconnect(mosquitto: Broker) -> None:
    """What the service's publisher will rely on: republish retained state on each (re)connect."""
    calls: list[bool] = []

    def on_connect() -> None:
        calls.append(link.connected)
        link.publish("potwatch/availability", "online", qos=1, retain=True)

    link = MqttLink(
        LinkSettings(mosquitto.host, mosquitto.port), subscriptions=[("potwatch/#", 1)], on_connect=on_connect
    )
    async with link:
        await until_up(link)
        sock = link._client.socket() if link._client else None
        assert isinstance(sock, socket.socket) and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        echoed = await next_link_event(link)
        assert isinstance(echoed, Message) and echoed.payload == b"online"
        await asyncio.to_thread(mosquitto.kill)  # forgets everything, retained messages included
        down = await next_link_event(link)
        assert isinstance(down, LinkDown) and down.was_up and not link.connected
        await asyncio.to_thread(mosquitto.start)
        await until_up(link)
        again = await next_link_event(link)  # resubscribed in on_connect, so our own publish comes back
        assert isinstance(again, Message) and again.topic == "potwatch/availability"
        assert calls == [True, True]
        assert link.publish("potwatch/ping", b"1") is True
    assert link.publish("potwatch/ping", b"1", qos=0) in (True, False)  # after stop: never raises
    with pytest.raises(LinkError):
        MqttLink(LinkSettings("pi"), subscriptions=["a/#/b"])


async def test_a_link_without_subscriptions_republishes_after_what_the_outage_queued(mosquitto: Broker) -> None:
    """With nothing to subscribe to, the link is up at the CONNACK itself. paho resends what the
    outage left queued (QoS 1) once ``on_connect`` returns: a hook run inside it published the
    current retained state first, and the older queued message, resent after it, was the broker's
    retained value from then on (what the service's publisher relies on: the last state wins)."""
    current = {"state": "before"}
    topic = "potwatch/test/state"

    def on_connect() -> None:
        link.publish(topic, current["state"], qos=1, retain=True)

    link = MqttLink(LinkSettings(mosquitto.host, mosquitto.port), on_connect=on_connect)
    async with link:
        await until_up(link)
        await asyncio.to_thread(mosquitto.kill)  # forgets everything, retained messages included
        down = await next_link_event(link)
        assert isinstance(down, LinkDown)
        assert link.publish(topic, "queued during the outage", qos=1, retain=True)  # paho keeps it
        current["state"] = "current"
        await asyncio.to_thread(mosquitto.start)
        await until_up(link)
        kept: bytes | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                while kept != b"current":  # the loop must turn meanwhile: the link resends on it
                    kept = (await asyncio.to_thread(retained_now, mosquitto, topic, timeout=0.5)).get(topic)
        assert kept == b"current", f"the broker kept {kept!r}, not the current state"


async def test_a_connection_found_dead_before_its_deferred_up_is_not_reported_up(mosquitto: Broker) -> None:
    """The up of a link with no subscriptions waits for paho's resend; a connection abandoned in that
    moment (a read or a write failing in the same burst as the CONNACK) must not be reported up after
    its down, with the hook publishing into a dead socket."""
    from paho.mqtt.client import ConnectFlags
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    link = MqttLink(LinkSettings(mosquitto.host, mosquitto.port))
    async with link:
        await until_up(link)
        client = link._client
        assert client is not None
        link._on_connect(client, None, ConnectFlags(False), ReasonCode(PacketTypes.CONNACK, "Success"), None)
        link._abandon(client)
        down = await next_link_event(link)
        assert isinstance(down, LinkDown)
        await asyncio.sleep(0)  # one turn of the loop: what was scheduled before now has run
        assert not link.connected
        assert link._queue.qsize() == 0, "an up after the down"


async def test_silence_on_the_topic_is_told(mosquitto: Broker) -> None:
    probe = probe_at(mosquitto, "kitchen/sensor/pot/state", timing=Timing(tick=0.05, silence_notice=0.3))
    async with EventCollector(probe, BROKER_WAIT_S) as ev:
        await connected(ev)
        notice = await ev.wait_for(is_notice("no message on kitchen/sensor/pot/state"))
        assert "mosquitto_sub" in notice.message and "ESPHome" in notice.message  # type: ignore[union-attr]
