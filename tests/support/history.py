"""A hub with the history recorder on a real SQLite file, and a cook fed by hand: for history and API tests.

What ``Service.run`` does around the recorder, without a server: restore from
the file, build the hub on what came back, attach, start the writer; and a
syrup's climb fed one reading (and one tick) a second on a hand clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Output, Sample, StartCook, StopCook, Tick
from service.core.units import f_to_c
from service.history import HistoryRecorder
from service.history.restore import restore_now
from service.history.store import Store
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.clock import HandClock

PROFILES = load_profiles()


def recorder_for(path: Path, boot: str = "boot-A", **kwargs: Any) -> HistoryRecorder:
    """The recorder on ``path``; what it keeps while paused goes beside the file (not into the machine's RAM)."""
    kwargs.setdefault("spill_dir", path.parent)
    return HistoryRecorder(path, flush_every_s=kwargs.pop("flush_every_s", 0.05), boot=lambda: boot, **kwargs)


def start(path: Path, clock: HandClock, *, boot: str = "boot-A", **kwargs: Any) -> tuple[Hub, HistoryRecorder]:
    """What Service.run does: restore, build the hub on what came back, attach, start the writer."""
    recorder = recorder_for(path, boot, **kwargs)
    kitchen, _ = restore_now(recorder, [ProbeSetup("pot")], clock)
    hub = Hub(kitchen, clock, PROFILES)
    recorder.attach(hub)
    recorder.start()
    return hub, recorder


def past_cook(path: Path, clock: HandClock, readings: int) -> None:
    """A caramel cook climbing to its target, stopped, and the service stopped: a past cook in the file."""
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, climb(200.0, 229.5, readings))
    hub.apply(StopCook(clock.t, "1-c1"))
    stop(recorder)


def stop(recorder: HistoryRecorder, *, clean: bool = True) -> None:
    """Stop the writer; ``clean=False`` leaves the run marked unclean, as a kill would."""
    assert recorder.sync(), "the recorder did not write in time"
    recorder._stopping = True
    recorder._wake.set()
    assert recorder._thread is not None
    recorder._thread.join(5)
    if not clean:
        with contextlib.closing(sqlite3.connect(recorder.path)) as conn:
            conn.execute("UPDATE runs SET clean = 0")
            conn.commit()


def climb(start_f: float, end_f: float, n: int) -> list[float | None]:
    """A syrup's last minutes, faster and faster as the water goes (a straight ramp is a heat-up)."""
    return [start_f + (end_f - start_f) * (i / (n - 1)) ** 2 for i in range(n)]


def feed(hub: Hub, clock: HandClock, temps_f: list[float | None], every: float = 1.0) -> list[Output]:
    """Readings once a ``every`` s, a tick before each as the hub's timer would; returns the outputs."""
    out: list[Output] = []
    for value in temps_f:
        clock.t += every
        out += hub.apply(Tick(clock.t))
        celsius = None if value is None else f_to_c(value)
        out += hub.apply(Sample(clock.t, "pot", "", celsius, None if value is not None else "Error"))
    return out


def snapshot(kitchen: Kitchen, at: float | None = None) -> dict[str, Any]:
    """Everything a cook's future depends on, as plain data, to compare two kitchens exactly.

    ``Kitchen.now`` (the latest time seen) is compared too unless ``at`` is given:
    a snapshot is taken after ticks that changed nothing and were not recorded,
    and ``now`` is the one thing such a tick moves (nothing reads it).
    """
    view_at = kitchen.now if at is None else at
    body: dict[str, Any] = {
        "cooks": {
            c.id: (
                c.profile,
                c.index,
                c.machine.stage,
                c.started_at,
                c.ended_at,
                c.outcome,
                c.channel,
                kitchen.cook_snapshot(c, view_at),
            )
            for c in kitchen.cooks.values()
        },
        "alerts": {a.id: dataclasses.asdict(a) for a in kitchen.alerts.values()},
        "probes": {
            h.id: (h.state, h.celsius, h.last_live_at, h.interval, h.fault_count, h.trouble_alert, h.boil_c)
            for h in kitchen.probes.values()
        },
        "tracks": {
            k: (t.level, t.prev_level, t.rate, t.sigma, t.accepted, t.rejected) for k, t in kitchen.tracks.items()
        },
    }
    if at is None:
        body["now"] = kitchen.now
    return body


def fail_writes(monkeypatch: pytest.MonkeyPatch, message: str) -> list[bool]:
    """Make Store.write raise ``message`` (as a full or refusing disk would) until the returned flag is cleared."""
    failing = [True]
    real = Store.write

    def write(self: Store, units: Any) -> int:
        if failing[0]:
            raise sqlite3.OperationalError(message)
        return real(self, units)

    monkeypatch.setattr(Store, "write", write)
    return failing
