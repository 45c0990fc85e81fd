"""What potwatch leaves retained on a real Mosquitto: no ghosts of removed probes, and a lost probe unavailable.

Home Assistant keeps an entity for as long as its discovery config is retained,
and a Home Assistant installed later discovers it fresh: a probe removed from
the config must take its retained topics with it, without potwatch needing to
remember (in a state directory) what it announced before. And Home Assistant's
``expire_after`` restarts on every message, potwatch's "lost" one included, so
the lost probe's own availability topic is what makes the sensor unavailable
at the stale timeout rather than at twice it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.config import MqttConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Sample, Tick
from service.core.heat.events import OverrideMode
from service.mqtt.discovery import HeaterInfo, Message, ProbeInfo
from service.mqtt.publisher import MqttPublisher
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.broker import Broker, Publisher, mosquitto, mosquitto_binary, mosquitto_factory, retained_now  # noqa: F401
from tests.support.clock import HandClock
from tests.support.ha_discovery import validate_all
from tests.support.waiting import wait_until, wait_until_async

pytestmark = pytest.mark.real_part("mosquitto")

EVERYTHING = ("potwatch/#", "homeassistant/#", "other/#")
OVEN = [
    "homeassistant/sensor/potwatch/probe_oven_temperature/config",
    "potwatch/probe/oven/temperature",
    "potwatch/probe/oven/availability",
]
# another potwatch on the same broker (base topic "other"): never ours to clear
OTHERS = {
    "homeassistant/sensor/other/probe_oven_temperature/config": b'{"unique_id": "potwatch_other_probe_oven"}',
    "other/probe/oven/temperature": b'{"probe": "oven", "state": "ok"}',
    # under our base topic, but not a topic potwatch publishes: someone else's
    "potwatch/probe/oven/notes": b"the thermocouple in the left drawer",
}


@dataclass
class Running:
    hub: Hub
    part: MqttPublisher
    clock: HandClock
    tasks: list[asyncio.Task[None]]

    async def feed(self, celsius: float, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.t += 1.0
            await self.hub.request(Sample(self.clock.t, "pot", "", celsius))

    async def stop(self) -> None:
        await self.part.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def start(
    broker: Broker, probes: list[str], accept_commands: bool = True, heaters: tuple[str, ...] = (), **mqtt: str
) -> Running:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup(p, 10.0) for p in probes]), clock, load_profiles())
    config = MqttConfig.model_validate({"url": f"mqtt://{broker.host}:{broker.port}", **mqtt})
    part = MqttPublisher(
        config,
        [ProbeInfo(p) for p in probes],
        accept_commands=accept_commands,
        heaters=[HeaterInfo(h, probes[0]) for h in heaters],
    )
    part.attach(hub)
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(part.run())]
    await wait_until_async(lambda: part.connected, 10, "the part to connect")
    return Running(hub, part, clock, tasks)


@pytest.fixture
async def two_probes_then_one(mosquitto: Broker) -> AsyncIterator[Broker]:  # noqa: F811
    """An earlier run announced "pot" and "oven" and stopped; the config now has "pot" alone."""
    earlier = await start(mosquitto, ["pot", "oven"])
    await asyncio.to_thread(
        lambda: wait_until(
            lambda: set(OVEN) <= set(retained_now(mosquitto, *EVERYTHING)), 5, "the earlier run's retained oven"
        )
    )
    await earlier.stop()
    device = Publisher(mosquitto)
    try:
        for topic, payload in OTHERS.items():
            await asyncio.to_thread(device.publish, topic, payload, True)
    finally:
        device.close()
    yield mosquitto


async def test_a_removed_probe_leaves_nothing_retained_and_the_rest_stays(two_probes_then_one: Broker) -> None:
    broker = two_probes_then_one
    before = await asyncio.to_thread(retained_now, broker, *EVERYTHING)
    assert set(OVEN) <= set(before)  # the ghosts are there to begin with
    running = await start(broker, ["pot"])
    try:
        await running.feed(100.0, 3)

        def ghosts_gone() -> bool:
            return not set(OVEN) & set(retained_now(broker, *EVERYTHING))

        await asyncio.to_thread(lambda: wait_until(ghosts_gone, 5, "the removed probe's retained topics to clear"))
        after = await asyncio.to_thread(retained_now, broker, *EVERYTHING)
    finally:
        await running.stop()
    assert {t: after.get(t) for t in OTHERS} == OTHERS  # another instance's topics are untouched
    pot = "homeassistant/sensor/potwatch/probe_pot_temperature/config"
    assert json.loads(after[pot])["state_topic"] == "potwatch/probe/pot/temperature"
    assert json.loads(after["potwatch/probe/pot/temperature"])["celsius"] == pytest.approx(100.0)
    assert after["potwatch/probe/pot/availability"] == b"online"
    ours = [Message(t, p.decode(), retain=True) for t, p in after.items() if t.startswith("homeassistant/")]
    assert validate_all([m for m in ours if "/other/" not in m.topic]) == []
    assert running.part.stats["cleared"] == len(OVEN)
    assert running.part.stats["ignored"] == 0  # the note under a probe is not taken for a command either


async def test_a_lost_probe_is_unavailable_from_the_stale_timeout_on(mosquitto: Broker) -> None:  # noqa: F811
    running = await start(mosquitto, ["pot"])
    availability = "potwatch/probe/pot/availability"
    try:
        config = json.loads(
            (await asyncio.to_thread(retained_now, mosquitto, "homeassistant/#"))[
                "homeassistant/sensor/potwatch/probe_pot_temperature/config"
            ]
        )
        assert config["availability_mode"] == "all"
        assert [a["topic"] for a in config["availability"]] == ["potwatch/availability", availability]
        await running.feed(100.0, 5)
        now = await asyncio.to_thread(retained_now, mosquitto, "potwatch/probe/pot/+")
        assert now[availability] == b"online"
        running.clock.t += 11.0  # past the 10 s stale timeout, no reading
        await running.hub.request(Tick(running.clock.t))

        def lost() -> dict[str, bytes] | None:
            seen = retained_now(mosquitto, "potwatch/probe/pot/+")
            state = json.loads(seen["potwatch/probe/pot/temperature"])["state"]
            return seen if state == "lost" else None

        seen = await asyncio.to_thread(lambda: wait_until(lost, 5, "the probe to be published lost"))
        assert seen is not None and seen[availability] == b"offline"
        await running.feed(100.0, 1)
        back = await asyncio.to_thread(
            lambda: wait_until(
                lambda: retained_now(mosquitto, availability).get(availability) == b"online", 5, "online again"
            )
        )
        assert back
    finally:
        await running.stop()


async def test_two_instances_on_one_broker_are_two_devices_and_never_clear_each_other(
    mosquitto: Broker,  # noqa: F811
) -> None:
    first = await start(mosquitto, ["pot"])
    second = await start(mosquitto, ["pot", "oven"], instance="kitchen")
    try:
        await first.feed(100.0, 2)
        for _ in range(2):
            second.clock.t += 1.0
            await second.hub.request(Sample(second.clock.t, "oven", "", 180.0))

        def both_there() -> dict[str, bytes] | None:
            seen = retained_now(mosquitto, *EVERYTHING)
            want = {"potwatch/probe/pot/temperature", "potwatch/kitchen/probe/oven/temperature"}
            return seen if want <= set(seen) else None

        seen = await asyncio.to_thread(lambda: wait_until(both_there, 5, "both instances' readings"))
    finally:
        await second.stop()
        await first.stop()
    configs = {t: json.loads(p) for t, p in seen.items() if t.startswith("homeassistant/") and t.endswith("/config")}
    devices = {c["device"]["name"]: c["device"]["identifiers"][0] for c in configs.values()}
    assert devices == {"potwatch": "potwatch_potwatch", "potwatch kitchen": "potwatch_potwatch_kitchen"}
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(unique_ids) == len(set(unique_ids)) == 10 + 11  # one probe here, two there
    kitchen = configs["homeassistant/sensor/potwatch_kitchen/probe_oven_temperature/config"]
    assert kitchen["state_topic"] == "potwatch/kitchen/probe/oven/temperature"
    assert json.loads(seen["potwatch/kitchen/probe/oven/temperature"])["celsius"] == pytest.approx(180.0)
    assert seen["potwatch/availability"] == seen["potwatch/kitchen/availability"] == b"online"
    assert first.part.stats["cleared"] == second.part.stats["cleared"] == 0


async def test_turning_commands_off_and_on_keeps_the_one_button(mosquitto: Broker) -> None:  # noqa: F811
    """The button's config stays retained under one unique id; only its availability follows the setting."""
    button = "homeassistant/button/potwatch/ack/config"
    gate = "potwatch/cook/ack/availability"
    seen: list[tuple[str, bytes]] = []
    for accept in (True, False, True):
        running = await start(mosquitto, ["pot"], accept_commands=accept)
        want = b"online" if accept else b"offline"
        try:

            def settled(want: bytes = want) -> dict[str, bytes] | None:
                now = retained_now(mosquitto, "homeassistant/#", "potwatch/#")
                return now if now.get(gate) == want else None

            now = await asyncio.to_thread(wait_until, settled, 5, f"the button's availability {want!r}")
        finally:
            await running.stop()
        assert running.part.stats["cleared"] == 0
        seen.append((json.loads(now[button])["unique_id"], now[gate]))
    assert seen == [
        ("potwatch_potwatch_ack", b"online"),
        ("potwatch_potwatch_ack", b"offline"),
        ("potwatch_potwatch_ack", b"online"),
    ]


