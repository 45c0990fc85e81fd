"""The heaters' overrides recorded by the real recorder into a real SQLite file, and read back at the next start."""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from service.config import HeaterConfig
from service.core.heat.events import OverrideMode
from service.history import schema
from service.history.overrides import last_overrides, recorded_overrides
from service.history.schema import MIGRATIONS, SCHEMA_VERSION, _statements, connect, connect_read
from service.runtime.heaters import Heaters
from service.runtime.hub import Hub
from service.runtime.views import HeaterCommand, HeaterOverride, HeaterRecord, Recalled
from tests.support.clock import HandClock
from tests.support.history import start, stop

OFF, ON, AUTO = OverrideMode.FORCE_OFF, OverrideMode.FORCE_ON, OverrideMode.AUTO


def said(hub: Hub, *items: HeaterRecord) -> None:
    """What a heater hands the hub's heater hooks (service/runtime/heaters.py ``_recorded``)."""
    for item in items:
        for hook in hub.on_heater:
            hook(item)


def override(clock: HandClock, heater: str, mode: OverrideMode) -> HeaterOverride:
    clock.t += 1.0
    return HeaterOverride(clock.t, heater, "pot", str(mode))


def one_run(path: Path, clock: HandClock, *overrides: tuple[str, OverrideMode], clean: bool = True) -> None:
    """A start of the service on ``path`` in which the cook set ``overrides``, in order, and its stop (or a kill)."""
    hub, recorder = start(path, clock)
    said(hub, *(override(clock, heater, mode) for heater, mode in overrides))
    stop(recorder, clean=clean)


def test_the_newest_override_of_each_heater_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    said(
        hub,
        override(clock, "hob", OFF),
        HeaterCommand(clock.t, "hob", "pot", False, None, True, "override: off"),
        override(clock, "hob", AUTO),
        override(clock, "plate", ON),
        override(clock, "hob", OFF),
    )
    stop(recorder, clean=False)  # as a kill would leave it: the rows were written at once, not at the stop
    assert recorded_overrides(path, ["hob", "plate", "oven"]).modes == {"hob": OFF, "plate": ON}
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT heater, what, on_, detail FROM heater_log ORDER BY rowid").fetchall()
    assert rows[:2] == [("hob", "override", None, "force_off"), ("hob", "command", 0, "override: off")], rows


def test_a_later_run_wins_even_on_a_new_time_line_that_starts_earlier(tmp_path: Path) -> None:
    """Rows count in the order written, not by ``at``: a new time line (no cook to resume) starts its clock again."""
    path = tmp_path / "potwatch.db"
    one_run(path, HandClock(5000.0), ("hob", OFF))
    assert recorded_overrides(path, ["hob"]).modes == {"hob": OFF}
    one_run(path, HandClock(10.0), ("hob", AUTO))
    assert recorded_overrides(path, ["hob"]).modes == {"hob": AUTO}
    one_run(path, HandClock(10.0))  # a run in which the cook said nothing: the last word stands
    assert recorded_overrides(path, ["hob"]).modes == {"hob": AUTO}


