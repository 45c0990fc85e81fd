"""Scenario 10: the wall clock stepped an hour forward, then ten minutes back, mid-cook.

A Pi has no battery clock: it boots at the last saved time and NTP steps it
when the network comes; a router's NTP can step it back. potwatch's durations
(stale timeouts, the hold timer, the ETA, a probe's age, the time a stage took)
must run on the monotonic clock; only the stamps shown and stored may follow
the wall. The clock of the real process is stepped from outside: the test's
``sitecustomize`` (tests/support/inject/) makes ``time.time()`` read the real
clock plus the offset in a control file, read on every call, while the
monotonic clock runs true — CLOCK_REALTIME stepped, CLOCK_MONOTONIC not, as
NTP does. (libfaketime was the first choice; Debian 12's 0.9.10 makes
``time.sleep`` fail with EINVAL when it fakes the real-time clock alone.)
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.broker import Broker
from tests.support.figures import FigureRecorder
from tests.support.mqtt_watch import recording
from tests.support.net import free_port
from tests.support.phone import Phone
from tests.support.power_cut import until
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, SseEvent, SseReader, sse
from tests.support.waiting import wait_until

pytest_plugins = ["tests.support.broker"]

INJECT = Path(__file__).resolve().parents[2] / "support" / "inject"
HOLD_S = 30.0
PROFILE = f"""\
name = "short-hold"
title = "A {HOLD_S:g} s hold, then the caramel"

[[steps]]
kind = "hold"
name = "braise"
low = "185F"
high = "205F"
duration = "{HOLD_S:g}s"
grace = "2s"

