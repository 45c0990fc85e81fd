"""Bytes written to the disk per reading by the history recorder: batches against a commit per row.

    .venv/bin/python -m bench.history_write [--readings 7200] [--dir DIR]
    .venv/bin/python -m bench.history_write --realtime 600 [--dir DIR]
    .venv/bin/python -m bench.history_write --resume 1 [--dir DIR]

An SD card wears by what is written to it. ``--dir`` must be on the disk you
care about (a tmpfs counts nothing); the default is a temporary folder in
/var/tmp. Measured per reading, from ``/proc/self/io``:

* ``write_bytes``: what this process sent towards the block device (page-cache
  pages it dirtied, 4 KiB each; the filesystem's journal comes on top);
* ``wchar``: what SQLite handed to ``write()`` (WAL frames, checkpoints).

The default mode writes the same readings (a 1 Hz probe, ``--readings`` of
them) through the recorder's own ``Store.write`` (its SQL, WAL,
``synchronous=FULL``, one transaction per batch) into a fresh file per
configuration: rows per commit from 1 (a commit per reading) up, for 1 KiB
pages (what the recorder uses) and 4 KiB pages (SQLite's default). It takes a
few seconds.

``--resume DAYS`` measures the other cost of the history: how long a resume
takes after a kill, on a time line of DAYS of a 1 Hz probe with one unfinished
cook (integrity check, snapshot, replay), with the newest kitchen snapshot
10 min before the cut, and with none (a replay from the start).

``--salvage DAYS`` times a start on the same file, sound and with one page of
its events damaged half-way: the integrity check, the salvage into a new file
and the resume, and says what was resumed.

``--realtime SECONDS`` runs the real thing instead: a hub, the recorder with
its writer thread and its 3 s batches, a cook, and a reading a second posted
like a probe's, for that long. This includes what the fast mode cannot see:
the WAL index (``-shm``) that SQLite keeps in a shared-memory file, which the
kernel writes back every half minute or so.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import service.history.schema as schema
from service import __version__
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Sample, StartCook
from service.history import HistoryRecorder, checkpoint, restorer
from service.history.codec import event_row, setups_json
from service.history.recorder import FLUSH_EVERY_S
from service.history.restore import restore_now
from service.history.store import Store, Unit
from service.profiles import load_profiles
from service.runtime.clock import Clock
from service.runtime.hub import Hub


def io_counters() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = int(value)
    return out


def braise_c(i: int) -> float:
    """~91 °C with a real probe's wander and noise: every reading a different float."""
    return 91.0 + 0.4 * math.sin(i / 60.0) + 0.05 * math.sin(i * 7.3)


def measure(folder: Path, readings: int, per_commit: int, page_size: int) -> dict[str, float]:
    schema.PAGE_SIZE = page_size  # only a new file takes it
    path = folder / f"bench-{page_size}-{per_commit}.db"
    store = Store(path)
    store.open(first=True)
    store.write(
        [[("run", (1, 1, "bench", time.time(), time.monotonic(), time.monotonic(), 1.0, "[]", "bench"))]]
    )  # fmt: skip
    before = io_counters()
    wall0 = time.time()
    batch: list[Unit] = []
    commits = 0
    for i in range(readings):
        batch.append([("event", event_row(Sample(1000.0 + i, "pot", "", braise_c(i)), 1, wall0 + i))])
        if len(batch) >= per_commit:
            store.write(batch)
            commits += 1
            batch = []
    if batch:
        store.write(batch)
        commits += 1
    after = io_counters()
    assert store.conn is not None
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.stat().st_size
    store.close()
    return {
        "commits": commits,
        "write_bytes": (after["write_bytes"] - before["write_bytes"]) / readings,
        "wchar": (after["wchar"] - before["wchar"]) / readings,
        "data": data / readings,
    }


def batches(folder: Path, readings: int) -> None:
    recorder_batch = max(1, round(FLUSH_EVERY_S * 1.0))
    print(f"{readings} readings of a 1 Hz probe into {folder} (WAL, synchronous=FULL)\n")
    print("| page size | rows per commit | commits | write_bytes / reading | wchar / reading |")
    print("|---|---|---|---|---|")
    for page_size in (1024, 4096):
        for per_commit in sorted({1, recorder_batch, 10, 30}):
            r = measure(folder, readings, per_commit, page_size)
            mark = " (the recorder)" if per_commit == recorder_batch and page_size == 1024 else ""
            print(
                f"| {page_size} | {per_commit}{mark} | {r['commits']:.0f} | {r['write_bytes']:,.0f} B "
                f"| {r['wchar']:,.0f} B |"
            )
    print(f"\nthe data itself, once checkpointed: {r['data']:.0f} B per reading")


