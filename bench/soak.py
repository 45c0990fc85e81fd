"""The soak: a day's cook at high speed against a real ``potwatch run`` and a real Mosquitto.

    .venv/bin/python -m bench.soak [--hours 24] [--speed 100] [--phones 3] [--json FILE]
    .venv/bin/python -m bench.soak --short        # 3 sim hours at ×100: under two minutes; CI runs it

Four simulated probes on one sped-up clock (``sim://?speed=…``, so the tracker
runs on the pot's pace): two braises held at 185–205 °F for the whole run
(``--hours``, the cooks that last a day), one of them with spikes and faults;
a caramel that reaches 225 °F and cools; water with dropouts long enough to
lose the probe now and then. A paho subscriber on ``#`` is connected before
potwatch starts, and ``--phones`` SSE clients from right after it answers
(``Last-Event-ID: 0``, so the bus's replay gives them everything from event 1).

Pass criteria (the exit code is 1 when any fails; each is printed):

- **memory**: potwatch's VmRSS, sampled every real second, grows by at most
  ``--rss-bound`` MiB (default 4) from the median of the first quarter after
  warm-up (the first 10 % of the run) to the median of the last quarter, on
  top of what it keeps by design: each cook's chart log, every live reading
  of the cook up to 20,000 points (``service/runtime/cooklog.py``), measured
  by rebuilding the same logs here under tracemalloc (a day-long cook's log
  grows all day, bounded);
- **no dropped events**: every phone's event ids run 1, 2, 3… without a gap
  (across reconnects, which it makes with ``Last-Event-ID`` as a browser
  does), and every phone reached the last id before the stop; per probe, the
  readings on MQTT and in the history (SQLite, read after the clean stop)
  are the readings the phones got, in the same order, nothing missing up to
  the stop; the subscriber's message count equals what potwatch logs having
  published; potwatch's own counters (hub inbox drops, history drops, MQTT
  messages skipped) are zero;
- **latency unchanged**: reading → SSE and reading → MQTT, from the
  reading's own time stamp (``at``, to the millisecond) to its arrival here;
  p50 of the last tenth of the run at most 1.5× the first tenth's + 2 ms,
  p99 at most 3× + 10 ms (a p99 is what another process's burst on a shared
  machine moves first); and potwatch's CPU time per reading in the last tenth
  (after warm-up) at most 1.3× the first tenth's: CPU time, which the
  machine's other load does not inflate the way it does wall-clock latency,
  and which an O(n) structure growing through the day would.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import pct  # noqa: E402
from service.runtime.bus import RING_S  # noqa: E402
from service.runtime.cooklog import CookLog  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.service import ServiceProcess  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

BASE = "potwatch"
WARM_UP = 0.10  # of the run: imports, caches and SQLite's page cache filling
# ... and at least until the bus's resume ring is full: it keeps the last RING_S seconds of events
# (bounded, docs/api.md), so it grows by design for that long after the first event
MEMORY_WARM_UP_S = RING_S + 5.0
RSS_BOUND_MIB = 4.0
PUBLISHED = re.compile(r"mqtt: offline published, disconnected \((\d+) messages published, (\d+) skipped")
ID_LINE = re.compile(rb"^id: ?(\d+)\r?$", re.M)
SHORT = {"hours": 3.0, "speed": 100.0}  # 108 s: the memory is judged after the ring filled


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# ---- the clients ---------------------------------------------------------------------------------


class Phone(threading.Thread):
    """An SSE client on a plain socket, reconnecting with ``Last-Event-ID`` as a browser does.

    Every phone checks its ids; ``detailed`` also keeps each reading (per probe, in arrival order)
    and its latency from the reading's own time stamp.
    """

    def __init__(self, port: int, detailed: bool) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.detailed = detailed
        self.first_id: int | None = None
        self.last_id = 0
        self.events = 0
        self.gaps: list[tuple[int, int]] = []  # (last id seen, the next id that came)
        self.reconnects = 0
        self.readings: dict[str, list[float | None]] = {}  # every reading's celsius, per probe
        # what MQTT must carry, per probe: (at, celsius) of each live reading, and of the last one
        # again for each change of the probe's state (published on the reading that caused it)
        self.mqtt_expected: dict[str, list[tuple[str, float | None]]] = {}
        self.reading_ids: dict[str, list[int]] = {}
        self.latency: list[tuple[float, float]] = []  # (the reading's at, arrival − at in ms)
        self.reading_at: list[float] = []  # every reading's at, replayed ones too
        self.connected_at = float("inf")
        self.stopping = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._follow()
            except OSError as exc:
                if self.stopping.is_set():
                    return
                self.error = f"{type(exc).__name__}: {exc}"
            if self.stopping.is_set():
                return
            self.reconnects += 1
            time.sleep(0.2)

    def _follow(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self.connected_at = min(self.connected_at, time.time())
        # HTTP/1.0: the body is the bare stream, no chunk framing to undo
        sock.sendall(
            f"GET /api/events HTTP/1.0\r\nHost: soak\r\nAccept: text/event-stream\r\n"
            f"Last-Event-ID: {self.last_id}\r\n\r\n".encode()
        )
        buffer = b""
        head = True
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                now = time.time()
                buffer += chunk
                if head:
                    if b"\r\n\r\n" not in buffer:
                        continue
                    status, buffer = buffer.split(b"\r\n\r\n", 1)
                    if b" 200 " not in status.split(b"\r\n", 1)[0]:
                        raise OSError(f"the stream answered {status[:80]!r}")
                    head = False
                *blocks, buffer = buffer.split(b"\r\n\r\n")
                for block in blocks:
                    self._block(block, now)
        finally:
            sock.close()

    def _block(self, block: bytes, now: float) -> None:
        found = ID_LINE.search(block)
        if found is None:
            return  # a comment (keep-alive) or the heartbeat, which has no id
        event_id = int(found.group(1))
        if self.first_id is None:
            self.first_id = event_id
        elif event_id != self.last_id + 1:
            if event_id <= self.last_id:
                return  # a replayed duplicate would be a bug too, but the gap check is the one that matters
            self.gaps.append((self.last_id, event_id))
        self.last_id = event_id
        self.events += 1
        if not self.detailed:
            return
        if b"event: reading" in block:
            data = json.loads(block.split(b"data: ", 1)[1].split(b"\r\n", 1)[0])
            probe = data["probe"]
            self.readings.setdefault(probe, []).append(data["celsius"])
            self.reading_ids.setdefault(probe, []).append(event_id)
            if data.get("live", True):
                self.mqtt_expected.setdefault(probe, []).append((data["at"], data["celsius"]))
            at = epoch(data["at"])
            self.reading_at.append(at)
            if at >= self.connected_at:  # the replay of what came before the phone connected is no latency
                self.latency.append((at, (now - at) * 1000.0))
        elif b"event: probe" in block:
            data = json.loads(block.split(b"data: ", 1)[1].split(b"\r\n", 1)[0])
            expected = self.mqtt_expected.get(data["probe"])
            if expected:
                expected.append(expected[-1])

    def stop(self) -> None:
        self.stopping.set()
        sock = getattr(self, "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Subscriber:
    """A paho client on ``#``, connected before potwatch starts: it counts everything, keeps the readings."""

    def __init__(self, broker: Broker) -> None:
        self.count = 0
        self.by_kind: dict[str, int] = {}
        self.readings: dict[str, list[tuple[str, float | None]]] = {}  # (at, celsius) per probe
        self.latency: list[tuple[float, float]] = []
        self.offline = threading.Event()
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"soak-subscriber-{os.getpid()}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("#", qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.on_socket_open = lambda c, u, s: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        if not ready.wait(10):
            raise SystemExit("the subscriber could not subscribe")

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        now = time.time()
        topic = message.topic
        parts = topic.split("/")
        kind = "/".join(parts[1:2] + parts[3:]) if parts[0] == BASE else parts[0]
        with self.lock:
            self.count += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if topic == f"{BASE}/availability" and message.payload == b"offline":
            self.offline.set()
        if len(parts) == 4 and parts[0] == BASE and parts[1] == "probe" and parts[3] == "temperature":
            if not message.payload:
                return
            data = json.loads(message.payload)
            if data.get("at") is None:
                return  # the probe's state before its first reading
            keys = self.readings.setdefault(parts[2], [])
            key = (data["at"], data["celsius"])
            if not keys or keys[-1] != key:  # not the probe's state changing on the same reading
                at = epoch(key[0])
                self.latency.append((at, (now - at) * 1000.0))
            keys.append(key)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Sampler(threading.Thread):
    """potwatch's VmRSS and CPU time, every real second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float, float]] = []  # (wall, MiB, CPU s)
        self.stopping = threading.Event()

    def run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self.stopping.wait(1.0):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
                stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return
            rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            self.samples.append((time.time(), rss / 1024.0, (int(stat[11]) + int(stat[12])) / tick))


# ---- the kitchen ---------------------------------------------------------------------------------


def write_config(tmp: Path, broker: Broker, hours: float, speed: float) -> Path:
    profiles = tmp / "profiles"
    profiles.mkdir()
    (profiles / "day.toml").write_text(
        'name = "day"\ntitle = "A day-long braise at 185–205 °F"\n\n'
        f'[[steps]]\nkind = "hold"\nname = "braise"\nlow = "185F"\nhigh = "205F"\n'
        f'duration = "{hours * 60:g}min"\ngrace = "60s"\n'
    )
    sim = f"sim://?speed={speed:g}"
    probes = [
        ("braise", f"{sim}&kind=braise&braise={hours * 60:g}min&seed=1"),
        ("rough", f"{sim}&kind=braise&braise={hours * 60:g}min&seed=2&spikes_per_hour=6&faults_per_hour=2"),
        ("caramel", f"{sim}&kind=caramel&seed=3"),
        ("water", f"{sim}&kind=water&seed=4&dropouts_per_hour=2"),
    ]
    config = tmp / "potwatch.toml"
    config.write_text(
        'profile_dirs = ["profiles"]\n\n'
        f'[storage]\nstate_dir = "{tmp / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\n\n'
        + "".join(f'[[probes]]\nid = "{pid}"\nurl = "{url}"\n\n' for pid, url in probes)
        + '[cook]\nprofile = "day"\nprobe = "braise"\n'
    )
    return config


def cook_logs_bytes(db: Path) -> tuple[int, str]:
    """What the cook logs of this run hold by design, measured: each cook's chart in memory.

    ``service.runtime.cooklog`` keeps every live reading of a running cook, up to ``MAX_POINTS``
    (then every other one): a day-long cook's log grows for the whole day, bounded. The same
    logs, fed as many points as the history says each cook had, are measured here with
    tracemalloc; the memory verdict allows that much growth on top of its bound.
    """
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        run = con.execute("SELECT max(id) FROM runs").fetchone()[0]
        counts = con.execute(
            "SELECT c.id, count(r.seq) FROM cooks c JOIN readings r ON r.probe = c.probe AND r.run = ? "
            "AND r.live = 1 AND r.seq > c.first_seq AND (c.last_seq IS NULL OR r.seq < c.last_seq) "
            "WHERE c.run = ? GROUP BY c.id",
            (run, run),
        ).fetchall()
    finally:
        con.close()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        logs = [CookLog(cook, "p", "probe", 0.0) for cook, _ in counts]
        for i in range(max((n for _, n in counts), default=0)):  # side by side, as the cooks ran
            for log, (_, n) in zip(logs, counts, strict=True):
                if i < n:
                    log.add_point(float(i) + 0.5, 90.0 + i * 1e-6)
        # the peak: a log thinned to half gives its memory back to Python's allocator, not to the kernel
        held = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    detail = ", ".join(f"{cook} {n} readings" for cook, n in counts)
    return held, detail


def history_readings(db: Path) -> dict[str, list[float | None]]:
    """Every reading of the last run, per probe, in the order the hub applied them."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        run = con.execute("SELECT max(id) FROM runs").fetchone()[0]
        rows = con.execute("SELECT probe, celsius FROM readings WHERE run = ? ORDER BY seq", (run,)).fetchall()
    finally:
        con.close()
    out: dict[str, list[float | None]] = {}
    for probe, celsius in rows:
        out.setdefault(probe, []).append(None if celsius is None else round(celsius, 3))
    return out


