"""TCP_QUICKACK's re-arming works where Linux has it, and falls back cleanly where it cannot work.

Real sockets throughout: a connected loopback pair for the working case, a
UDP socket (no TCP options at all: the kernel answers ENOPROTOOPT) for a
socket that refuses it, and a real MQTT link on a real Mosquitto for a
system without the option.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest

from drivers import tcp_options
from drivers.mqtt_link import LinkSettings, LinkUp, Message, MqttLink
from drivers.tcp_options import QuickAck
from tests.support.broker import Broker, Publisher, mosquitto, mosquitto_binary, mosquitto_factory  # noqa: F401

LINUX_QUICKACK = 12  # TCP_QUICKACK's number on Linux, to read the option back when the module's is hidden


@pytest.fixture
def connected() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        try:
            yield client
        finally:
            client.close()
            peer.close()


@pytest.fixture
def untold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the process's one fallback line afresh."""
    monkeypatch.setattr(tcp_options, "_told", False)


def fallback_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "TCP_QUICKACK unavailable" in r.getMessage()]


@pytest.mark.skipif(tcp_options.TCP_QUICKACK is None, reason="TCP_QUICKACK is Linux's")
def test_rearm_turns_quick_acks_back_on(connected: socket.socket) -> None:
    assert tcp_options.TCP_QUICKACK is not None
    connected.setsockopt(socket.IPPROTO_TCP, tcp_options.TCP_QUICKACK, 0)
    QuickAck().rearm(connected)
    assert connected.getsockopt(socket.IPPROTO_TCP, tcp_options.TCP_QUICKACK) == 1


def test_a_socket_that_refuses_the_option_turns_it_off_for_good_said_once(
    untold: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "drivers.tcp_options")
    quick = QuickAck()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:  # no TCP options: ENOPROTOOPT
        for _ in range(3):
            quick.rearm(udp)  # never raises
    assert not quick.enabled or tcp_options.TCP_QUICKACK is None
    other = QuickAck()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        other.rearm(udp)
    assert len(fallback_lines(caplog)) == 1, caplog.text  # once per process, not per link or per read


def test_a_closed_socket_is_not_a_missing_option(connected: socket.socket) -> None:
    quick = QuickAck()
    connected.close()  # the broker dropped us under the read: paho reports that, not this
    quick.rearm(connected)
    assert quick.enabled == (tcp_options.TCP_QUICKACK is not None)


def test_without_the_option_on_this_system_nothing_is_tried(
    untold: None, connected: socket.socket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "drivers.tcp_options")
    monkeypatch.setattr(tcp_options, "TCP_QUICKACK", None)  # as on macOS or a BSD
    quick = QuickAck()
    assert not quick.enabled
    if hasattr(socket, "TCP_QUICKACK"):
        connected.setsockopt(socket.IPPROTO_TCP, LINUX_QUICKACK, 0)
    quick.rearm(connected)
    if hasattr(socket, "TCP_QUICKACK"):
        assert connected.getsockopt(socket.IPPROTO_TCP, LINUX_QUICKACK) == 0  # left alone
    assert len(fallback_lines(caplog)) == 1


async def test_a_link_without_the_option_connects_and_receives(
    untold: None,
    mosquitto: Broker,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pass: with TCP_QUICKACK missing, a real link still connects, gets its messages, and says so once."""
    caplog.set_level(logging.INFO, "drivers.tcp_options")
    monkeypatch.setattr(tcp_options, "TCP_QUICKACK", None)
    device = Publisher(mosquitto, client_id="test-no-quickack")
    try:
        async with MqttLink(LinkSettings(mosquitto.host, mosquitto.port), subscriptions=["kitchen/#"]) as link:
            assert isinstance(await asyncio.wait_for(link.get(), 10), LinkUp)
            for n in range(3):
                await asyncio.to_thread(device.publish, "kitchen/pot", f"{100 + n}", False, 1)
                msg = await asyncio.wait_for(link.get(), 10)
                assert isinstance(msg, Message) and msg.payload == f"{100 + n}".encode()
            assert link.connected and link.callback_errors == 0
    finally:
        device.close()
    assert len(fallback_lines(caplog)) == 1
