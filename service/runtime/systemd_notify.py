"""systemd's notify protocol: one datagram per message, ``KEY=value`` lines, on ``$NOTIFY_SOCKET``.

The protocol is a few lines (sd_notify(3)), so it is written here rather than
pulled in with libsystemd: an ``AF_UNIX`` datagram socket, the address from the
environment (a name starting with ``@`` is Linux's abstract namespace), and
newline-separated assignments. Without ``NOTIFY_SOCKET`` — a terminal, a test,
a ``Type=exec`` unit — every call is a no-op, so the service runs the same way
everywhere.

The socket is non-blocking: a manager that stops reading must never stall the
event loop, which is what the watchdog is there to watch. A message that cannot
be sent is logged once and dropped; systemd notices missing pings on its own.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

# what the service reads from its environment (systemd.exec(5), sd_watchdog_enabled(3))
ENVIRONMENT = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Sends ``READY=1``, ``WATCHDOG=1``, ``STATUS=…`` and ``STOPPING=1`` to the service manager."""

    def __init__(self, address: str | None, watchdog_s: float | None = None) -> None:
        # address: a path, or "@name" for the abstract namespace; None: not under a manager
        self.address = address
        # WatchdogSec= as the manager told it (None: no watchdog for this process)
        self.watchdog_s = watchdog_s
        self._socket: socket.socket | None = None
        self._failed = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, pid: int | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        return cls(address, watchdog_seconds(env, os.getpid() if pid is None else pid) if address else None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *(() if status is None else (f"STATUS={status}",)))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, line: str) -> bool:
        return self.send(f"STATUS={line}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def send(self, *assignments: str) -> bool:
        """True when the datagram went out; False (never an exception) when it could not."""
        if self.address is None:
            return False
        # a newline inside a value would start a new assignment: a status line stays one line
        message = "\n".join(a.replace("\n", " ") for a in assignments).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)
            self._socket.sendto(message, _socket_address(self.address))
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("cannot tell the service manager %s at %s: %s", assignments[0], self.address, exc)
            return False
        if self._failed:
            self._failed = False
            log.info("the service manager's socket %s takes messages again", self.address)
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_seconds(environ: Mapping[str, str], pid: int) -> float | None:
    """``WATCHDOG_USEC`` in seconds, when it is meant for ``pid`` (``WATCHDOG_PID``), else None.

    A child that inherited the variables (a subprocess started without
    cleaning its environment) must not take the parent's watchdog for its own:
    that is what ``WATCHDOG_PID`` is for, and it is honoured when set.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if owner:
        try:
            if int(owner) != pid:
                return None
        except ValueError:
            log.warning("ignoring WATCHDOG_PID=%r: not a process id", owner)
            return None
    try:
        value = int(usec)
    except ValueError:
        if usec:
            log.warning("ignoring WATCHDOG_USEC=%r: not a number of microseconds", usec)
        return None
    return value / 1e6 if value > 0 else None


def forget_environment(environ: dict[str, str] | os._Environ[str] | None = None) -> None:
    """Drop the notify variables, so that a player or a speech process started later never inherits them."""
    env = os.environ if environ is None else environ
    for name in ENVIRONMENT:
        env.pop(name, None)


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address