# ---- the verdicts --------------------------------------------------------------------------------


@dataclass
class Verdict:
    name: str
    passed: bool
    detail: str


def memory_verdict(
    samples: list[tuple[float, float, float]], bound: float, by_design: tuple[int, str], speed: float
) -> tuple[Verdict, dict[str, float]]:
    rss = [mib for _, mib, _ in samples]
    t0, t_end = samples[0][0], samples[-1][0]
    warm = max(WARM_UP * (t_end - t0), MEMORY_WARM_UP_S)
    start = next((i for i, (t, _, _) in enumerate(samples) if t - t0 >= warm), len(samples))
    after = rss[start:]
    if len(after) < 8:
        detail = f"the run ({t_end - t0:.0f} s) is too short to judge memory after a {warm:.0f} s warm-up"
        return Verdict("memory", False, detail), {"rss_growth_mib": math.nan}
    quarter = max(1, len(after) // 4)
    first, last = statistics.median(after[:quarter]), statistics.median(after[-quarter:])
    times = [t for t, _, _ in samples][start:]
    hours = (times[-1] - times[0]) / 3600.0 if len(times) > 1 else 0.0
    # MiB per sim hour: per real second × the real seconds a sim hour takes
    slope = statistics.linear_regression(times, after).slope * 3600.0 / speed if len(after) > 2 else 0.0
    figures = {
        "rss_start_mib": rss[0],
        "rss_first_quarter_mib": first,
        "rss_last_quarter_mib": last,
        "rss_max_mib": max(rss),
        "rss_growth_mib": last - first,
        "rss_slope_mib_per_sim_hour": slope,
        "samples": float(len(rss)),
        "real_hours": hours,
        "cook_logs_mib": by_design[0] / 2**20,
        "rss_growth_beyond_cook_logs_mib": last - first - by_design[0] / 2**20,
    }
    allowed = bound + by_design[0] / 2**20
    ok = last - first <= allowed
    detail = (
        f"VmRSS {rss[0]:.1f} MiB at start, {first:.1f} → {last:.1f} MiB (first → last quarter after warm-up, "
        f"medians), max {max(rss):.1f}; growth {last - first:+.2f} MiB, allowed {allowed:.2f} "
        f"({bound:g} + the cook logs' {by_design[0] / 2**20:.2f}: {by_design[1]}); "
        f"fit {slope:+.3f} MiB per sim hour over {len(after)} samples"
    )
    return Verdict("memory", ok, detail), figures


def latency_verdict(
    name: str, points: list[tuple[float, float]], until: float, *, short: bool = False
) -> tuple[Verdict, dict[str, Any]]:
    """The last tenth's latency against the first's (``short``: the last half's against the first's)."""
    points = sorted(p for p in points if p[0] <= until)
    tenth = max(1, len(points) // 10)
    first = [ms for _, ms in points[:tenth]]
    last = [ms for _, ms in points[-tenth:]]
    figures = {
        "first_p50_ms": pct(first, 0.5),
        "first_p99_ms": pct(first, 0.99),
        "last_p50_ms": pct(last, 0.5),
        "last_p99_ms": pct(last, 0.99),
        "n_each": float(tenth),
        "p50_by_tenth_ms": [pct([ms for _, ms in points[i * tenth : (i + 1) * tenth]], 0.5) for i in range(10)],
    }
    if not short:
        ok = figures["last_p50_ms"] <= 1.5 * figures["first_p50_ms"] + 2.0 and (
            figures["last_p99_ms"] <= 3.0 * figures["first_p99_ms"] + 10.0
        )
        detail = (
            f"first tenth p50 {figures['first_p50_ms']:.1f} ms p99 {figures['first_p99_ms']:.1f} ms; "
            f"last tenth p50 {figures['last_p50_ms']:.1f} ms p99 {figures['last_p99_ms']:.1f} ms "
            f"({tenth} readings each)"
        )
        return Verdict(name, ok, detail), figures
    # The short run's tenths are ~5 real seconds each: one history flush, GC pass or another user's
    # burst on a shared machine moves a tenth's p50 by more than any trend could in 3 sim hours. So it
    # judges halves: the median of each half's five per-tenth p50s, and each half's p99 over its
    # ~25 s of readings, with the full run's ratios and more fixed headroom.
    by_tenth = figures["p50_by_tenth_ms"]
    half = len(points) // 2
    figures.update(
        {
            "first_half_p50_ms": statistics.median(by_tenth[:5]),
            "last_half_p50_ms": statistics.median(by_tenth[5:]),
            "first_half_p99_ms": pct([ms for _, ms in points[:half]], 0.99),
            "last_half_p99_ms": pct([ms for _, ms in points[half:]], 0.99),
        }
    )
    ok = figures["last_half_p50_ms"] <= 1.5 * figures["first_half_p50_ms"] + 5.0 and (
        figures["last_half_p99_ms"] <= 3.0 * figures["first_half_p99_ms"] + 25.0
    )
    detail = (
        f"median per-tenth p50 {figures['first_half_p50_ms']:.1f} → {figures['last_half_p50_ms']:.1f} ms, "
        f"p99 {figures['first_half_p99_ms']:.1f} → {figures['last_half_p99_ms']:.1f} ms (first half → last half)"
    )
    return Verdict(name, ok, detail), figures


def cpu_verdict(
    samples: list[tuple[float, float, float]], readings: list[float], *, short: bool = False
) -> tuple[Verdict, dict[str, float]]:
    """potwatch's CPU time per reading over the first and the last tenth of the run (after warm-up).

    ``short``: the median of tenths 2–5 against the median of tenths 6–10. A short run's tenth is
    ~5 s, its CPU time counted in 10 ms ticks, and the periodic work (the history's flush, a GC pass,
    a checkpoint) lands whole in one tenth or another: one window against one window measured that.
    """
    readings = sorted(readings)

    def per_reading(lo: int, hi: int) -> float:
        (t0, _, c0), (t1, _, c1) = samples[lo], samples[hi]
        n = sum(1 for at in readings if t0 <= at < t1)
        return (c1 - c0) * 1000.0 / max(n, 1)

    tenth = max(1, len(samples) // 10)
    first = per_reading(tenth, 2 * tenth)  # the first tenth after the warm-up
    last = per_reading(len(samples) - 1 - tenth, len(samples) - 1)
    figures = {"cpu_ms_per_reading_first": first, "cpu_ms_per_reading_last": last}
    if not short:
        ok = last <= 1.3 * first
        return Verdict("cpu per reading", ok, f"{first:.3f} → {last:.3f} ms of CPU per reading"), figures
    ends = [min(k * tenth, len(samples) - 1) for k in range(1, 10)] + [len(samples) - 1]
    windows = [per_reading(lo, hi) for lo, hi in itertools.pairwise(ends) if hi > lo]
    early, late = statistics.median(windows[:4]), statistics.median(windows[4:])
    figures.update({"cpu_ms_per_reading_early_median": early, "cpu_ms_per_reading_late_median": late})
    ok = late <= 1.5 * early
    detail = (
        f"{early:.3f} → {late:.3f} ms of CPU per reading (median of tenths 2–5 → 6–10; "
        f"per tenth {', '.join(f'{w:.2f}' for w in windows)})"
    )
    return Verdict("cpu per reading", ok, detail), figures


def prefix_verdict(
    name: str,
    seen: dict[str, list[Any]],
    truth: dict[str, list[Any]],
    must_cover: dict[str, int],
    *,
    longer: bool,
    late_start: int | None = None,
) -> Verdict:
    """``seen`` per probe agrees with ``truth`` (the phones') item by item, and covers the first ``must_cover``.

    ``longer``: ``seen`` must hold every item of ``truth`` (the history, written after the phones
    were cut off by the stop); otherwise either may end a little before the other.
    ``late_start`` (None: both begin together): ``seen`` may begin up to this many items (+ 3)
    into ``truth``, after up to 3 items of its own (MQTT: the readings and state changes before
    the first connection are not published, by design, and potwatch counts them as skipped;
    connecting republishes each probe's state as it is then). From where they first agree for
    five items on, they must agree item by item.
    """
    problems = []
    total = 0
    for probe, items in truth.items():
        got = seen.get(probe, [])
        offset = 0
        if late_start is not None:
            # where the two first agree for a run of five: at most a few of ours first (each probe's
            # state republished on connecting), at most late_start + 3 of theirs before (skipped)
            start = next(
                ((j, i) for j in range(4) for i in range(late_start + 4) if got[j : j + 5] == items[i : i + 5]),
                None,
            )
            if start is None:
                problems.append(f"{probe}: MQTT begins {got[:3]!r}, nowhere in the first readings")
                continue
            got, offset = got[start[0] :], start[1]
        rest = items[offset:]
        common = min(len(got), len(rest))
        total += common
        differ = next((i for i in range(common) if got[i] != rest[i]), None)
        if differ is not None:
            around = slice(max(0, differ - 2), differ + 3)
            problems.append(f"{probe}: item {offset + differ} differs: {got[around]!r} against {rest[around]!r}")
        elif longer and len(got) < len(rest):
            problems.append(f"{probe}: {len(rest) - len(got)} of the phones' readings missing at the end")
        elif offset + common < must_cover[probe]:
            problems.append(f"{probe}: only {offset + common} of the {must_cover[probe]} readings before the stop")
    extra = sorted(set(seen) - set(truth))
    if extra:
        problems.append(f"probes the phones never heard of: {extra}")
    detail = "; ".join(problems) or f"{total} items, each as the phones got it, in order"
    return Verdict(name, not problems, detail)


# ---- the run ------------------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, flush=True)


def soak(
    hours: float,
    speed: float,
    phones: int,
    rss_bound: float,
    log: Callable[[str], None] = say,
    *,
    short: bool = False,
) -> dict[str, Any]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        raise SystemExit("mosquitto not found: install the Debian package 'mosquitto'")
    tmp = Path(tempfile.mkdtemp(prefix="pw-soak-"))
    (tmp / "broker").mkdir()
    broker = Broker(binary, tmp / "broker")
    broker.start()
    subscriber = Subscriber(broker)
    config = write_config(tmp, broker, hours, speed)
    svc = ServiceProcess(["run", "--config", str(config)], tmp / "service.log", free_port())
    clients: list[Phone] = []
    sampler: Sampler | None = None
    try:
        svc.start()
        assert svc.proc is not None
        sampler = Sampler(svc.proc.pid)
        sampler.start()
        clients = [Phone(svc.port, detailed=(i == 0)) for i in range(phones)]
        for phone in clients:
            phone.start()
        for probe, profile in (("rough", "day"), ("caramel", "caramel")):
            answer = svc.post("/api/cooks", json={"profile": profile, "probe": probe})
            if answer.status_code >= 300:
                raise SystemExit(f"could not start the {profile} cook on {probe}: {answer.text}")
        real_s = hours * 3600.0 / speed
        started = time.time()
        log(f"soak: {hours:g} sim hours at ×{speed:g}: {real_s:.0f} s of real time, {phones} phones, 4 probes")
        next_note = 0.1
        while (elapsed := time.time() - started) < real_s:
            if svc.proc.poll() is not None:
                raise SystemExit(f"potwatch exited during the soak:\n{svc.log()}")
            if elapsed >= next_note * real_s:
                rss = sampler.samples[-1][1] if sampler.samples else float("nan")
                log(f"  {next_note:4.0%}  VmRSS {rss:.1f} MiB, {clients[0].last_id} events, MQTT {subscriber.count}")
                next_note += 0.1
            time.sleep(min(1.0, real_s - elapsed))
        health = svc.get("/healthz")
        metrics = httpx.get(svc.base + "/metrics", timeout=5).text
        mark = clients[0].last_id
        mark_time = time.time()
        wait_until(lambda: all(p.last_id >= mark for p in clients), 15, f"every phone to reach event {mark}")
        for phone in clients:
            phone.stopping.set()
        sampler.stopping.set()
        svc.stop()
        if not subscriber.offline.wait(10):
            raise SystemExit("potwatch's offline never reached the subscriber")
    finally:
        for phone in clients:
            phone.stop()
        if sampler is not None:
            sampler.stopping.set()
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop()
        subscriber.close()
        broker.kill()
    return judge(tmp, hours, speed, clients, subscriber, sampler, health, metrics, mark, mark_time, rss_bound, short)


def judge(
    tmp: Path,
    hours: float,
    speed: float,
    clients: list[Phone],
    subscriber: Subscriber,
    sampler: Sampler,
    health: dict[str, Any],
    metrics: str,
    mark: int,
    mark_time: float,
    rss_bound: float,
    short: bool,
) -> dict[str, Any]:
    verdicts: list[Verdict] = []
    figures: dict[str, Any] = {
        "hours": hours,
        "speed": speed,
        "phones": len(clients),
        "load": os.getloadavg(),
        "short": short,
    }

    # every phone: ids from 1, no gap, up to the last event before the stop
    problems = []
    for i, phone in enumerate(clients):
        if phone.first_id != 1:
            problems.append(f"phone {i} began at event {phone.first_id}, not 1")
        if phone.gaps:
            problems.append(f"phone {i}: {len(phone.gaps)} gaps, first {phone.gaps[0]}")
        if phone.last_id < mark:
            problems.append(f"phone {i} stopped at {phone.last_id} < {mark}")
        if phone.error:
            problems.append(f"phone {i}: {phone.error}")
    reconnects = sum(p.reconnects for p in clients)
    verdicts.append(
        Verdict(
            "SSE ids contiguous",
            not problems,
            "; ".join(problems) or f"{len(clients)} phones, events 1…{mark} each, {reconnects} reconnects",
        )
    )
    figures["sse_events"] = mark
    figures["sse_reconnects"] = reconnects

    truth = clients[0].readings
    before_stop = {p: sum(1 for i in ids if i <= mark) for p, ids in clients[0].reading_ids.items()}
    figures["readings"] = sum(len(v) for v in truth.values())
    expected = clients[0].mqtt_expected
    log_text = (tmp / "service.log").read_text(errors="replace")
    found = PUBLISHED.search(log_text)
    skipped = int(found.group(2)) if found else 0
    verdicts.append(
        prefix_verdict("MQTT readings", subscriber.readings, expected, before_stop, longer=False, late_start=skipped)
    )
    history = history_readings(tmp / "state" / "potwatch.db")
    verdicts.append(prefix_verdict("history rows", history, truth, before_stop, longer=True))

    connects = health.get("mqtt", {}).get("connects")
    if found is None:
        verdicts.append(Verdict("MQTT count", False, "potwatch never logged its published count"))
    else:
        published = int(found.group(1))
        # skipped: only before the first connection (one connect in all), never after
        ok = published == subscriber.count and connects == 1
        verdicts.append(
            Verdict(
                "MQTT count",
                ok,
                f"potwatch published {published}, the subscriber got {subscriber.count} "
                f"({skipped} skipped before the first connection; {connects} connection)",
            )
        )
        figures["mqtt_published"] = published
    figures["mqtt_by_kind"] = subscriber.by_kind

    dropped = re.search(r"^potwatch_readings_dropped_total (\S+)$", metrics, re.M)
    hub_dropped = float(dropped.group(1)) if dropped else float("nan")
    history_dropped = len(re.findall(r"readings dropped", log_text))
    recording = health.get("recording")
    ok = hub_dropped == 0 and history_dropped == 0 and recording == "ok"
    verdicts.append(
        Verdict(
            "potwatch's counters",
            ok,
            f"hub inbox drops {hub_dropped:g}, history drop warnings {history_dropped}, recording {recording!r}",
        )
    )

    memory, mem_figures = memory_verdict(
        sampler.samples, rss_bound, cook_logs_bytes(tmp / "state" / "potwatch.db"), speed
    )
    verdicts.append(memory)
    figures.update(mem_figures)
    for name, points in (("reading → SSE", clients[0].latency), ("reading → MQTT", subscriber.latency)):
        verdict, lat = latency_verdict(f"latency {name}", points, mark_time, short=short)
        verdicts.append(verdict)
        figures[name] = lat
    cpu, cpu_figures = cpu_verdict(sampler.samples, clients[0].reading_at, short=short)
    verdicts.append(cpu)
    figures.update(cpu_figures)
    figures["cpu_s_total"] = sampler.samples[-1][2] if sampler.samples else float("nan")
    figures["verdicts"] = [v.__dict__ for v in verdicts]
    figures["passed"] = all(v.passed for v in verdicts)
    figures["workdir"] = str(tmp)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hours", type=float, default=24.0, help="sim hours to run (default 24)")
    parser.add_argument("--speed", type=float, default=100.0, help="sim speed (default ×100)")
    parser.add_argument("--phones", type=int, default=3, help="SSE clients (default 3)")
    parser.add_argument("--rss-bound", type=float, default=RSS_BOUND_MIB, help="MiB of growth allowed (default 4)")
    parser.add_argument("--short", action="store_true", help="3 sim hours at ×100 (under two minutes): what CI runs")
    parser.add_argument("--json", type=Path, help="also write the figures and verdicts here")
    args = parser.parse_args(argv)
    hours, speed = (SHORT["hours"], SHORT["speed"]) if args.short else (args.hours, args.speed)
    load = os.getloadavg()
    result = soak(hours, speed, args.phones, args.rss_bound, short=args.short)
    print(f"load average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; at the end {result['load'][0]:.2f}")
    print(
        f"{result['readings']} readings, {result['sse_events']} events to each of {result['phones']} phones, "
        f"{result.get('mqtt_published', '?')} MQTT messages, {result['cpu_s_total']:.0f} s of potwatch CPU"
    )
    for verdict in result["verdicts"]:
        print(f"{'PASS' if verdict['passed'] else 'FAIL'}  {verdict['name']}: {verdict['detail']}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    if result["passed"]:
        shutil.rmtree(result["workdir"], ignore_errors=True)
    else:
        print(f"(potwatch's log and state are kept in {result['workdir']})")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
