"""Local TCP ports for the real processes a test starts (a broker, a potwatch)."""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

import paho.mqtt.client as paho


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now, and that no outgoing connection will take.

    Below the kernel's ephemeral range (``ip_local_port_range``): a port from that
    range can be handed to any process's next outgoing connection as its source
    port (one potwatch's link to the broker took the port chosen for a second
    potwatch's page, which then could not listen), while nothing connecting ever
    gets one below it. Never 1883, 8883 or 8000, so a developer's own broker or
    service is never reached by a test.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = _random.randrange(10_000, low)
        if port in _AVOID:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use now: another
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_AVOID = frozenset({1883, 8000, 8883})
_random = random.SystemRandom()


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768
    return low if low > 11_000 else 32_768


def accepting(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def drop_without_goodbye(client: paho.Client) -> None:
    """End ``client``'s connection as a device losing power does: no DISCONNECT, so the broker sends its will.

    paho's network thread is stopped first, so that it does not reconnect.
    """
    sock = client.socket()
    client.loop_stop()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