[[steps]]
kind = "reach"
name = "caramel"
target = "225F"
"""
WATCH_S = 6.0  # after each step: longer than the probe's stale timeout (3 s)
CHART_S = 2.0  # the chart's reach may differ this much from the newest reading's time into the cook
BEHIND_S = 2.0  # and the hold timer may lag real time this much (a loaded machine's slow look)


@pytest.fixture
def pot() -> Iterator[tuple[PtyDevice, Thermometer]]:
    with PtyDevice() as device, Thermometer(device, 195.0) as thermometer:
        yield device, thermometer


def service_for(tmp_path: Path, device: PtyDevice, broker: Broker, offset_file: Path) -> ServiceProcess:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "short-hold.toml").write_text(PROFILE)
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'profile_dirs = ["{profiles}"]\n\n[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\ndiscovery_prefix = ""\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "3s"\n\n[cook]\nprofile = "short-hold"\nprobe = "pot"\n'
    )
    env = {
        "PYTHONPATH": os.pathsep.join([str(INJECT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "POTWATCH_INJECT": "wall",
        "POTWATCH_WALL_OFFSET_FILE": str(offset_file),
    }
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port(), env=env)


def durations(view: dict[str, Any] | None) -> dict[str, float]:
    """Every duration (``*_s``) of a cook view, a probe view or an MQTT payload that has a value."""
    return {k: float(v) for k, v in (view or {}).items() if k.endswith("_s") and isinstance(v, int | float)}


class Watch:
    """What the test saw while the clock moved: each look at /api/status, and how far the phone's chart reaches."""

    def __init__(self, svc: ServiceProcess, phone: Phone) -> None:
        self.svc, self.phone = svc, phone
        self.looks: list[tuple[float, dict[str, Any]]] = []
        self.chart: list[tuple[float, float]] = []  # (test's monotonic, the chart's last x: s into the cook)

    def chart_to(self) -> float | None:
        """How far the phone's chart reaches now: seconds into the cook (its last point's x)."""
        to = self.phone.page.evaluate("() => document.getElementById('chart').dataset.to")
        return float(to) if to else None

    def look(self) -> dict[str, Any]:
        status: dict[str, Any] = self.svc.get("/api/status")
        self.looks.append((time.monotonic(), status))
        to = self.chart_to()
        if to is not None:
            self.chart.append((time.monotonic(), to))
        return status

    def chart_keeps_up(self, stream: SseReader, started_line_s: float, seen: list[SseEvent]) -> float:
        """Wait until the chart reaches the newest reading's time into the cook (within ``CHART_S``); how far off.

        That time is the reading's ``line_s`` less the cook's ``started_line_s``, on the tracker's time
        line: a chart frozen when the clock stepped back, or drawn on the wall clock, never gets there.
        """
        newest: list[float] = []

        def off() -> float | None:
            for event in stream.drain():
                seen.append(event)
                if event.event == "reading":
                    newest.append(float(event.data["line_s"]) - started_line_s)
            to = self.chart_to()
            if not newest or to is None:
                return None
            gap = abs(to - newest[-1])
            return gap + 1e-9 if gap <= CHART_S else None  # truthy even when exactly on time

        found: float = wait_until(
            off, 10, lambda: f"the chart at {self.chart_to()} s, the newest reading {newest[-1:]} s into the cook"
        )
        return found

    def through(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            status = self.look()
            probe = status["probes"][0]
            assert probe["state"] == "ok", f"a false stale: {probe}"
            assert 0.0 <= probe["age_s"] < 2.0, probe
            assert status["cook"]["stage"] == "holding", f"the hold ended early: {status['cook']}"
            assert all(v >= 0 for v in durations(status["cook"]).values()), status["cook"]
            time.sleep(0.25)


def test_wall_clock_stepped_forward_and_back_mid_hold(
    tmp_path: Path, mosquitto: Broker, pot: tuple[PtyDevice, Thermometer], phone: Phone, figure: FigureRecorder
) -> None:
    """Pass: through a +1 h step and a −10 min step of the wall clock during a 30 s hold, the probe stays ``ok``
    with an age under 2 s, no ``probe_lost`` is raised, the hold timer follows real time (never ahead of it,
    never back), the hold is done no sooner than 30 s of real holding, and no duration is negative: in
    /api/status, in the MQTT cook state, in the cook's stages and series, in the history file's time line, and
    on the phone's chart (its last point stays at the real time into the cook, never goes back, and after the
    hold still reaches the newest reading's time into the cook within 2 s: it kept moving)."""
    device, _ = pot
    offset = tmp_path / "wall-offset"
    offset.write_text("0\n")
    with recording(mosquitto.host, mosquitto.port, "potwatch/cook/state") as mqtt:
        svc = service_for(tmp_path, device, mosquitto, offset).start()
        try:
            started = time.monotonic()  # the cook starts with the service
            phone.page.goto(svc.base + "/")
            expect(phone.page.locator("#live")).to_have_attribute("data-state", "live", timeout=15_000)
            watch = Watch(svc, phone)
            with sse(svc.base + "/api/events") as stream:
                stream.attached()
                until(svc, "the hold", lambda s: s["cook"] and s["cook"]["stage"] == "holding")
                holding_seen = time.monotonic()
                held_before = watch.look()["cook"]["hold_elapsed_s"]
                watch.through(2.0)

                offset.write_text("3600\n")  # NTP after boot: an hour forward
                watch.through(WATCH_S)
                offset.write_text("3000\n")  # then ten minutes back
                watch.through(WATCH_S)

                done = until(svc, "the hold done", lambda s: s["cook"]["step"] == "caramel" and s, timeout=HOLD_S + 10)
                done_after = time.monotonic() - holding_seen
                events = stream.drain()
                # well after the step back, the chart still reaches the cook's newest reading
                chart_off = watch.chart_keeps_up(stream, float(done["cook"]["started_line_s"]), events)
            cook_id = done["cook"]["id"]
            detail = svc.get(f"/api/cooks/{cook_id}")
            series = svc.get(f"/api/cooks/{cook_id}/series")
            csv_text = httpx.get(svc.base + f"/api/cooks/{cook_id}/readings.csv", timeout=5).text
            states = [h.json() for h in mqtt.all("potwatch/cook/state")]
        finally:
            svc.stop()

    # the phone's chart: seconds into the cook, on real time, whatever the wall clock did
    assert watch.chart, "the chart never drew"
    chart_ahead = max(x - (t - started) for t, x in watch.chart)
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(watch.chart)), "the chart went back"
    assert chart_ahead < 2.0, f"the chart ran {chart_ahead:.0f} s ahead of the cook"
    figure("chart_ahead_of_real_time", chart_ahead, "s", "< 2 s")
    figure("chart_off_the_newest_reading_at_the_end", chart_off, "s", f"≤ {CHART_S:g} s")

    # the hold timer against the test's own monotonic clock: never ahead, never backwards
    elapsed = [(t, s["cook"]["hold_elapsed_s"]) for t, s in watch.looks if s["cook"]["stage"] == "holding"]
    ahead = max(held - held_before - (t - holding_seen) for t, held in elapsed)
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(elapsed)), "the hold timer went back"
    behind = max((t - holding_seen) - (held - held_before) for t, held in elapsed)
    assert ahead < 1.5, f"the hold timer ran {ahead:.1f} s ahead of real time"
    # and it kept running through both steps: frozen (or set back) by the wall clock, it falls behind
    assert behind < BEHIND_S, f"the hold timer fell {behind:.1f} s behind real time"
    assert done_after >= HOLD_S - held_before - 1.0

    kinds = [e.data["kind"] for e in events if e.event == "alert"]
    assert "probe_lost" not in kinds and kinds.count("hold_done") <= 1, kinds
    assert not [a for a in done["alerts"] if a["kind"] == "probe_lost"]

    assert any(durations(s) for s in states), states[-3:]  # the MQTT state was heard, with its durations
    assert all(v >= 0 for s in states for v in durations(s).values()), [durations(s) for s in states]
    ts = [float(st["t"]) for st in detail["stages"]]
    assert ts == sorted(ts) and ts[0] >= 0, detail["stages"]
    assert all(float(a["t"]) >= 0 for a in detail["alerts"]), detail["alerts"]
    points = series["points"] if isinstance(series, dict) else series
    xs = [float(p[0]) for p in points]
    assert xs and xs == sorted(xs) and xs[0] >= 0, xs[:5]
    rows = [r for r in csv.reader(io.StringIO(csv_text)) if r and not r[0].startswith("#")]
    header, body = rows[0], rows[1:]
    t_col = [float(r[header.index("t")]) for r in body]
    assert t_col == sorted(t_col) and t_col[0] >= 0

    db = tmp_path / "state" / "potwatch.db"
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        line = [r[0] for r in conn.execute("SELECT at FROM events ORDER BY seq")]
        walls = [r[0] for r in conn.execute("SELECT wall FROM readings ORDER BY seq")]
    assert line == sorted(line), "the history's time line went back"
    assert max(walls) - min(walls) > 3000  # the stamps did follow the stepped wall clock
    # and the step back reached the process too: some reading is stamped earlier than the one before it
    assert any(b < a for a, b in itertools.pairwise(walls)), "the wall clock never stepped back in potwatch"
    figure("hold_timer_ahead_of_real_time", ahead, "s", "< 1.5 s")
    figure("false_alerts_while_clock_stepped", kinds.count("probe_lost"), "alerts", "0")
    figure("hold_done_after", done_after, "s", f"≥ {HOLD_S - held_before - 1.0:.0f} s (real holding)")
    figure("hold_timer_behind_real_time", behind, "s", f"< {BEHIND_S:g} s")
