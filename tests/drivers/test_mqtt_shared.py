"""Many MQTT probes on one broker share one connection (drivers/mqtt_shared.py), through a real Mosquitto.

The broker's own log is the witness of how many connections were made and
what was subscribed and unsubscribed (``log_type subscribe``/``unsubscribe``);
each probe's events say what reached it. Every wait is on a condition with a
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import re
import socket
import struct
import termios
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from drivers.mqtt_link import LinkSettings, LinkUp, Message, MqttLink
from drivers.mqtt_probe import MqttProbe, Timing, settings_from_url
from drivers.mqtt_shared import LinkPool, SharedLink, Tap
from drivers.registry import parse_probe_url
from tests.support.events import EventCollector, is_notice, is_reading
from tests.support.waiting import wait_until, wait_until_async

if TYPE_CHECKING:
    from tests.support.broker import Broker, Publisher

pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")

WAIT_S = 10.0
LOGGED = ["log_type subscribe", "log_type unsubscribe"]


def whole_log(broker: Broker) -> str:
    return broker.log_path.read_text(errors="replace")


def connections(broker: Broker) -> int:
    """Connections potwatch's clients made to the broker, from its log."""
    return len(re.findall(r"New client connected from .* as potwatch-", whole_log(broker)))


def probe(broker: Broker, probe_id: str, topic: str, pool: LinkPool) -> MqttProbe:
    settings = settings_from_url(parse_probe_url(broker.url(topic, "format=number&lwt=")))
    return MqttProbe(probe_id, settings, time.monotonic, Timing(), pool)


@contextlib.asynccontextmanager
async def collecting(probes: list[MqttProbe]) -> AsyncIterator[list[EventCollector]]:
    """Every probe's events, once each has said it is connected."""
    async with contextlib.AsyncExitStack() as stack:
        evs = [await stack.enter_async_context(EventCollector(p, WAIT_S)) for p in probes]
        for ev in evs:
            await ev.wait_for(is_notice("connected to"))
        yield evs


async def test_many_probes_on_one_broker_make_one_connection_and_each_hears_only_its_own(
    mosquitto_factory: Callable[..., Broker], make_publisher: Callable[..., Publisher]
) -> None:
    broker = mosquitto_factory(LOGGED)
    broker.start()
    pool = LinkPool()
    n = 40
    probes = [probe(broker, f"p{i}", f"line/p{i}/temperature", pool) for i in range(n)]
    async with collecting(probes) as evs:
        assert connections(broker) == 1, whole_log(broker)[-2000:]
        assert pool.connections() == 1
        device = make_publisher(broker)
        for i in range(n):
            device.publish(f"line/p{i}/temperature", f"{20 + i}.5")
        for i, ev in enumerate(evs):
            await ev.reading(is_reading(20 + i + 0.5))
        device.publish("line/p3/temperature", "99.5")
        await evs[3].reading(is_reading(99.5))
        last = make_publisher(broker)  # a second device; its message comes after the first one's
        last.publish("line/p7/temperature", "1.5")
        await evs[7].reading(is_reading(1.5))
        for i, ev in enumerate(evs):
            expected = [20 + i + 0.5] + ([99.5] if i == 3 else []) + ([1.5] if i == 7 else [])
            assert [r.celsius for r in ev.readings()] == expected, (i, ev.readings())
    # the last probe out closed the connection, cleanly
    assert pool.connections() == 0
    assert probes[0].link is not None and not probes[0].link.thread_alive


async def test_a_wildcard_probe_and_an_exact_one_both_hear_a_message_that_matches_both(
    mosquitto: Broker, publisher: Publisher
) -> None:
    pool = LinkPool()
    wide = probe(mosquitto, "wide", "rtl/+/temp", pool)
    narrow = probe(mosquitto, "narrow", "rtl/a/temp", pool)
    other = probe(mosquitto, "other", "rtl/b/temp", pool)
    async with collecting([wide, narrow, other]) as (w, a, b):
        publisher.publish("rtl/a/temp", "30.5")
        publisher.publish("rtl/b/temp", "40.5")
        await w.reading(is_reading(40.5))
        await a.reading(is_reading(30.5))
        await b.reading(is_reading(40.5))
        assert sorted(r.celsius for r in w.readings()) == [30.5, 40.5]
        assert [r.celsius for r in a.readings()] == [30.5]
        assert [r.celsius for r in b.readings()] == [40.5]


async def test_a_removed_probe_unsubscribes_and_the_others_carry_on(
    mosquitto_factory: Callable[..., Broker], make_publisher: Callable[..., Publisher]
) -> None:
    broker = mosquitto_factory(LOGGED)
    broker.start()
    publisher = make_publisher(broker)
    pool = LinkPool()
    stays, goes = probe(broker, "stays", "k/stays", pool), probe(broker, "goes", "k/goes", pool)
    async with EventCollector(stays, WAIT_S) as kept:
        await kept.wait_for(is_notice("connected to"))
        async with EventCollector(goes, WAIT_S) as gone:
            await gone.wait_for(is_notice("connected to"))
        # the broker was told: it logs the UNSUBSCRIBE of k/goes by potwatch's one client
        await wait_until_async(
            lambda: re.search(r"potwatch-\S+ k/goes$", whole_log(broker), re.M), 5, lambda: whole_log(broker)
        )
        assert not re.search(r"potwatch-\S+ k/stays$", whole_log(broker), re.M)  # only subscribed, never left
        publisher.publish("k/goes", "10.5")
        publisher.publish("k/stays", "11.5")
        await kept.reading(is_reading(11.5))
        assert [r.celsius for r in kept.readings()] == [11.5]
        assert pool.connections() == 1 and connections(broker) == 1


