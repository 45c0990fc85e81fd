"""A real ``potwatch`` process for end-to-end tests, and a server-sent-events reader."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.net import free_port
from tests.support.tied_child import popen_tied
from tests.support.waiting import wait_until

POTWATCH = [sys.executable, "-m", "service.cli"]


@dataclass
class ServiceProcess:
    args: list[str]
    log_path: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"
    # RLIMIT_NOFILE for the process (as systemd's LimitNOFILE= or ``ulimit -n``); None: inherited
    nofile: int | None = None
    # what runs: the real command line, or a test's own wiring of the service (tests/support/alarm_service.py)
    command: list[str] = field(default_factory=lambda: list(POTWATCH))
    # where it listens; ``base`` stays on loopback (a test may listen on 0.0.0.0 to be reached from elsewhere too)
    host: str = "127.0.0.1"

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, *, wait: bool = True) -> ServiceProcess:
        """``wait=False``: return once the process is started, before it answers (a readiness test's own wait)."""
        log = self.log_path.open("ab")
        self.proc = popen_tied(  # no potwatch outlives a killed test run
            [*self.command, *self.args, "--host", self.host, "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.env},
            cwd=Path(__file__).resolve().parents[2],
            preexec_fn=None if self.nofile is None else self._limit_descriptors,
        )
        if wait:
            wait_until(self.healthy, timeout, lambda: f"potwatch to answer on port {self.port}\n{self.log()}")
        return self

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()

    def _limit_descriptors(self) -> None:
        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"potwatch exited with {self.proc.returncode}:\n{self.log()}")
        try:
            # a self-signed certificate: the test trusts it, a phone is asked once
            return httpx.get(self.base + "/healthz", timeout=1.0, verify=False).status_code == 200
        except httpx.HTTPError:
            return False

    def rss_bytes(self) -> int:
        """The process's resident memory now (``VmRSS``), in bytes."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc/PID/status")

    def metric(self, name: str) -> float:
        """One unlabelled sample of ``/metrics``."""
        text = httpx.get(self.base + "/metrics", timeout=5.0, verify=False).text
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        return float(line.split()[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def get(self, path: str) -> Any:
        return httpx.get(self.base + path, timeout=5.0, verify=False).json()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.base + path, timeout=5.0, verify=False, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> float:
        """Send ``sig``; return how long the process took to exit."""
        assert self.proc is not None
        start = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise AssertionError(f"potwatch did not exit within {timeout} s of {sig}:\n{self.log()}") from None
        return time.monotonic() - start


def cook_readings_f(service: ServiceProcess, cook_id: str) -> list[float | None]:
    """A cook's recorded readings in °F (None for a fault), from its trace CSV, as ``potwatch replay`` reads it."""
    text = httpx.get(f"{service.base}/api/cooks/{cook_id}/readings.csv", timeout=10.0, verify=False).text
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    return [round(float(r["temp_c"]) * 1.8 + 32, 6) if r["temp_c"] else None for r in rows]


@dataclass
class SseEvent:
    id: str | None
    event: str
    data: Any
    # when the reader thread parsed it (monotonic): how long a warning was up before its alarm, in real seconds
    arrived: float = field(default_factory=time.monotonic, compare=False)


class SseReader(threading.Thread):
    """Reads ``/api/events`` on a thread; events land in ``events``, comments are counted."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.headers = headers or {}
        self.events: queue.Queue[SseEvent] = queue.Queue()
        self.comments: list[tuple[float, str]] = []
        self.retry: str | None = None
        self.ended = threading.Event()
        self._stop = threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(5.0, read=None)) as r:
                fields: dict[str, str] = {}
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "data" in fields:
                            data = json.loads(fields["data"]) if fields["data"] else None
                            self.events.put(SseEvent(fields.get("id"), fields.get("event", "message"), data))
                        fields = {}
                    elif line.startswith(":"):
                        self.comments.append((time.monotonic(), line[1:].strip()))
                    else:
                        key, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if key == "retry":
                            self.retry = value
                        else:
                            fields[key] = fields[key] + "\n" + value if key in fields else value
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def stop(self) -> None:
        self._stop.set()

    def attached(self, timeout: float = 10.0) -> SseReader:
        """Wait for the stream's opening comment: from then on nothing published is missed."""
        wait_until(lambda: self.comments, timeout, "the event stream to open")
        return self

    def take(
        self,
        name: str,
        timeout: float,
        where: Callable[[SseEvent], bool] = lambda e: True,
        seen: list[SseEvent] | None = None,
    ) -> SseEvent:
        """The next event named ``name`` (matching ``where``), skipping others (kept in ``seen``, if given)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                alerts = [e.data["kind"] for e in seen or () if e.event == "alert"]
                raise AssertionError(f"no {name!r} event within {timeout} s" + (f"; alerts: {alerts}" if seen else ""))
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if seen is not None:
                seen.append(event)
            if event.event == name and where(event):
                return event

    def drain(self) -> list[SseEvent]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out


@contextlib.contextmanager
def sse(url: str, headers: dict[str, str] | None = None) -> Iterator[SseReader]:
    reader = SseReader(url, headers)
    reader.start()
    try:
        yield reader
    finally:
        reader.stop()


def serial_service(tmp_path: Path, device_path: str, *, stale_after: str, server: str = "") -> ServiceProcess:
    """``potwatch run`` cooking the caramel on a serial probe at ``device_path`` (a pty), not started yet.

    ``server``: the lines of a ``[server]`` table (a token), empty for none.
    """
    url = f"serial://{device_path}?baud=9600&format=number&unit=F"
    return probe_service(tmp_path, url, stale_after=stale_after, server=server)


def probe_service(tmp_path: Path, url: str, *, stale_after: str, server: str = "") -> ServiceProcess:
    """``potwatch run`` cooking the caramel on the one probe at ``url``, not started yet."""
    config = tmp_path / "potwatch.toml"
    config.write_text(
        (f"[server]\n{server}\n\n" if server else "") + f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "{url}"\n'
        f'stale_after = "{stale_after}"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


@contextlib.contextmanager
def serving(service: ServiceProcess, sig: int = signal.SIGTERM) -> Iterator[ServiceProcess]:
    """``service`` started for the block; whatever happens in it, no process is left behind."""
    service.start()
    try:
        yield service
    finally:
        if service.proc is not None and service.proc.poll() is None:
            service.stop(sig)
