"""Local TCP ports for the real processes a test starts (a broker, a potwatch)."""

from __future__ import annotations

import contextlib
import socket

import paho.mqtt.client as paho


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now.

    The kernel picks it from the ephemeral range, so it is never 1883 or 8000:
    a developer's own broker or service is never reached by a test.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