async def test_a_broker_restart_brings_every_probe_back(mosquitto: Broker) -> None:
    pool = LinkPool()
    n = 10
    probes = [probe(mosquitto, f"r{i}", f"r/{i}", pool) for i in range(n)]
    async with collecting(probes) as evs:
        marks = [ev.mark() for ev in evs]
        await asyncio.to_thread(mosquitto.restart, 0.5)
        for ev, mark in zip(evs, marks, strict=True):
            await ev.wait_for(is_notice("lost"), after=mark)
            await ev.wait_for(is_notice("connected to"), after=mark)
        with contextlib.ExitStack() as devices:
            for i in range(n):
                devices.enter_context(mosquitto.publishing(f"r/{i}", f"{50 + i}.5"))
            for i, (ev, mark) in enumerate(zip(evs, marks, strict=True)):
                await ev.reading(is_reading(50 + i + 0.5, live=True), after=mark)
        assert pool.connections() == 1


async def test_a_flooded_probe_drops_only_its_own_messages(mosquitto: Broker, publisher: Publisher) -> None:
    """A tap whose consumer is stuck fills its own bounded queue; the other tap's messages all arrive."""
    settings = replace(settings_from_url(parse_probe_url(mosquitto.url("f/x", "format=number"))).link, max_queued=50)
    shared = SharedLink(settings, time.monotonic)
    stuck = shared.attach(["f/flood"])  # nobody reads it: a probe whose consumer fell behind
    quiet = shared.attach(["f/quiet"])
    try:
        got: list[bytes] = []

        async def read(tap: Tap) -> None:
            while True:
                event = await tap.get()
                if isinstance(event, Message):
                    got.append(event.payload)

        async def up(tap: Tap) -> None:
            while not isinstance(await tap.get(), LinkUp):
                pass

        await asyncio.wait_for(up(quiet), WAIT_S)
        reader = asyncio.create_task(read(quiet))
        try:

            def send() -> None:
                for n in range(400):
                    publisher.publish("f/flood", f"{n}", qos=1)
                    if n % 20 == 0:
                        publisher.publish("f/quiet", f"{n}", qos=1)

            await asyncio.to_thread(send)
            await wait_until_async(lambda: len(got) == 20, WAIT_S, lambda: f"20 quiet messages, got {got}")
            await wait_until_async(lambda: stuck.dropped >= 400 - 50 - 1, WAIT_S, lambda: f"dropped {stuck.dropped}")
        finally:
            reader.cancel()
        assert got == [f"{n}".encode() for n in range(0, 400, 20)]
        assert quiet.dropped == 0
        assert stuck.queue.qsize() <= 50 + 1  # its LinkUp, and 50 messages
    finally:
        shared.detach(stuck)
        shared.detach(quiet)
        await shared.link.stop()


async def test_a_retained_value_goes_to_the_probe_that_subscribed_not_again_to_the_others(
    mosquitto: Broker, publisher: Publisher
) -> None:
    publisher.publish("ret/pot", "70.5", retain=True)
    pool = LinkPool()
    first, second = probe(mosquitto, "first", "ret/pot", pool), probe(mosquitto, "second", "ret/pot", pool)
    async with EventCollector(first, WAIT_S) as a:
        await a.reading(is_reading(70.5, live=False))
        publisher.publish("ret/pot", "71.5")  # live, not retained: the broker keeps the retained 70.5
        await a.reading(is_reading(71.5, live=True))
        async with EventCollector(second, WAIT_S) as b:
            await b.reading(is_reading(70.5, live=False))  # the new probe gets the retained value
            publisher.publish("ret/pot", "72.5")
            await b.reading(is_reading(72.5, live=True))
            await a.reading(is_reading(72.5, live=True))
        assert [(r.celsius, r.live) for r in a.readings()] == [(70.5, False), (71.5, True), (72.5, True)]


def buffered(sock: socket.socket) -> int:
    """Bytes the kernel holds for ``sock``, not read yet."""
    return int(struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0])


async def test_a_shared_connection_reads_a_backlog_in_bursts_not_one_message_a_turn(
    mosquitto: Broker, publisher: Publisher
) -> None:
    """paho reads one packet per ``loop_read``: one connection for 500 probes must read on while there is more.

    The messages are made to wait in the socket (the loop is held while they
    are published and while the kernel fills), then the loop runs: a task
    counts its turns, and most messages must come many to a turn.
    """
    got: list[int] = []
    turns = 0

    def sink(event: object) -> None:
        if isinstance(event, Message):
            got.append(turns)  # the turn of the loop it arrived in

    link = MqttLink(LinkSettings(mosquitto.host, mosquitto.port), subscriptions=["burst/#"], sink=sink)
    async with link:
        await wait_until_async(lambda: link.connected, WAIT_S, "the link up")
        sent = 300
        for n in range(sent):  # the loop is held meanwhile: nothing is read
            publisher.publish("burst/pot", f"{n:04d}", qos=1)
        sock = link._client.socket() if link._client is not None else None
        assert isinstance(sock, socket.socket)
        wait_until(lambda: buffered(sock) >= sent * 16, WAIT_S, lambda: f"{buffered(sock)} bytes waiting")

        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.create_task(count_turns())
        try:
            await wait_until_async(lambda: len(got) == sent, WAIT_S, lambda: f"{len(got)} of {sent} messages")
        finally:
            counter.cancel()
    per_turn = Counter(got)
    assert max(per_turn.values()) >= 50, f"at most {max(per_turn.values())} messages in one turn"
