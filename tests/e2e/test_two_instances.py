"""Two ``potwatch run`` side by side on one Mosquitto: each one's topics, device and acks are its own.

The kitchen's potwatch has no instance (base topic ``potwatch``, device *potwatch*); the
second has ``instance = "kitchen"`` (base topic ``potwatch/kitchen``, device *potwatch
kitchen*): its topics sit *under* the first one's base topic, which is what makes the
separation worth testing. Both read a probe called ``pot`` on a serial pty and cook the
caramel, so their topics and alert ids (``1-a…``) are the same but for the base.
Everything is read back from the broker itself (``retained_now``), never from what a
potwatch says it sent.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker import (  # noqa: F401  (fixtures)
    Broker,
    Publisher,
    mosquitto,
    mosquitto_binary,
    mosquitto_factory,
    retained_now,
)
from tests.support.net import free_port
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.real_part("mosquitto")

ENTITIES = 10  # one probe: temperature, stage, eta, rate, target, sugar, active alerts, reached, alert, ack


@dataclass
class Potwatch:
    """One instance: its process, its probe's pty, and the names it should own on the broker."""

    name: str
    base: str  # its base topic
    node: str  # its discovery node id
    service: ServiceProcess
    device: PtyDevice
    config: Path

    @property
    def discovery(self) -> str:
        return f"homeassistant/+/{self.node}/+/config"

    def retained(self, broker: Broker) -> dict[str, bytes]:
        """What the broker holds for this instance now: its base topic's tree and its discovery node."""
        return retained_now(broker, f"{self.base}/#", self.discovery)

    def health(self) -> dict[str, Any]:
        return dict(self.service.get("/healthz")["mqtt"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.service.get("/api/status")["alerts"])

    def prime(self) -> None:
        def through() -> bool:
            self.device.write(b"100.00\n")
            return bool(self.service.get("/api/status")["probes"][0]["state"] == "ok")

        wait_until(through, 20, f"{self.name}: a reading through the serial driver", every=0.2)

    def reach_target(self) -> dict[str, Any]:
        """Climb through 225 °F until the caramel's target_reached alert is raised; return it."""
        value = 222.0

        def reached() -> dict[str, Any] | None:
            nonlocal value
            value = min(value + 0.1, 228.0)
            self.device.write(f"{value:.2f}\n".encode())
            return next((a for a in self.alerts() if a["kind"] == "target_reached"), None)

        return dict(wait_until(reached, 20, f"{self.name}: target_reached", every=0.01))

    def restart(self) -> None:
        self.service.stop()
        self.service.start()
        wait_until(lambda: self.health()["state"] == "connected", 10, f"{self.name} to connect again")


def make(tmp_path: Path, broker: Broker, name: str, mqtt_extra: str, base: str, node: str) -> Potwatch:
    where = tmp_path / name
    where.mkdir()
    device = PtyDevice()
    config = where / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{where / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\n{mqtt_extra}\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "30s"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    service = ServiceProcess(["run", "--config", str(config)], where / "service.log", free_port())
    return Potwatch(name, base, node, service, device, config)


@pytest.fixture
def pair(tmp_path: Path, mosquitto: Broker) -> Iterator[tuple[Potwatch, Potwatch]]:  # noqa: F811
    first = make(tmp_path, mosquitto, "first", "", "potwatch", "potwatch")
    second = make(tmp_path, mosquitto, "second", 'instance = "kitchen"', "potwatch/kitchen", "potwatch_kitchen")
    try:
        for one in (first, second):
            one.service.start()
            wait_until(lambda o=one: o.health()["state"] == "connected", 10, f"{one.name} to connect")
        yield first, second
    finally:
        for one in (first, second):
            if one.service.proc is not None and one.service.proc.poll() is None:
                one.service.stop(signal.SIGKILL)
            one.device.unplug()


def discovery_configs(retained: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/")}


def topics_named(config: dict[str, Any]) -> set[str]:
    """Every topic a discovery config points Home Assistant at."""
    return {v for k, v in config.items() if k.endswith("_topic") and isinstance(v, str)} | {
        a["topic"] for a in config.get("availability", [])
    }


def wait_for_complete(one: Potwatch, broker: Broker) -> dict[str, bytes]:
    """This instance's retained set once its discovery is all on the broker."""

    def complete() -> dict[str, bytes] | None:
        retained = one.retained(broker)
        return retained if len(discovery_configs(retained)) == ENTITIES else None

    return dict(wait_until(complete, 10, f"{one.name}'s {ENTITIES} discovery configs on the broker"))


def test_each_instance_owns_its_retained_topics_and_its_home_assistant_device(
    pair: tuple[Potwatch, Potwatch],
    mosquitto: Broker,  # noqa: F811
) -> None:
    """Pass: each instance's retained topics are all under its own base topic and discovery node;
    its discovery names one device of its own (identifiers, unique_ids, availability topic, every
    state and command topic under its base), and no identifier or unique_id is shared."""
    first, second = pair
    owned = {one.name: wait_for_complete(one, mosquitto) for one in pair}
    # the second's base topic sits under the first's: the first's tree holds both; its own is the rest
    mine = {t: p for t, p in owned["first"].items() if not t.startswith("potwatch/kitchen/")}
    assert {t for t in owned["first"] if t.startswith("potwatch/kitchen/")} <= set(owned["second"])
    assert "potwatch/availability" in mine and "potwatch/kitchen/availability" in owned["second"]
    assert "potwatch/probe/pot/temperature" in mine and "potwatch/kitchen/probe/pot/temperature" in owned["second"]
    devices, unique_ids = {}, {}
    for one, retained in ((first, mine), (second, owned["second"])):
        configs = discovery_configs(retained)
        assert all(f"/{one.node}/" in t for t in configs), sorted(configs)
        idents = {tuple(c["device"]["identifiers"]) for c in configs.values()}
        assert len(idents) == 1, idents  # one device per potwatch
        devices[one.name] = idents.pop()
        unique_ids[one.name] = {c["unique_id"] for c in configs.values()}
        assert len(unique_ids[one.name]) == ENTITIES
        for config in configs.values():
            availability = {a["topic"] for a in config.get("availability", [])} | {config.get("availability_topic")}
            assert f"{one.base}/availability" in availability, config  # this potwatch's own will
            named = topics_named(config)
            assert named and all(t.startswith(f"{one.base}/") for t in named), named
            if one is first:
                assert not any(t.startswith("potwatch/kitchen/") for t in named), named
    assert devices == {"first": ("potwatch_potwatch",), "second": ("potwatch_potwatch_kitchen",)}
    assert not unique_ids["first"] & unique_ids["second"]
    names = {json.loads(p)["device"]["name"] for t, p in owned["second"].items() if t.startswith("homeassistant/")}
    assert names == {"potwatch kitchen"}


def test_neither_clears_the_others_retained_topics_on_connect(
    pair: tuple[Potwatch, Potwatch],
    mosquitto: Broker,  # noqa: F811
) -> None:
    """Pass: with a ghost planted in each instance's space (a removed probe's discovery config and
    state), restarting one clears its own ghosts and leaves every retained message of the other —
    its real ones and its ghost alike — byte for byte; then the same the other way round."""
    first, second = pair
    for one in pair:
        wait_for_complete(one, mosquitto)
    device = Publisher(mosquitto)
    try:
        for one in pair:
            device.publish(
                f"homeassistant/sensor/{one.node}/probe_old_temperature/config",
                json.dumps({"name": "old", "state_topic": f"{one.base}/probe/old/temperature"}),
                retain=True,
            )
            device.publish(f"{one.base}/probe/old/temperature", '{"celsius": 20.0}', retain=True)
    finally:
        device.close()
    for restarted, other in ((first, second), (second, first)):
        ghosts = {
            f"homeassistant/sensor/{restarted.node}/probe_old_temperature/config",
            f"{restarted.base}/probe/old/temperature",
        }
        before = other.retained(mosquitto)
        assert ghosts <= set(restarted.retained(mosquitto))  # planted, and still there
        restarted.restart()
        wait_until(
            lambda r=restarted, g=ghosts: not g & set(r.retained(mosquitto)),
            10,
            f"{restarted.name} to clear its own ghosts",
        )
        assert restarted.health()["cleared"] == 2  # its two ghosts, nothing more (a fresh process's count)
        after = other.retained(mosquitto)
        if other is first:  # the first's tree holds the second's topics too: compare its own only
            before = {t: p for t, p in before.items() if not t.startswith("potwatch/kitchen/")}
            after = {t: p for t, p in after.items() if not t.startswith("potwatch/kitchen/")}
        # its state moves on (readings): what matters is that every topic is still there, with a payload
        assert set(after) == set(before), sorted(set(before) ^ set(after))
        discovery = {t: p for t, p in before.items() if t.startswith("homeassistant/")}
        assert {t: after[t] for t in discovery} == discovery  # discovery byte for byte, its ghost included


def test_an_ack_on_one_instances_topic_acknowledges_only_that_instances_alert(
    pair: tuple[Potwatch, Potwatch],
    mosquitto: Broker,  # noqa: F811
) -> None:
    """Pass: both raise an alert with the same id; that id published on the second's ack topic
    acknowledges the second's alert only, and the first's Home Assistant button acknowledges the
    first's only; neither potwatch counts a command it was not sent."""
    first, second = pair
    for one in pair:
        one.prime()
    alerts = {one.name: one.reach_target() for one in pair}
    assert alerts["first"]["id"] == alerts["second"]["id"]  # ids are per potwatch: the case to keep apart
    alert_id = alerts["first"]["id"]
    device = Publisher(mosquitto)
    try:
        device.publish("potwatch/kitchen/cook/ack", alert_id)
        wait_until(lambda: any(a["id"] == alert_id and a["acked"] for a in second.alerts()), 5, "the second's ack")
        device.publish("potwatch/cook/ack/press", "PRESS")
        wait_until(lambda: any(a["id"] == alert_id and a["acked"] for a in first.alerts()), 5, "the first's ack")
    finally:
        device.close()
    # each heard exactly one command, its own: the other's never reached it (not even to be ignored)
    assert (first.health()["commands"], second.health()["commands"]) == (1, 1)
    assert (first.health()["ignored"], second.health()["ignored"]) == (0, 0)
    # the first's button said "every active alert": the second's other alerts are untouched
    assert all(not a["acked"] for a in second.alerts() if a["id"] != alert_id)
    assert [a["id"] for a in second.alerts() if a["acked"]] == [alert_id]


def test_each_last_will_marks_only_itself_offline(
    pair: tuple[Potwatch, Potwatch],
    mosquitto: Broker,  # noqa: F811
) -> None:
    """Pass: SIGKILL one (no goodbye: the broker publishes its will): its availability reads
    offline on the broker and the other's still online; then the same for the other."""
    first, second = pair
    for one in pair:
        wait_until(
            lambda o=one: retained_now(mosquitto, f"{o.base}/availability").get(f"{o.base}/availability") == b"online",
            10,
            f"{one.name} online",
        )
    for killed, other in ((first, second), (second, first)):
        started = time.monotonic()
        killed.service.stop(signal.SIGKILL)
        topic = f"{killed.base}/availability"
        wait_until(
            lambda t=topic: retained_now(mosquitto, t).get(t) == b"offline",
            5,
            f"{killed.name}'s will",
        )
        assert time.monotonic() - started < 5
        if other.service.proc is not None and other.service.proc.poll() is None:
            theirs = f"{other.base}/availability"
            assert retained_now(mosquitto, theirs).get(theirs) == b"online"
