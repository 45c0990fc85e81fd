"""A service manager's notify socket, bound by the test: what ``potwatch run`` tells systemd, as it arrives.

A real ``AF_UNIX`` datagram socket, as systemd binds one for a ``Type=notify``
unit; a thread receives each datagram and stamps it with the monotonic clock,
so that a test can see READY=1, count the WATCHDOG=1 pings and time the gaps.
``abstract=True`` binds a name in Linux's abstract namespace (``@name`` in
``NOTIFY_SOCKET``), as systemd itself does in some versions.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass

from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Notice:
    at: float  # time.monotonic() when it arrived
    fields: dict[str, str]  # one datagram's KEY=value lines


class NotifySocket:
    def __init__(self, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._folder: str | None = None
        if abstract:
            name = f"potwatch-test-{os.getpid()}-{id(self)}"
            self.sock.bind(b"\0" + name.encode())
            self.address = "@" + name
        else:
            # sun_path holds 108 bytes: a short folder of its own, not a test's long tmp_path
            self._folder = tempfile.mkdtemp(prefix="pw-notify-")
            self.address = os.path.join(self._folder, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(0.2)
        self.notices: list[Notice] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.partition("=")[::2] for line in data.decode().split("\n") if line)
            with self._lock:
                self.notices.append(Notice(time.monotonic(), fields))

    def env(self, watchdog_s: float | None = None) -> dict[str, str]:
        """The variables systemd sets for the service (WATCHDOG_PID is left out: the PID is not known yet)."""
        env = {"NOTIFY_SOCKET": self.address}
        if watchdog_s is not None:
            env["WATCHDOG_USEC"] = str(round(watchdog_s * 1e6))
        return env

    def received(self, key: str, since: float = 0.0) -> list[Notice]:
        with self._lock:
            return [n for n in self.notices if key in n.fields and n.at >= since]

    def first(self, key: str, timeout: float, since: float = 0.0) -> Notice:
        notice: Notice = wait_until(
            lambda: next(iter(self.received(key, since)), None), timeout, f"{key} on the notify socket"
        )
        return notice

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
