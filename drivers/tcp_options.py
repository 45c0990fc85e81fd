"""The two TCP options an MQTT connection needs for millisecond latency, each with a clean fallback.

Both fight the same 40 ms: Nagle's algorithm on one end of a connection
holding a small packet until the other end ACKs the one before, and Linux
delaying that ACK up to 40 ms (its delayed-ACK timer) once a connection both
sends and receives, as every MQTT connection does (docs/mqtt.md, "Latency").

* ``set_nodelay``: our small packets leave at once (Nagle off on our side).
  Every platform has TCP_NODELAY.
* ``QuickAck``: we ACK what we read at once, so that the broker's Nagle
  (Mosquitto's default, ``set_tcp_nodelay false``) never waits for our
  delayed ACK. TCP_QUICKACK is Linux only, and Linux clears it after use, so
  it is set again after every read. Where it does not exist (another OS, a
  socket that refuses it) the link runs on without it: said once in the log,
  never tried again on that link, never an error.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Final

log = logging.getLogger(__name__)

# Linux only; None elsewhere.
TCP_QUICKACK: Final = getattr(socket, "TCP_QUICKACK", None)

# The errors that mean "this socket has no such option" rather than "this socket is gone".
_UNSUPPORTED: Final = frozenset({errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EINVAL})

_told = False  # the fallback is logged once per process, not once per connection


def is_tcp(sock: object) -> bool:
    return isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6)


def set_nodelay(sock: object) -> None:
    """Our small packets leave at once, not after the broker's delayed ACK of the one before."""
    if is_tcp(sock):
        assert isinstance(sock, socket.socket)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _tell_once(why: str) -> None:
    global _told
    if not _told:
        _told = True
        log.info("mqtt: TCP_QUICKACK unavailable (%s): ACKs to the broker may wait up to 40 ms", why)


class QuickAck:
    """TCP_QUICKACK for one connection, re-armed once per read; off for good where it cannot work."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and TCP_QUICKACK is not None
        if enabled and TCP_QUICKACK is None:
            _tell_once("not on this system")

    def rearm(self, sock: object) -> None:
        """ACK what we just read now, not up to 40 ms later: the broker's Nagle waits for that ACK."""
        if not self.enabled or not is_tcp(sock):
            return
        assert isinstance(sock, socket.socket) and TCP_QUICKACK is not None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
        except OSError as exc:
            if exc.errno in _UNSUPPORTED:
                self.enabled = False
                _tell_once(f"the socket refused it: {exc.strerror}")
            # anything else: the socket closed under us, and paho reports that itself