def test_the_override_is_the_heater_ids_a_renamed_heater_has_none(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    one_run(path, HandClock(), ("hob", OFF))
    assert recorded_overrides(path, ["hob-left"]).modes == {}


def test_a_history_without_overrides_gives_none(tmp_path: Path) -> None:
    """A file written before overrides were recorded: commands and reports only."""
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    said(hub, HeaterCommand(clock.t, "hob", "pot", True, 60.0, True, "heating to target (225 °F)"))
    stop(recorder)
    assert recorded_overrides(path, ["hob"]) == Recalled({})  # nothing recorded, nothing in doubt


def test_no_file_gives_none_and_creates_none(tmp_path: Path) -> None:
    """A first start: no override, and nothing to doubt."""
    path = tmp_path / "potwatch.db"
    assert recorded_overrides(path, ["hob"]) == Recalled({})
    assert not path.exists()


def test_a_file_that_cannot_be_read_gives_none_in_doubt_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Read where it lies (a card the recorder could not set it aside on): it may have held a forced off."""
    path = tmp_path / "potwatch.db"
    path.write_bytes(b"not a database, and long enough to look like a header" * 100)
    with caplog.at_level(logging.WARNING):
        recalled = recorded_overrides(path, ["hob"])
    assert recalled.modes == {}
    assert recalled.doubt is not None and recalled.doubt.startswith("the file cannot be read (")
    assert "they start forced off" in caplog.text
    assert path.read_bytes().startswith(b"not a database")  # read only: left as it was


def test_a_history_from_before_the_heaters_gives_none(tmp_path: Path) -> None:
    """Schema 3: no heater_log table at all (the restore would migrate it; a read-only card would not)."""
    path = tmp_path / "potwatch.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for migration in MIGRATIONS[:3]:
            for statement in _statements(migration):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
    assert recorded_overrides(path, ["hob"]).modes == {}


def test_a_mode_this_potwatch_does_not_know_is_passed_over_and_the_last_known_stands(tmp_path: Path) -> None:
    """A newer version's mode, or a damaged row, after a forced off: the forced off stands, not "auto"."""
    path = tmp_path / "potwatch.db"
    one_run(path, HandClock(), ("hob", OFF), ("hob", AUTO))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        newest = conn.execute("SELECT max(rowid) FROM heater_log WHERE what = 'override'").fetchone()[0]
        conn.execute("UPDATE heater_log SET detail = 'force_sideways' WHERE rowid = ?", (newest,))
        conn.commit()
        assert last_overrides(conn, ["hob"]) == {"hob": OFF}
        conn.execute("UPDATE heater_log SET detail = NULL WHERE what = 'override'")
        conn.commit()
        assert last_overrides(conn, ["hob"]) == {}


# ---- the question SQLite is asked: each heater's newest override row, through the index


def plans(conn: sqlite3.Connection, heater_ids: list[str]) -> tuple[dict[str, OverrideMode], list[str]]:
    """What ``last_overrides`` answers, and SQLite's plan of each query of ``heater_log`` it ran for it."""
    asked: list[str] = []
    conn.set_trace_callback(asked.append)
    try:
        found = last_overrides(conn, heater_ids)
    finally:
        conn.set_trace_callback(None)
    reads = [q for q in asked if "heater_log" in q and "sqlite_master" not in q]
    return found, [" / ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {q}")) for q in reads]


