"""``potwatch replay``: a recorded trace through the very tracker the service runs.

Time in a trace is its ``t`` column. Between two samples, the tracker is
ticked at exactly the moments it asked for (``Kitchen.next_deadline``), so a
gap longer than the stale timeout raises ``probe_lost`` when the timeout
expires, as the live service would, not when the next sample arrives.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import (
    AlertRaised,
    Output,
    Sample,
    StageChanged,
    StartCook,
    Tick,
)
from service.core.profile import Profile
from service.core.units import c_to_f, f_to_c

DEFAULT_PROBE = "pot"


class TraceError(Exception):
    """A trace that cannot be replayed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class TraceRow:
    line: int
    t: float
    celsius: float | None
    probe: str | None


@dataclass(frozen=True, slots=True)
class TraceHeader:
    profile: str | None  # from a "# profile: NAME" comment (exported cooks carry one)


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise TraceError(f"{where}: {what} {text!r} is not a finite number")
    return value


def read_trace(path: Path) -> tuple[TraceHeader, Iterator[TraceRow]]:
    """Open and check a trace's header; rows are parsed lazily, errors name the line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TraceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a folder, not a trace file") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in raw[:65536]:
        raise TraceError(f"{path}: binary data, not a CSV trace")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        number = raw[: exc.start].count(b"\n") + 1
        raise TraceError(f"{path}: line {number}: not UTF-8 text") from None
    lines = text.splitlines()
    profile: str | None = None
    header_at = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, _, value = stripped.lstrip("#").partition(":")
            if key.strip() == "profile" and value.strip():
                profile = value.strip()
            continue
        header_at = index
        break
    if header_at is None:
        raise TraceError(f"{path}: empty trace: expected a header row like 't,temp_f'")
    columns = [c.strip() for c in next(csv.reader([lines[header_at]]))]
    where = f"{path}: line {header_at + 1}"
    if "t" not in columns:
        raise TraceError(f"{where}: the header has no 't' column (got {','.join(columns)})")
    has_f, has_c = "temp_f" in columns, "temp_c" in columns
    if has_f == has_c:
        raise TraceError(f"{where}: the header needs exactly one of 'temp_f' or 'temp_c' (got {','.join(columns)})")
    return TraceHeader(profile), _rows(path, lines, header_at, columns, has_f)


def _rows(path: Path, lines: list[str], header_at: int, columns: list[str], fahrenheit: bool) -> Iterator[TraceRow]:
    i_t = columns.index("t")
    i_temp = columns.index("temp_f" if fahrenheit else "temp_c")
    i_probe = columns.index("probe") if "probe" in columns else -1
    width = len(columns)
    last_t = -math.inf
    reader = csv.reader(io.StringIO("\n".join(lines[header_at + 1 :])))
    for offset, cells in enumerate(reader):
        number = header_at + 2 + offset
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if cells[0].lstrip().startswith("#"):
            continue
        where = f"{path}: line {number}"
        if len(cells) < width:
            raise TraceError(f"{where}: {len(cells)} cells, the header has {width}")
        t = _number(cells[i_t].strip(), "t", where)
        if t < last_t:
            raise TraceError(f"{where}: time goes backwards ({t:g} after {last_t:g})")
        last_t = t
        cell = cells[i_temp].strip()
        celsius: float | None
        if cell == "":
            celsius = None  # an empty temperature is a fault reading
        else:
            value = _number(cell, "temperature", where)
            celsius = f_to_c(value) if fahrenheit else value
        probe = cells[i_probe].strip() or None if i_probe >= 0 else None
        yield TraceRow(number, t, celsius, probe)


def output_line(out: Output, kitchen: Kitchen) -> dict[str, Any] | None:
    """The JSON line SPEC.md gives for an output, or None for outputs replay does not print."""
    if isinstance(out, StageChanged):
        return {"t": out.at, "type": "stage", "cook": out.cook_id, "step": out.step, "stage": out.stage}
    if isinstance(out, AlertRaised):
        a = out.alert
        return {
            "t": out.at,
            "type": "alert",
            "id": a.id,
            "kind": a.kind.value,
            "level": a.level.value,
            "step": a.step,
            "probe": a.probe,
            "celsius": _round(a.celsius),
            "fahrenheit": _round(c_to_f(a.celsius)) if a.celsius is not None else None,
            "message": a.message,
        }
    return None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def sample_line(t: float, celsius: float | None, kitchen: Kitchen, cook_id: str) -> dict[str, Any]:
    cook = kitchen.cooks[cook_id]
    now = kitchen.cook_snapshot(cook, t)
    rate = now.rate_c_per_s
    level = now.level_c
    return {
        "t": t,
        "type": "sample",
        "celsius": _round(celsius),
        "fahrenheit": _round(c_to_f(celsius)) if celsius is not None else None,
        "level_f": _round(c_to_f(level)) if level is not None else None,
        "rate_f_per_min": _round(rate * 108.0) if rate is not None else None,  # °C/s → °F/min
        "eta_s": now.progress.eta_s,
        "eta_sigma_s": now.progress.eta_sigma_s,
        "step": cook.step.name,
        "stage": now.stage,
        "sugar_stage": now.progress.sugar_stage,
    }


def replay(
    rows: Iterator[TraceRow],
    profile: Profile,
    emit: Callable[[dict[str, Any]], None],
    *,
    probes: list[ProbeSetup] | None = None,
    probe: str = DEFAULT_PROBE,
    every_sample: bool = False,
) -> Kitchen:
    """Feed ``rows`` through a fresh Kitchen; ``emit`` gets each JSON line as a dict."""
    kitchen = Kitchen(probes or [ProbeSetup(probe)])
    cook_id: str | None = None
    handle = kitchen.handle
    next_deadline = kitchen.next_deadline

    def send(outputs: list[Output]) -> None:
        for out in outputs:
            line = output_line(out, kitchen)
            if line is not None:
                emit(line)

    for row in rows:
        t = row.t
        if cook_id is None:
            outputs = handle(StartCook(t, profile, probe))
            cook_id = next(iter(kitchen.cooks))
            send(outputs)
        deadline = next_deadline()
        while deadline is not None and deadline < t:
            send(handle(Tick(deadline)))
            after = next_deadline()
            if after is not None and after <= deadline:
                break  # nothing left that time alone can change
            deadline = after
        outputs = handle(Sample(t, row.probe or probe, "", row.celsius, None if row.celsius is not None else "empty"))
        if outputs:
            send(outputs)
        if every_sample:
            emit(sample_line(t, row.celsius, kitchen, cook_id))
    return kitchen