CONFIGS = "homeassistant/+/potwatch/+/config"
SWITCH = "homeassistant/switch/potwatch/heater_hob_control/config"
OFF_BUTTON = "homeassistant/button/potwatch/heater_hob_off/config"


def sendable(config: dict[str, Any]) -> list[str]:
    """Every payload a Home Assistant entity of this config can publish on its command topic."""
    return [str(config[k]) for k in ("payload_on", "payload_off", "payload_press") if k in config]


async def heater_commands_taken(broker: Broker, accept: bool) -> dict[str, list[OverrideMode]]:
    """One run: once the heater "hob"'s retained discovery has settled (the switch where every override is
    taken, else the force-off button, the other gone), each payload of each entity with a command topic,
    published as Home Assistant does; what reached the heater, by entity. Fails on any command ignored."""
    running = await start(broker, ["pot"], accept_commands=accept, heaters=("hob",))
    taken: list[OverrideMode] = []

    def override(heater_id: str, mode: OverrideMode) -> bool:
        taken.append(mode)
        return heater_id == "hob"

    running.hub.heater_override = override
    want, gone = (SWITCH, OFF_BUTTON) if accept else (OFF_BUTTON, SWITCH)
    device = Publisher(broker)
    try:

        def settled() -> dict[str, bytes] | None:
            now = {t: p for t, p in retained_now(broker, CONFIGS).items() if "/heater_hob_" in t}
            return now if want in now and gone not in now else None

        configs = await asyncio.to_thread(wait_until, settled, 5, f"the heater's entities ({accept=})")
        assert validate_all([Message(t, p.decode(), retain=True) for t, p in configs.items()]) == []
        commands = {t: json.loads(p) for t, p in configs.items() if "command_topic" in json.loads(p)}
        assert list(commands) == [want], sorted(configs)
        out: dict[str, list[OverrideMode]] = {}
        for topic, config in commands.items():
            for payload in sendable(config):
                before = len(taken)
                await asyncio.to_thread(device.publish, config["command_topic"], payload)
                await wait_until_async(
                    lambda: len(taken) > before or running.part.stats["ignored"],  # noqa: B023
                    5,
                    f"{payload!r} from {topic} to reach the heater",
                )
                assert running.part.stats["ignored"] == 0, f"{payload!r} from {topic} was ignored ({accept=})"
                out.setdefault(topic, []).append(taken[-1])
        return out
    finally:
        device.close()
        await running.stop()


async def test_a_heater_announces_only_commands_mqtt_takes_and_clears_the_one_it_no_longer_does(
    mosquitto: Broker,  # noqa: F811
) -> None:
    """With a token and no accept_commands MQTT takes a heater's ``off`` only: a control switch would turn
    the heat off and then, turned on, silently hand nothing back. Pass, for commands taken, then refused,
    then taken again, on one broker that keeps the earlier run's retained configs: the switch (``auto`` and
    ``off``) where they are taken, the force-off button (``off``) where they are not, the other one's
    retained config cleared, all valid for Home Assistant; and every payload an announced entity can send
    reaches the heater, none ignored."""
    auto, off = OverrideMode.AUTO, OverrideMode.FORCE_OFF
    assert await heater_commands_taken(mosquitto, True) == {SWITCH: [auto, off]}
    assert await heater_commands_taken(mosquitto, False) == {OFF_BUTTON: [off]}
    assert await heater_commands_taken(mosquitto, True) == {SWITCH: [auto, off]}
