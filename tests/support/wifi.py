"""A phone on its own Wi-Fi link that the test can take away: a network namespace behind a veth pair.

A phone that walks out of the Wi-Fi range sends nothing more: no FIN, no RST,
and no ACK for what the server keeps sending it. On loopback nothing can be
made to behave so (a closed socket says goodbye, a killed process's kernel
resets, a client that stops reading still ACKs with a zero window). So the
phone's sockets live in a network namespace of their own, joined to this one
by a veth pair, and ``drop()`` sets the phone's end of the pair down: from
then on every packet either way is lost, exactly as when the radio is gone.

Only the pair and the namespace are touched (named for this process, with a
/30 of their own), never the machine's loopback or other interfaces. Needs
root (CAP_NET_ADMIN) and iproute2's ``ip``; without them the test skips, and
fails under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import socket
import subprocess
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import pytest

from tests.support.parts import require_binary, under_ci

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def _ip(binary: str, *args: str) -> None:
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class WifiLink:
    """The namespace ``phones`` connect from, and the link between it and the service's host."""

    def __init__(self) -> None:
        self.ip = require_binary("ip", "iproute2")
        if os.geteuid() != 0:
            why = "a vanishing phone needs a network namespace: run as root"
            if under_ci():
                pytest.fail(why)
            pytest.skip(why)
        tag = f"{os.getpid() % 100000}"
        self.netns = f"potwatch-phone-{tag}"
        self.host_end, self.phone_end = f"pwh{tag}", f"pwp{tag}"
        # a /30 of this process's own in 198.18.0.0/15 (RFC 2544: set aside for benchmarking, so no
        # real LAN uses it), so that two test runs side by side never meet
        block = (os.getpid() % (1 << 15)) * 4
        prefix = f"198.{18 + (block >> 16)}.{(block >> 8) & 255}"
        self.host_address = f"{prefix}.{(block & 255) + 1}"
        self.phone_address = f"{prefix}.{(block & 255) + 2}"
        self._up = False

    def sweep(self) -> None:
        """Remove what a killed test run left behind: namespaces and links whose process is gone.

        ``__exit__`` never ran for them; their names carry the pid that made them, so a run still going
        (its process alive) keeps its own.
        """
        listed = subprocess.run([self.ip, "netns", "list"], capture_output=True, text=True, timeout=10).stdout
        for tag in re.findall(r"^potwatch-phone-(\d+)", listed, re.M):
            if tag == self.netns.rsplit("-", 1)[1] or not os.path.exists(f"/proc/{tag}"):
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    _ip(self.ip, "link", "del", f"pwh{tag}")
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    _ip(self.ip, "netns", "del", f"potwatch-phone-{tag}")
        links = subprocess.run([self.ip, "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout
        for tag in re.findall(r"^\d+: pwh(\d+)[@:]", links, re.M):
            if tag == self.netns.rsplit("-", 1)[1] or not os.path.exists(f"/proc/{tag}"):
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    _ip(self.ip, "link", "del", f"pwh{tag}")

    def __enter__(self) -> WifiLink:
        ip = self.ip
        self.sweep()
        _ip(ip, "netns", "add", self.netns)
        try:
            _ip(ip, "link", "add", self.host_end, "type", "veth", "peer", "name", self.phone_end)
            _ip(ip, "link", "set", self.phone_end, "netns", self.netns)
            _ip(ip, "addr", "add", f"{self.host_address}/30", "dev", self.host_end)
            _ip(ip, "link", "set", self.host_end, "up")
            _ip(ip, "-n", self.netns, "addr", "add", f"{self.phone_address}/30", "dev", self.phone_end)
            _ip(ip, "-n", self.netns, "link", "set", "lo", "up")
            self.restore()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _ip(self.ip, "link", "del", self.host_end)  # takes its peer with it
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _ip(self.ip, "netns", "del", self.netns)

    def drop(self) -> None:
        """The phones leave the Wi-Fi: nothing crosses the link any more, and nobody says so."""
        _ip(self.ip, "-n", self.netns, "link", "set", self.phone_end, "down")
        self._up = False

    def restore(self) -> None:
        _ip(self.ip, "-n", self.netns, "link", "set", self.phone_end, "up")
        self._up = True

    def inside(self, make: Callable[[], T]) -> T:
        """``make()`` run on a thread that joined the phones' namespace: the sockets it opens are theirs."""
        result: list[T] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns into the phones' namespace")
                finally:
                    os.close(fd)
                result.append(make())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=run, name="phone-netns")  # setns() moves this thread alone
        thread.start()
        thread.join(30)
        if failure:
            raise failure[0]
        if not result:
            raise RuntimeError("the phone's thread did not finish")
        return result[0]


def open_stream(host: str, port: int, timeout: float = 10.0) -> socket.socket:
    """A phone's ``EventSource``: ``GET /api/events``, read until the stream's opening comment, then never again."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    seen = b""
    while b": potwatch" not in seen:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError(f"the stream closed before it opened: {seen[:200]!r}")
        seen += chunk
    return s