async def realtime(folder: Path, seconds: float) -> None:
    recorder = HistoryRecorder(folder / "realtime.db")
    kitchen, clock = await restorer(recorder)([ProbeSetup("pot")], Clock())
    hub = Hub(kitchen, clock, load_profiles())
    recorder.attach(hub)
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(recorder.run())]
    hub.apply(StartCook(clock.monotonic(), hub.profiles["rillons"], "pot"))
    await asyncio.sleep(0.1)
    recorder.sync()  # on the hub's thread, between two of its steps
    before = io_counters()
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while loop.time() - start < seconds:
        hub.post(Sample(clock.monotonic(), "pot", "", braise_c(n)))
        n += 1
        await asyncio.sleep(max(0.0, start + n - loop.time()))
    recorder.sync()  # on the hub's thread, between two of its steps
    after = io_counters()
    await recorder.close()
    for task in tasks:
        task.cancel()
    written = after["write_bytes"] - before["write_bytes"]
    print(
        f"the recorder, {n} readings at 1 Hz over {seconds:.0f} s into {folder}: "
        f"write_bytes {written / n:,.0f} B per reading ({written / seconds * 86400 / 1e6:.0f} MB a day), "
        f"wchar {(after['wchar'] - before['wchar']) / n:,.0f} B per reading; recording: {recorder.status()}"
    )


def build(folder: Path, days: float) -> tuple[Path, list[ProbeSetup], int]:
    """A history file with one unfinished braise of ``days`` at 1 Hz, written through the store."""
    readings = int(days * 86400)
    path = folder / "resume.db"
    store = Store(path)
    store.open(first=True)
    setups = [ProbeSetup("pot")]
    kitchen = Kitchen(setups, id_prefix="1-")
    wall0 = time.time() - readings - 60.0
    start = StartCook(0.0, load_profiles()["rillons"], "pot")
    kitchen.handle(start)
    cook = ("1-c1", 1, 1, "rillons", "", "pot", None, 0.0, wall0, None, 0.0)
    units: list[Unit] = [
        [("run", (1, 1, "bench", wall0, 0.0, 0.0, 1.0, setups_json(setups), __version__))],
        [("event", event_row(start, 1, wall0)), ("cook", cook)],
    ]
    for i in range(readings):
        event = Sample(1.0 + i, "pot", "", braise_c(i))
        kitchen.handle(event)
        units.append([("event", event_row(event, 1, wall0 + 1.0 + i))])
        if i == readings - 600:  # the recorder's snapshot, 10 min before the cut
            units.append([("checkpoint", (1, __version__, checkpoint.dump(kitchen))), ("prune", ())])
        if len(units) >= 20000:
            store.write(units)
            units = []
    store.write(units)
    store.close()
    return path, setups, readings


def resume(folder: Path, days: float) -> None:
    path, setups, readings = build(folder, days)
    size = path.stat().st_size
    print(f"a time line of {readings} readings ({days:g} days at 1 Hz, {size / 1e6:.1f} MB), one cook unfinished:")
    for label in ("the newest snapshot (10 min old)", "no snapshot: replay from the start"):
        recorder = HistoryRecorder(path, boot=lambda: "another boot")
        started = time.perf_counter()
        restored, _ = restore_now(recorder, setups, Clock())
        took = time.perf_counter() - started
        assert restored.cooks["1-c1"].ended_at is None
        print(f"- resume from {label}: {took:.2f} s ({recorder.store.last_check})")
        assert recorder.store.conn is not None
        recorder.store.conn.execute("DELETE FROM checkpoints")
        recorder.store.conn.execute("DELETE FROM runs WHERE id > 1")
        recorder.store.conn.execute("UPDATE runs SET clean = 0")
        recorder.store.close()


def salvage(folder: Path, days: float) -> None:
    """How long a start takes on a file with a damaged page in the middle, and what it resumes."""
    path, setups, readings = build(folder, days)
    good = path.read_bytes()
    with sqlite3.connect(path) as conn:
        leaves = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'")]
    print(f"a time line of {readings} readings ({days:g} days at 1 Hz, {len(good) / 1e6:.1f} MB), one cook unfinished:")
    for label, damaged in (("sound", False), ("a damaged events page half-way", True)):
        path.write_bytes(good)
        if damaged:
            with path.open("r+b") as fh:
                fh.seek((leaves[len(leaves) // 2] - 1) * 1024)
                fh.write(os.urandom(200))
        recorder = HistoryRecorder(path, boot=lambda: "another boot")
        started = time.perf_counter()
        restored, _ = restore_now(recorder, setups, Clock())
        took = time.perf_counter() - started
        resumed = "resumed" if "1-c1" in restored.cooks else "NOT resumed"
        check = recorder.store.last_check
        print(f"- {label}: start-up {took:.2f} s ({check}), the cook {resumed}; recording: {recorder.status()}")
        recorder.store.close()
        for stale in folder.glob("resume.db?*"):
            stale.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=7200, help="readings per configuration (default: 2 h at 1 Hz)")
    parser.add_argument("--realtime", type=float, metavar="SECONDS", help="run the real recorder this long instead")
    parser.add_argument("--resume", type=float, metavar="DAYS", help="time a resume on a time line this long instead")
    parser.add_argument(
        "--salvage", type=float, metavar="DAYS", help="time a start on a damaged file this long instead"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir in /var/tmp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="potwatch-bench-", dir=args.dir or "/var/tmp") as tmp:
        if args.realtime:
            asyncio.run(realtime(Path(tmp), args.realtime))
        elif args.resume:
            resume(Path(tmp), args.resume)
        elif args.salvage:
            salvage(Path(tmp), args.salvage)
        else:
            batches(Path(tmp), args.readings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
