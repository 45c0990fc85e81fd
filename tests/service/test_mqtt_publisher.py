"""The MQTT publisher against a real Mosquitto started by the test (never the one on :1883).

Two kinds of test: the part in-process, on a hub the test feeds (fast, and it
can look inside), and a real ``potwatch run`` process with a serial pty, where
what matters is the process: the API and SSE hearing an MQTT ack, the last
will after SIGKILL, ``offline`` on SIGTERM, and a broker killed and restarted.
Every wait is on a condition, with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from service.config import Config, MqttConfig, parse_config
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Sample, StartCook, Tick
from service.core.units import f_to_c
from service.mqtt.discovery import Message, ProbeInfo
from service.mqtt.publisher import MqttPublisher
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.broker import Broker, mosquitto, mosquitto_binary, mosquitto_factory  # noqa: F401
from tests.support.broker_world import DISCOVERY_ENTITIES, PortHold
from tests.support.clock import HandClock
from tests.support.ha_discovery import validate_all
from tests.support.mqtt_watch import Seen, recording
from tests.support.net import free_port
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess, serving, sse
from tests.support.waiting import wait_until, wait_until_async

pytestmark = pytest.mark.real_part("mosquitto")


def publish(broker: Broker, topic: str, payload: bytes | str, retain: bool = False) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"cmd-{uuid.uuid4().hex[:8]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def as_messages(seen: dict[str, Seen]) -> list[Message]:
    return [Message(m.topic, m.text, retain=True) for m in seen.values()]


# ---- the part in-process -----------------------------------------------------------------


@dataclass
class Running:
    hub: Hub
    part: MqttPublisher
    clock: HandClock
    broker: Broker

    async def feed(self, start_f: float, rate_f_per_s: float, seconds: int) -> None:
        for i in range(seconds):
            self.clock.t += 1.0
            await self.hub.request(Sample(self.clock.t, "pot", "", f_to_c(start_f + rate_f_per_s * i)))

    async def start_caramel(self) -> None:
        await self.hub.request(StartCook(self.clock.t, self.hub.profiles["caramel"], "pot"))

    def alerts(self, kind: str) -> list[Any]:
        return [a for a in self.hub.kitchen.alerts.values() if a.kind.value == kind]


async def start_part(
    broker: Broker, accept_commands: bool = True, stale_after: float | None = 10.0
) -> tuple[Running, list[asyncio.Task[None]]]:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", stale_after)]), clock, load_profiles())
    config = MqttConfig(url=f"mqtt://{broker.host}:{broker.port}")
    part = MqttPublisher(
        config, [ProbeInfo("pot", "Caramel pot")], accept_commands=accept_commands, page_url="http://pot.local:8000/"
    )
    part.attach(hub)
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(part.run())]
    await wait_until_async(lambda: part.connected, 10, "the part to connect")
    return Running(hub, part, clock, broker), tasks


async def stop_part(running: Running, tasks: list[asyncio.Task[None]]) -> None:
    await running.part.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def running(mosquitto: Broker) -> AsyncIterator[Running]:  # noqa: F811
    state, tasks = await start_part(mosquitto)
    yield state
    await stop_part(state, tasks)


async def test_a_late_subscriber_gets_every_retained_state_and_valid_discovery(running: Running) -> None:
    await running.start_caramel()
    await running.feed(200.0, 0.1, 20)
    with recording(running.broker.host, running.broker.port) as late:
        await asyncio.to_thread(
            late.wait_for, lambda m: m.topic == "potwatch/cook/state" and m.json()["stage"] == "heating", 5
        )
        last = await asyncio.to_thread(
            late.wait_for,
            lambda m: m.topic == "potwatch/probe/pot/temperature" and m.json()["fahrenheit"] == 201.9,
            5,
        )
        await asyncio.to_thread(lambda: wait_until(lambda: len(late.discovery()) == DISCOVERY_ENTITIES, 5, "discovery"))
        availability = late.first("potwatch/availability")
        probe = late.first("potwatch/probe/pot/temperature")
        state = late.first("potwatch/cook/state")
        discovery = late.discovery()
    assert availability is not None and availability.retain and availability.text == "online"
    assert probe is not None and probe.retain
    body = last.json()
    assert {"celsius", "fahrenheit", "at", "state", "filtered_c", "filtered_f", "rate_f_per_min"} <= set(body)
    assert body["fahrenheit"] == pytest.approx(201.9, abs=0.01) and body["state"] == "ok"
    assert body["rate_f_per_min"] == pytest.approx(6.0, abs=0.5)
    assert state is not None and state.retain
    cook = late.last("potwatch/cook/state").json()  # type: ignore[union-attr]
    assert cook["profile"] == "caramel" and cook["step"] == "caramel" and cook["target_f"] == pytest.approx(225.0)
    assert {"eta_s", "eta_sigma_s", "sugar_stage", "rate_f_per_min", "alerts", "target_reached"} <= set(cook)
    assert all(m.retain for m in discovery.values())
    assert validate_all(as_messages(discovery)) == []


async def test_alerts_go_at_qos1_unretained_and_acks_come_back_by_topic_and_button(running: Running) -> None:
    with recording(running.broker.host, running.broker.port) as rec:
        await running.start_caramel()
        await running.feed(220.0, 0.1, 80)  # crosses 225 °F
        reached = running.alerts("target_reached")[0]
        alert = await asyncio.to_thread(
            rec.wait_for, lambda m: m.topic == "potwatch/cook/alert" and m.json()["kind"] == "target_reached", 5
        )
        assert alert.qos == 1 and not alert.retain
        body = alert.json()
        assert body["id"] == reached.id and body["event_type"] == "target_reached" and body["level"] == "critical"
        assert {"id", "kind", "level", "step", "probe", "celsius", "fahrenheit", "at", "message"} <= set(body)
        sub = running.hub.bus.subscribe()
        await asyncio.to_thread(publish, running.broker, "potwatch/cook/ack", reached.id)
        ack = await asyncio.wait_for(sub.get(), 5)
        assert ack is not None and ack.name == "ack" and ack.data["id"] == reached.id
        assert reached.acked
        await asyncio.to_thread(
            rec.wait_for,
            lambda m: (
                m.topic == "potwatch/cook/state"
                and any(a["id"] == reached.id and a["acked"] for a in m.json()["alerts"])
            ),
            5,
        )
        await running.feed(226.0, 0.2, 40)  # on past the overshoot margin
        over = running.alerts("target_overshoot")
        assert over and over[0].active
        mark = len(rec.all())
        await asyncio.to_thread(publish, running.broker, "potwatch/cook/ack/press", "PRESS")
        await wait_until_async(lambda: over[0].acked, 5, "the button to acknowledge the overshoot")
        state = await asyncio.to_thread(
            rec.wait_for, lambda m: m.topic == "potwatch/cook/state" and m.json()["active_alerts"] == 0, 5, mark
        )
        assert state.json()["target_reached"] is True and state.json()["stage"] == "overshoot"
    assert running.part.stats["commands"] == 2


async def test_malformed_commands_are_ignored_and_the_network_thread_survives(running: Running) -> None:
    await running.start_caramel()
    await running.feed(220.0, 0.1, 80)
    reached = running.alerts("target_reached")[0]
    bad: list[tuple[str, bytes, bool]] = [
        ("potwatch/cook/ack", b"\xff\xfe\x00", False),  # not UTF-8
        ("potwatch/cook/ack", b"", False),
        ("potwatch/cook/ack", b"a999", False),  # no such alert
        ("potwatch/cook/ack", b'{"id": "a1"}', False),
        ("potwatch/cook/ack", b"a1; DROP TABLE alerts", False),
        ("potwatch/cook/ack", b"x" * 300_000, False),  # cut by the link, then refused
        ("potwatch/cook/ack/press", b"please", False),
    ]
    for topic, payload, retain in bad:
        await asyncio.to_thread(publish, running.broker, topic, payload, retain)
    await wait_until_async(lambda: running.part.stats["ignored"] >= len(bad), 5, "every bad command to be ignored")
    assert not reached.acked
    health = running.part.health()["mqtt"]
    assert isinstance(health, dict) and health["thread_alive"] and health["state"] == "connected"
    await asyncio.to_thread(publish, running.broker, "potwatch/cook/ack", "all")
    # the alert is acknowledged inside the hub's step; the part counts the command once it resumes
    await wait_until_async(
        lambda: reached.acked and running.part.stats["commands"] >= 1, 5, "a good ack after the bad ones"
    )
    assert running.part.stats["commands"] == 1


async def test_a_retained_ack_is_not_acted_on_when_subscribing(mosquitto: Broker) -> None:  # noqa: F811
    # left on the broker by someone's `mosquitto_pub -r`: it would acknowledge again after every reconnect
    await asyncio.to_thread(publish, mosquitto, "potwatch/cook/ack", "all", True)
    running, tasks = await start_part(mosquitto)
    try:
        await wait_until_async(lambda: running.part.stats["ignored"] == 1, 5, "the retained ack to be ignored")
        await running.start_caramel()
        await running.feed(220.0, 0.1, 80)
        assert running.alerts("target_reached")[0].active
        assert running.part.stats["commands"] == 0
    finally:
        await stop_part(running, tasks)


async def test_home_assistant_birth_triggers_announcing_again(running: Running) -> None:
    with recording(running.broker.host, running.broker.port) as rec:
        await asyncio.to_thread(
            lambda: wait_until(lambda: len(rec.discovery()) == DISCOVERY_ENTITIES, 5, "the first discovery")
        )
        mark = len(rec.all())
        await asyncio.to_thread(publish, running.broker, "homeassistant/status", "offline")
        await asyncio.to_thread(publish, running.broker, "homeassistant/status", "online")
        await asyncio.to_thread(
            lambda: wait_until(lambda: len(rec.discovery(after=mark)) == DISCOVERY_ENTITIES, 5, "discovery again")
        )
        await asyncio.to_thread(
            rec.wait_for, lambda m: m.topic == "potwatch/availability" and m.text == "online", 5, mark
        )
        await asyncio.to_thread(rec.wait_for, lambda m: m.topic == "potwatch/cook/state", 5, mark)
    assert validate_all(as_messages(rec.discovery(after=mark))) == []


async def test_tcp_nodelay_is_set_on_the_connection(running: Running) -> None:
    link = running.part._link
    assert link is not None and link._client is not None
    sock = link._client.socket()
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_with_a_token_mqtt_commands_need_accept_commands(mosquitto: Broker) -> None:  # noqa: F811
    def config(accept: bool) -> Config:
        return parse_config(
            {
                "server": {"token": "s3cret"},
                "mqtt": {"url": f"mqtt://127.0.0.1:{mosquitto.port}", "accept_commands": accept},
                "probes": [{"id": "pot", "url": "sim://"}],
            },
            "test",
        )

    assert MqttPublisher.from_config(config(True)).accept_commands
    refusing = MqttPublisher.from_config(config(False))
    assert not refusing.accept_commands
    # a button announced by an earlier run that accepted commands
    button_topic = "homeassistant/button/potwatch/ack/config"
    await asyncio.to_thread(publish, mosquitto, button_topic, '{"command_topic": "potwatch/cook/ack/press"}', True)
    running, tasks = await start_part(mosquitto, accept_commands=False)
    try:
        with recording(mosquitto.host, mosquitto.port) as rec:
            await running.start_caramel()
            await running.feed(220.0, 0.1, 80)
            reached = running.alerts("target_reached")[0]
            await asyncio.to_thread(
                lambda: wait_until(lambda: len(rec.discovery()) == DISCOVERY_ENTITIES, 5, "discovery")
            )
            # the same entity, unavailable rather than withdrawn: a rename or an area survives
            assert rec.discovery()[button_topic].json()["unique_id"] == "potwatch_potwatch_ack"
            await asyncio.to_thread(
                rec.wait_for, lambda m: m.topic == "potwatch/cook/ack/availability" and m.text == "offline", 5
            )
            await asyncio.to_thread(publish, mosquitto, "potwatch/cook/ack", reached.id)
            await asyncio.to_thread(publish, mosquitto, "potwatch/cook/ack/press", "PRESS")
            # a barrier: the broker delivers in order, so a later state message means the acks were not acted on
            mark = len(rec.all())
            await running.feed(226.0, 0.0, 2)
            await asyncio.to_thread(rec.wait_for, lambda m: m.topic == "potwatch/probe/pot/temperature", 5, mark)
            assert not reached.acked and running.part.stats["commands"] == 0
    finally:
        await stop_part(running, tasks)


async def test_a_probe_state_change_goes_out_on_its_own_reading(running: Running) -> None:
    """The part reads the bus behind the hub; a state change must carry the reading that caused it.

    Three readings applied in one go, before the part's task runs, the first of them taking the
    probe from waiting to ok. Pass: the temperature topic's readings never step back in time
    (it sent the newest reading with the state change, then the two older ones: found by the soak).
    """
    with recording(running.broker.host, running.broker.port, "potwatch/probe/pot/temperature") as rec:
        mark = len(rec.all())
        for i in range(3):
            running.clock.t += 1.0
            running.hub.apply(Sample(running.clock.t, "pot", "", f_to_c(150.0 + i)))
        await asyncio.to_thread(rec.wait_for, lambda m: m.json()["fahrenheit"] == 152.0, 5, mark)
        values = [m.json()["fahrenheit"] for m in rec.all(after=mark)]
    values = [v for v in values if v is not None]  # the retained "waiting" before any reading
    assert values == sorted(values) and values[-1] == 152.0, values


async def test_a_probe_back_before_the_part_reads_its_loss_is_never_said_lost_again(running: Running) -> None:
    """Readings go out from the hub's step, a probe's state change from the bus, later.

    The probe judged lost and back again in one go, before the part's task runs: the reading
    that brought it back is on the wire at once, saying ``ok``. Pass: the loss, read from the
    bus after it, does not then say that newest reading is ``lost`` (and the probe offline),
    contradicting what potwatch judges by then.
    """
    host, port = running.broker.host, running.broker.port
    topics = ("potwatch/probe/pot/temperature", "potwatch/probe/pot/availability")
    await running.feed(150.0, 0.0, 3)
    with recording(host, port, *topics) as rec:
        await asyncio.to_thread(rec.wait_for, lambda m: m.topic == topics[1] and m.text == "online", 5)
        mark = len(rec.all())
        running.clock.t += 30.0  # past the 10 s stale timeout
        running.hub.apply(Tick(running.clock.t))
        assert running.hub.kitchen.probes["pot"].state.value == "lost"
        running.clock.t += 1.0
        running.hub.apply(Sample(running.clock.t, "pot", "", f_to_c(160.0)))
        assert running.hub.kitchen.probes["pot"].state.value == "ok"
        back = running.hub.bus.last_id
        # the part has read the bus up to the probe's "ok" event, the last of the three
        await wait_until_async(lambda: running.part._last_id >= back, 5, "the part to read the bus")
        running.clock.t += 1.0
        await running.hub.request(Sample(running.clock.t, "pot", "", f_to_c(161.0)))  # a marker after them
        await asyncio.to_thread(
            rec.wait_for, lambda m: m.topic == topics[0] and m.json()["fahrenheit"] == 161.0, 5, mark
        )
        after = rec.all(after=mark)
    said = [(m.json()["fahrenheit"], m.json()["state"]) for m in after if m.topic == topics[0]]
    assert (160.0, "lost") not in said, said
    assert [m.text for m in after if m.topic == topics[1]] == [], "the probe's availability flapped"


async def test_expire_after_follows_a_probe_that_learns_its_interval(mosquitto: Broker) -> None:  # noqa: F811
    running, tasks = await start_part(mosquitto, stale_after=None)
    topic = "homeassistant/sensor/potwatch/probe_pot_temperature/config"
    try:
        with recording(mosquitto.host, mosquitto.port) as rec:
            first = await asyncio.to_thread(rec.wait_for, lambda m: m.topic == topic, 5)
            assert first.json()["expire_after"] == 90  # nothing heard yet: a slow gateway is assumed
            await running.feed(150.0, 0.0, 5)  # one reading a second: lost after 10 s, the minimum
            again = await asyncio.to_thread(
                rec.wait_for, lambda m: m.topic == topic and m.json()["expire_after"] == 10, 5
            )
            assert again.retain is False  # live, to a subscriber already there; the broker keeps it retained
            assert validate_all([Message(again.topic, again.text, retain=True)]) == []
    finally:
        await stop_part(running, tasks)


async def test_close_publishes_offline_itself(mosquitto: Broker) -> None:  # noqa: F811
    running, tasks = await start_part(mosquitto)
    with recording(mosquitto.host, mosquitto.port, "potwatch/availability") as rec:
        await asyncio.to_thread(rec.wait_for, lambda m: m.text == "online", 5)
        await stop_part(running, tasks)
        await asyncio.to_thread(rec.wait_for, lambda m: m.text == "offline", 5)
    assert "disconnected." in mosquitto.log()  # a clean DISCONNECT: the will was not what said offline


async def test_close_sends_the_cook_state_as_it_stands_before_offline(mosquitto: Broker) -> None:  # noqa: F811
    """The last word on ``cook/state`` is the kitchen at close, even for a change the bus never brought.

    The service closes every bus listener before it closes the parts, and the
    hub runs on until it is cancelled: a cook started in between reaches the
    publisher only through ``close``. Pass: after ``close``, a ``cook/state``
    naming that cook arrived before ``offline``, and the broker saw a clean
    DISCONNECT after both (their PUBACKs waited for).
    """
    running, tasks = await start_part(mosquitto)
    try:
        with recording(mosquitto.host, mosquitto.port, "potwatch/cook/state", "potwatch/availability") as rec:
            await asyncio.to_thread(rec.wait_for, lambda m: m.text == "online", 5)
            running.hub.bus.close_all()  # as serve does at SIGTERM, before the parts' close()
            await running.start_caramel()
            mark = len(rec.all())
            await running.part.close()
            offline = await asyncio.to_thread(
                rec.wait_for, lambda m: m.topic == "potwatch/availability" and m.text == "offline", 5, mark
            )
            before = rec.all(after=mark)
            before = before[: before.index(offline)]
            states = [m.json() for m in before if m.topic == "potwatch/cook/state"]
            assert states and states[-1]["cook"] is not None and states[-1]["stage"] == "heating", states
        # acknowledged before our DISCONNECT: Mosquitto < 2.0.22 drops a client that leaves with a
        # PUBACK still to send as unclean ("disconnected due to out of memory")
        said = [line for line in mosquitto.log().splitlines() if "Client potwatch-" in line]
        assert said and said[-1].endswith("disconnected."), said
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- a real potwatch process ----------------------------------------------------------------


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


def service_for(tmp_path: Path, device: PtyDevice, broker: Broker, extra: str = "") -> ServiceProcess:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n{extra}\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\naccept_commands = true\n\n'
        f'[[probes]]\nid = "pot"\nlabel = "Caramel pot"\n'
        f'url = "serial://{device.path}?baud=9600&format=number&unit=F"\nstale_after = "5s"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


@pytest.fixture
def service(tmp_path: Path, device: PtyDevice, mosquitto: Broker) -> Iterator[ServiceProcess]:  # noqa: F811
    svc = service_for(tmp_path, device, mosquitto, '[server]\ntoken = "s3cret"\n').start()
    yield svc
    if svc.proc is not None and svc.proc.poll() is None:
        svc.stop()


def prime(service: ServiceProcess, device: PtyDevice) -> None:
    """Write until the driver has the port open and a reading is through."""

    def through() -> bool:
        device.write(b"100.00\n")
        return bool(service.get("/api/status")["probes"][0]["state"] == "ok")

    wait_until(through, 20, "the serial driver to deliver a reading", every=0.2)


def ramp(device: PtyDevice, start_f: float, end_f: float, step_f: float = 0.1) -> None:
    value = start_f
    while value <= end_f:
        device.write(f"{value:.2f}\n".encode())
        value += step_f
        time.sleep(0.01)


def mqtt_state(service: ServiceProcess) -> str:
    return str(service.get("/healthz")["mqtt"]["state"])


def test_ack_over_mqtt_and_by_the_button_reach_the_api_and_sse(
    service: ServiceProcess,
    device: PtyDevice,
    mosquitto: Broker,  # noqa: F811
) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    with recording(mosquitto.host, mosquitto.port) as rec, sse(service.base + "/api/events") as stream:
        stream.attached()
        prime(service, device)
        ramp(device, 222.0, 228.0)
        alert = stream.take("alert", 15, lambda e: e.data["kind"] == "target_reached")
        seen = rec.wait_for(lambda m: m.topic == "potwatch/cook/alert" and m.json()["id"] == alert.data["id"], 5)
        assert seen.qos == 1 and not seen.retain
        publish(mosquitto, "potwatch/cook/ack", alert.data["id"])
        assert stream.take("ack", 5).data["id"] == alert.data["id"]
        status = service.get("/api/status")
        acked = next(a for a in status["alerts"] if a["id"] == alert.data["id"])
        assert acked["acked"] and not acked["active"]
        rec.wait_for(
            lambda m: (
                m.topic == "potwatch/cook/state"
                and any(a["id"] == alert.data["id"] and a["acked"] for a in m.json()["alerts"])
            ),
            5,
        )
        ramp(device, 228.0, 233.0)
        over = stream.take("alert", 15, lambda e: e.data["kind"] == "target_overshoot")
        publish(mosquitto, "potwatch/cook/ack/press", "PRESS")
        assert stream.take("ack", 5).data["id"] == over.data["id"]
        assert not [a for a in service.get("/api/status")["alerts"] if a["active"]]
        # the API ack and the MQTT ack are one: the API now has nothing left to acknowledge
        assert service.post("/api/alerts/all/ack", headers=auth).json() == {"acked": []}
        discovery = rec.discovery()
    assert len(discovery) == DISCOVERY_ENTITIES
    assert validate_all(as_messages(discovery)) == []
    device_block = json.loads(discovery["homeassistant/sensor/potwatch/stage/config"].payload)["device"]
    assert device_block["configuration_url"] == f"http://127.0.0.1:{service.port}/"


def test_last_will_after_sigkill_and_offline_on_sigterm(
    tmp_path: Path,
    device: PtyDevice,
    mosquitto: Broker,  # noqa: F811
) -> None:
    svc = service_for(tmp_path, device, mosquitto)
    with recording(mosquitto.host, mosquitto.port, "potwatch/availability") as rec, serving(svc, signal.SIGKILL):
        rec.wait_for(lambda m: m.text == "online", 10)
        mark = len(rec.all())
        killed_at = time.monotonic()
        svc.stop(signal.SIGKILL)
        will = rec.wait_for(lambda m: m.text == "offline", 5, mark, "offline (the will)")
        assert will.at - killed_at < 2.0  # the broker saw the socket die and sent the will at once
        mark = len(rec.all())
        svc.start()
        rec.wait_for(lambda m: m.text == "online", 10, mark)
        took = svc.stop(signal.SIGTERM)
        rec.wait_for(lambda m: m.text == "offline", 5, mark, "offline on SIGTERM")
    assert took < 5.0 and "offline published" in svc.log()
    # the broker's view: the killed one vanished (its will spoke), the stopped one said goodbye (we spoke)
    lines = [line for line in mosquitto.log().splitlines() if "Client potwatch-" in line]
    assert lines[0].endswith("closed its connection.") and lines[-1].endswith("disconnected."), lines
    with recording(mosquitto.host, mosquitto.port, "potwatch/availability") as late:
        retained = late.wait_for(lambda m: True, 5)
    assert retained.retain and retained.text == "offline"


@pytest.mark.parametrize("kill", [False, True], ids=["broker-sigterm", "broker-sigkill"])
def test_broker_restart_republishes_everything_and_the_outage_alert_once(
    service: ServiceProcess,
    device: PtyDevice,
    mosquitto: Broker,  # noqa: F811
    kill: bool,
) -> None:
    prime(service, device)
    with recording(mosquitto.host, mosquitto.port) as before:
        before.wait_for(lambda m: m.topic == "potwatch/cook/state", 10)
    if kill:
        mosquitto.kill()
    else:
        mosquitto.terminate()
    held = PortHold(mosquitto.host, mosquitto.port)
    try:
        wait_until(lambda: mqtt_state(service) == "disconnected", 5, "the service to notice the broker is gone")
        wait_until(lambda: held.held, 10, "the service to try the broker's port again")
        ramp(device, 222.0, 228.0)  # the alert is raised while nobody can hear it
        alert = wait_until(
            lambda: [a for a in service.get("/api/status")["alerts"] if a["kind"] == "target_reached"],
            15,
            "target_reached during the outage",
        )[0]
        held.stop_listening()
        back_at = mosquitto.start()
        with recording(mosquitto.host, mosquitto.port) as after:
            held.release()
            wanted = ("potwatch/availability", "potwatch/probe/pot/temperature", "potwatch/cook/state")

            def everything() -> bool:
                have = {m.topic for m in after.all()}
                return all(t in have for t in wanted) and len(after.discovery()) == DISCOVERY_ENTITIES

            wait_until(everything, 5, "availability, probe, state and discovery to be republished")
            republished_in = max(after.last(t).at for t in (*wanted, *after.discovery())) - back_at  # type: ignore[union-attr]
            assert republished_in < 5.0
            assert after.last("potwatch/availability").text == "online"  # type: ignore[union-attr]
            got = after.wait_for(
                lambda m: m.topic == "potwatch/cook/alert" and m.json()["id"] == alert["id"], 5, what="the alert"
            )
            assert got.json()["kind"] == "target_reached"
            # a barrier through the service itself: a reading written now comes out after any resend would have
            mark = len(after.all())
            device.write(b"229.50\n")
            after.wait_for(
                lambda m: m.topic == "potwatch/probe/pot/temperature" and m.json()["fahrenheit"] == 229.5, 5, mark
            )
            copies = [m for m in after.all("potwatch/cook/alert") if m.json()["id"] == alert["id"]]
            assert len(copies) == 1, f"the outage alert came {len(copies)} times"
        with recording(mosquitto.host, mosquitto.port) as late:  # and the broker holds them retained again
            wait_until(lambda: len(late.discovery()) == DISCOVERY_ENTITIES, 5, "retained discovery")
            state = late.wait_for(lambda m: m.topic == "potwatch/cook/state", 5)
            assert state.retain and any(a["id"] == alert["id"] for a in state.json()["alerts"])
        how = "SIGKILL" if kill else "SIGTERM"
        print(f"republished within {republished_in * 1000:.0f} ms of the broker's return ({how})")
    finally:
        held.stop_listening()
        held.release()


def test_an_alert_acknowledged_during_the_outage_is_not_sent_when_the_broker_is_back(
    service: ServiceProcess,
    device: PtyDevice,
    mosquitto: Broker,  # noqa: F811
) -> None:
    """The cook stopped it on the page meanwhile: sent as it was raised, Home Assistant would ring for it.

    A subscriber that is back on the broker before potwatch (Home Assistant
    2024.3 reconnects within a second) is exactly who would hear it.
    """
    prime(service, device)
    mosquitto.kill()
    held = PortHold(mosquitto.host, mosquitto.port)
    try:
        wait_until(lambda: mqtt_state(service) == "disconnected", 5, "the service to notice the broker is gone")
        ramp(device, 222.0, 226.0)
        reached = wait_until(
            lambda: [a for a in service.get("/api/status")["alerts"] if a["kind"] == "target_reached"],
            15,
            "target_reached during the outage",
        )[0]
        ack = service.post(f"/api/alerts/{reached['id']}/ack", headers={"Authorization": "Bearer s3cret"})
        assert ack.status_code == 200, ack.text
        ramp(device, 226.0, 231.0)  # past 230 °F: an overshoot nobody has acknowledged
        overshoot = wait_until(
            lambda: [a for a in service.get("/api/status")["alerts"] if a["kind"] == "target_overshoot"],
            15,
            "target_overshoot during the outage",
        )[0]
        held.stop_listening()
        mosquitto.start()
        with recording(mosquitto.host, mosquitto.port) as after:
            held.release()
            # held alerts go in the order they were raised: the overshoot is the fence
            after.wait_for(
                lambda m: m.topic == "potwatch/cook/alert" and m.json()["id"] == overshoot["id"],
                10,
                what="the overshoot",
            )
            sent = [m.json()["id"] for m in after.all("potwatch/cook/alert")]
        assert reached["id"] not in sent, f"the acknowledged {reached['id']} was sent after the outage: {sent}"
        assert sent.count(overshoot["id"]) == 1
    finally:
        held.stop_listening()
        held.release()


@pytest.mark.parametrize("kill", [False, True], ids=["broker-sigterm", "broker-sigkill"])
def test_a_broker_back_after_an_outage_has_everything_again_within_5_s(
    service: ServiceProcess,
    device: PtyDevice,
    mosquitto: Broker,  # noqa: F811
    kill: bool,
) -> None:
    """No help from the test this time: the service finds the broker on its own backoff (≤ 2 s)."""
    prime(service, device)
    back_at = mosquitto.restart(down_for=3.0, kill=kill)  # long enough for the backoff to reach its cap
    with recording(mosquitto.host, mosquitto.port) as after:
        wanted = ("potwatch/availability", "potwatch/probe/pot/temperature", "potwatch/cook/state")

        def everything() -> bool:
            have = {m.topic for m in after.all()}
            return all(t in have for t in wanted) and len(after.discovery()) == DISCOVERY_ENTITIES

        wait_until(everything, 5, "availability, probe, state and discovery after the broker's return")
        took = max(m.at for m in after.all()) - back_at
        assert after.last("potwatch/availability").text == "online"  # type: ignore[union-attr]
    assert took < 5.0
    assert mqtt_state(service) == "connected"
    print(f"everything back {took * 1000:.0f} ms after the broker's return ({'SIGKILL' if kill else 'SIGTERM'})")


# ---- one QoS for everything a subscriber hears --------------------------------------------


async def test_readings_state_and_availability_reach_a_qos1_subscriber_at_qos1(running: Running) -> None:
    """A subscriber answers a QoS 1 message with a PUBACK and then delays its next ACKs; a QoS 0
    reading after it waited up to 40 ms in the broker's Nagle. At one QoS every message is answered
    at once (docs/mqtt.md, "Latency"): the broker delivers at the lower of the two QoS, so a
    subscriber at QoS 1 sees what potwatch published with."""
    with recording(running.broker.host, running.broker.port, "potwatch/#") as sub:
        await running.start_caramel()
        await running.feed(200.0, 0.1, 5)
        await asyncio.to_thread(
            sub.wait_for,
            lambda m: m.topic == "potwatch/probe/pot/temperature" and m.json()["fahrenheit"] == 200.4,
            5,
        )
        await asyncio.to_thread(sub.wait_for, lambda m: m.topic == "potwatch/cook/state", 5)
        heard = sub.all()
    live = [m for m in heard if not m.retain or m.topic == "potwatch/probe/pot/temperature"]
    assert {m.topic for m in heard} >= {"potwatch/probe/pot/temperature", "potwatch/cook/state"}
    assert [m for m in heard if m.qos != 1] == [], "a message below QoS 1 reached a QoS 1 subscriber"
    assert live, "no live message seen"


async def test_readings_are_held_back_while_the_broker_acknowledges_nothing(running: Running) -> None:
    """A broker that stops answering (SIGSTOP: the TCP connection stays up, as on a dead Wi-Fi
    link before the liveness check cuts it) must not make paho keep every reading to send them
    all, stale, later; once it answers again, the newest reading is the one retained, without
    waiting for the probe's next one (an ESPHome probe may report once a minute)."""
    broker, part = running.broker, running.part
    assert broker.proc is not None
    link = part._link
    assert link is not None
    fed = 0

    async def one() -> None:
        nonlocal fed
        running.clock.t += 1.0
        await running.hub.request(Sample(running.clock.t, "pot", "", f_to_c(150.0 + 0.01 * fed)))
        fed += 1

    broker.proc.send_signal(signal.SIGSTOP)
    try:
        end = time.monotonic() + 10
        while part.stats["held_back"] == 0:
            assert time.monotonic() < end, "readings were never held back while the broker was stopped"
            await one()
            await asyncio.sleep(0.05)  # the probe's pace; what is waited on is the counter above
        backlog = link.backlog
        for _ in range(40):
            await one()
        await wait_until_async(lambda: part.stats["held_back"] >= 40, 5, "the next 40 readings held back")
        assert link.backlog == backlog, "readings were handed to paho while the broker acknowledged nothing"
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    await wait_until_async(lambda: link.backlog == 0, 10, "the broker to acknowledge what paho held")
    last_f = round(150.0 + 0.01 * (fed - 1), 2)  # the last one fed, held back: no newer reading comes
    topic = "potwatch/probe/pot/temperature"
    with recording(broker.host, broker.port, topic) as sub:
        await asyncio.to_thread(
            sub.wait_for, lambda m: m.json()["fahrenheit"] == pytest.approx(last_f, abs=0.005), 5, 0, "the held one"
        )
    with recording(broker.host, broker.port, topic) as late:
        seen = await asyncio.to_thread(late.wait_for, lambda m: m.retain, 5)
        assert seen.json()["fahrenheit"] == pytest.approx(last_f, abs=0.005)
