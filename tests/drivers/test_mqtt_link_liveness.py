"""An idle MQTT link (a probe waiting for its sensor) behind a link that goes half-open.

The busy publisher's case is tests/e2e/faults/test_broker_half_open.py; here
nothing is published at all, so nothing but the keepalive and our question
ever crosses the link: a real Mosquitto, a real proxy (tests/support/link_proxy.py).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from drivers.mqtt_link import LinkDown, LinkEvent, LinkSettings, LinkUp, MqttLink, Will
from tests.support.broker import Broker, mosquitto, mosquitto_binary, mosquitto_factory, retained_now  # noqa: F401
from tests.support.link_proxy import link_proxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.real_part("mosquitto")

# 4 s, not the 2 s minimum: potwatch's 1.5 × (6 s) and paho's own, a little past 2 × (8 s), are then
# 2 s apart, room for a loaded machine's late wakeups between the bound and either of them
KEEPALIVE_S = 4
NOTICED_BOUND_S = 1.5 * KEEPALIVE_S + 1.5  # below paho's 2 × KEEPALIVE_S
PINGRESP = b"\xd0\x00"  # MQTT 3.1.1 §3.13


async def next_of(link: MqttLink, kind: type[LinkEvent], timeout: float) -> LinkEvent:
    async with asyncio.timeout(timeout):
        while True:
            event = await link.get()
            if isinstance(event, kind):
                return event


async def test_an_idle_link_that_goes_silent_is_dropped_within_one_and_a_half_keepalives(mosquitto: Broker) -> None:  # noqa: F811
    """Pass: LinkDown, saying the broker gave no answer, within 1.5 × the keepalive of the cut and
    1.5 s (7.5 s with a 4 s keepalive; paho alone: a little past 2 ×, 8 s); connected again within 2 s
    of the link healing."""
    with link_proxy(mosquitto.host, mosquitto.port) as proxy:
        settings = LinkSettings(proxy.host, proxy.port, keepalive=KEEPALIVE_S)
        async with MqttLink(settings, subscriptions=[("tele/kitchen/SENSOR", 0)], name="probe") as link:
            await next_of(link, LinkUp, 5)
            # the worst moment for paho's own keepalive: just after a PINGRESP, it next asks a
            # keepalive later and waits a keepalive more, 2 × in all
            await asyncio.to_thread(proxy.cut_after, lambda data: data.endswith(PINGRESP), 3 * KEEPALIVE_S)
            cut_at = time.monotonic()
            down = await next_of(link, LinkDown, 2 * KEEPALIVE_S + 1)
            noticed = time.monotonic() - cut_at
            assert isinstance(down, LinkDown)
            assert "no answer from the broker" in down.reason, down.reason
            assert noticed <= NOTICED_BOUND_S, f"noticed after {noticed:.2f} s (paho's own: 2 × {KEEPALIVE_S} s)"
            healed_at = time.monotonic()
            proxy.heal()
            await next_of(link, LinkUp, 5)
            assert time.monotonic() - healed_at <= 2.0


async def test_a_silent_link_is_cut_with_a_reset_that_discards_what_was_not_sent(mosquitto: Broker) -> None:  # noqa: F811
    """Pass: the link goes half-open, a QoS 0 publish is written into it, the liveness watch gives up:
    the connection ends with a reset (RST: the kernel drops what it still held to send), not an orderly
    close (FIN, queued behind the stale bytes and sent whenever the link heals); and the broker, which
    never got a DISCONNECT, publishes the link's will."""
    will = Will("test/liveness-will", b"offline")
    with link_proxy(mosquitto.host, mosquitto.port) as proxy:
        settings = LinkSettings(proxy.host, proxy.port, keepalive=KEEPALIVE_S, will=will)
        async with MqttLink(settings, name="heater") as link:
            await next_of(link, LinkUp, 5)
            proxy.cut()
            assert link.publish("cmnd/kitchen_plug/POWER", "ON")
            await next_of(link, LinkDown, 2 * KEEPALIVE_S + 1)
            proxy.heal()
            await next_of(link, LinkUp, 5)
            await asyncio.to_thread(wait_until, lambda: proxy.client_endings, 5.0, "the old connection to end")
            assert proxy.client_endings[0] == "reset", proxy.client_endings
            assert retained_now(mosquitto, will.topic) == {will.topic: b"offline"}