def indexes(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'heater_log'")
        return sorted(str(r[0]) for r in found)


def test_the_start_asks_sqlite_for_each_heaters_newest_override_through_its_index(tmp_path: Path) -> None:
    """Pass: on a file the real recorder wrote (commands among the overrides), every query of heater_log
    that the start's reading makes is a SEARCH of the index heater_log_override by heater, in its order
    (no sort), on the read-only connection the start uses; and the answers are the newest of each."""
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    commands = [HeaterCommand(clock.t, "hob", "pot", on, 60.0 if on else None, True, "x") for on in (True, False)]
    said(hub, override(clock, "hob", OFF), *commands * 50, override(clock, "plate", ON), override(clock, "hob", AUTO))
    stop(recorder)
    assert "heater_log_override" in indexes(path)
    with contextlib.closing(connect_read(path)) as conn:
        found, seen = plans(conn, ["hob", "plate", "oven"])
    assert found == {"hob": AUTO, "plate": ON}
    assert len(seen) == 3, seen  # one question per heater
    for plan in seen:
        assert "SEARCH heater_log USING INDEX heater_log_override (heater=?)" in plan, plan
        assert "TEMP B-TREE" not in plan and "SCAN" not in plan, plan


def test_a_file_written_before_the_index_gets_it_at_the_next_start_and_keeps_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pass: a file of this schema version without the index (a potwatch from before it wrote it) answers
    the same read-only; the next start makes the index and leaves ``user_version`` as it was, so that the
    older potwatch still opens the file; the answer is the same through the index."""
    path = tmp_path / "potwatch.db"
    with monkeypatch.context() as patch:  # the potwatch of this schema version, before the index
        patch.setattr(schema, "INDEXES", [])
        one_run(path, HandClock(), ("hob", OFF), ("plate", AUTO), ("hob", AUTO), ("hob", OFF))
    assert indexes(path) == ["heater_log_cook"]
    assert recorded_overrides(path, ["hob", "plate"]).modes == {"hob": OFF, "plate": AUTO}
    one_run(path, HandClock())
    assert indexes(path) == ["heater_log_cook", "heater_log_override"]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert recorded_overrides(path, ["hob", "plate"]).modes == {"hob": OFF, "plate": AUTO}


def scanned(conn: sqlite3.Connection, heater_ids: list[str]) -> dict[str, OverrideMode]:
    """The answer as the start used to find it: every override row, oldest first, the last readable one wins."""
    found: dict[str, OverrideMode] = {}
    for heater, detail in conn.execute("SELECT heater, detail FROM heater_log WHERE what = 'override' ORDER BY rowid"):
        if heater in heater_ids:
            with contextlib.suppress(ValueError):
                found[heater] = OverrideMode(detail)
    return found


@pytest.mark.parametrize("seed", range(40))
def test_the_index_gives_the_answers_of_the_whole_scan(tmp_path: Path, seed: int) -> None:
    """Pass: on logs of random rows (overrides of known and unknown modes, NULL, commands and reports that
    carry a mode's words, heaters asked for and not), the answer is the whole scan's, row for row."""
    rng = random.Random(seed)
    path = tmp_path / "potwatch.db"
    with contextlib.closing(connect(path)) as conn:
        for _ in range(rng.randrange(0, 60)):
            row = (
                rng.choice(["hob", "plate", "oven", "Hob"]),
                rng.choice(["override", "override", "command", "state"]),
                rng.choice([*OverrideMode, "force_sideways", None, ""]),
            )
            conn.execute("INSERT INTO heater_log (run, at, wall, heater, what, detail) VALUES (1, 0, 0, ?, ?, ?)", row)
    with contextlib.closing(connect_read(path)) as conn:
        wanted = ["hob", "plate", "pan"]
        assert last_overrides(conn, wanted) == scanned(conn, wanted)


# ---- the heaters at their attach: the wiring of ``potwatch run`` (service/cli.py), without a plug


class Unplugged:
    """An actuator never entered: the heaters' attach and views need no more of it."""

    def __init__(self, config: HeaterConfig, clock: Callable[[], float]) -> None:
        self.heater_id = config.id
        self.reported: bool | None = None
        self.available = False
        self.link_up = False  # never entered: never connected
        self.dropped = 0


def heaters_on(path: Path, hub: Hub, *ids: str) -> Heaters:
    configs = [HeaterConfig(id=i, url="mqtt://127.0.0.1:1883/kitchen_plug?kind=tasmota", probe="pot") for i in ids]
    heaters = Heaters(configs, opener=Unplugged, remembered=functools.partial(recorded_overrides, path))  # type: ignore[arg-type]
    heaters.attach(hub)
    return heaters


def overrides_shown(heaters: Heaters) -> dict[str, str]:
    return {v["id"]: v["override"] for v in heaters.views()}


def test_an_override_the_api_hands_a_heater_is_what_the_next_start_begins_in(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the heater's own ``override`` (what the API calls), the real recorder, a stop, a new start."""
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    heaters = heaters_on(path, hub, "hob", "plate")
    assert overrides_shown(heaters) == {"hob": "auto", "plate": "auto"}
    assert heaters.override("hob", OFF) and heaters.override("plate", ON)
    assert not heaters.override("oven", OFF)  # not a heater: nothing recorded
    stop(recorder, clean=False)
    clock.t += 10.0
    hub, recorder = start(path, clock)
    with caplog.at_level(logging.INFO):
        heaters = heaters_on(path, hub, "hob", "plate", "hob-left")
    # shown before the first turn: the controller's state holds the mode from the start
    assert overrides_shown(heaters) == {"hob": "force_off", "plate": "auto", "hob-left": "auto"}
    assert "heater hob: the last override was force_off: starting in force_off" in caplog.text
    assert "heater plate: the last override was force_on: starting in auto" in caplog.text
    stop(recorder)


def test_a_history_that_fails_to_read_starts_every_heater_forced_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ids: list[str]) -> Recalled:
        raise RuntimeError("a bug in the reading")

    hub, recorder = start(tmp_path / "potwatch.db", HandClock())
    configs = [HeaterConfig(id="hob", url="mqtt://127.0.0.1:1883/kitchen_plug?kind=tasmota", probe="pot")]
    heaters = Heaters(configs, opener=Unplugged, remembered=broken)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        heaters.attach(hub)
    # the cook's last word is unknown: off until they hand control back, as after a damaged file
    assert overrides_shown(heaters) == {"hob": "force_off"}
    assert "every heater starts forced off" in caplog.text
    stop(recorder)
