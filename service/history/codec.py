"""Tracker events ↔ rows of ``events``, and profiles ↔ JSON.

A resumed cook is rebuilt by feeding these rows back through ``Kitchen.handle``,
so the round trip must be exact: floats go through SQLite REAL and JSON
unchanged, and a StartCook carries its whole profile (the TOML file may have
been edited since; the cook goes on with the recipe it started with).
"""

from __future__ import annotations

import json
from dataclasses import fields
from enum import IntEnum
from typing import Any

from service.core.cook import ProbeSetup
from service.core.events import (
    Acknowledge,
    AdvanceStep,
    Event,
    HeaterAgrees,
    HeaterMismatch,
    MarkPushed,
    ProbeGone,
    Sample,
    SetCalibration,
    SetPressure,
    StartCook,
    StopCook,
    Tick,
)
from service.core.profile import BoilStep, EtaModel, HoldStep, Profile, ReachEnd, ReachStep, Step, SugarStage


class Kind(IntEnum):
    READING = 0
    GONE = 1
    TICK = 2
    START = 3
    ADVANCE = 4
    STOP = 5
    ACK = 6
    CALIBRATE = 7
    PRESSURE = 8  # hPa in the celsius column: a barometer reading
    PUSHED = 9  # an alert's first accepted push: the alert id in data, the push channel's name in channel
    HEATER_MISMATCH = 10  # the heater's id in channel, its probe in probe, the alert's words in fault
    HEATER_AGREES = 11  # the heater's id in channel


# (run, kind, at, wall, probe, channel, celsius, fault, live, data): the order of INSERT_EVENT
EventRow = tuple[int, int, float, float, str | None, str | None, float | None, str | None, int | None, str | None]

INSERT_EVENT = (
    "INSERT INTO events (run, kind, at, wall, probe, channel, celsius, fault, live, data) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
SELECT_EVENTS = "SELECT kind, at, probe, channel, celsius, fault, live, data FROM events"


def event_row(event: Event, run: int, wall: float) -> EventRow:
    """One event as the row the recorder writes. Called in the hub's task: kept cheap."""
    if isinstance(event, Sample):
        return (run, Kind.READING, event.at, wall, event.probe, event.channel, event.celsius, event.fault,
                int(event.live), None)  # fmt: skip
    if isinstance(event, Tick):
        return (run, Kind.TICK, event.at, wall, None, None, None, None, None, None)
    if isinstance(event, ProbeGone):
        return (run, Kind.GONE, event.at, wall, event.probe, None, None, event.reason, None, None)
    if isinstance(event, StartCook):
        data = json.dumps(profile_json(event.profile), ensure_ascii=False)
        return (run, Kind.START, event.at, wall, event.probe, event.channel, None, None, None, data)
    if isinstance(event, AdvanceStep):
        return (run, Kind.ADVANCE, event.at, wall, None, None, None, None, None, event.cook_id)
    if isinstance(event, StopCook):
        return (run, Kind.STOP, event.at, wall, None, None, None, None, None, event.cook_id)
    if isinstance(event, Acknowledge):
        return (run, Kind.ACK, event.at, wall, None, None, None, None, None, event.alert_id)
    if isinstance(event, MarkPushed):
        return (run, Kind.PUSHED, event.at, wall, None, event.channel, None, None, None, event.alert_id)
    if isinstance(event, SetPressure):
        return (run, Kind.PRESSURE, event.at, wall, None, None, event.hpa, None, None, None)
    if isinstance(event, HeaterMismatch):
        return (run, Kind.HEATER_MISMATCH, event.at, wall, event.probe, event.heater, None, event.message, None, None)
    if isinstance(event, HeaterAgrees):
        return (run, Kind.HEATER_AGREES, event.at, wall, None, event.heater, None, None, None, None)
    return (run, Kind.CALIBRATE, event.at, wall, event.probe, None, event.boil_c, None, None, None)


def row_event(row: tuple[Any, ...]) -> Event:
    """A row of SELECT_EVENTS back into the event it was made from."""
    kind, at, probe, channel, celsius, fault, live, data = row
    kind = Kind(kind)
    if kind is Kind.READING:
        return Sample(at, probe, channel, celsius, fault, bool(live))
    if kind is Kind.TICK:
        return Tick(at)
    if kind is Kind.GONE:
        return ProbeGone(at, probe, fault or "")
    if kind is Kind.START:
        return StartCook(at, profile_from_json(json.loads(data)), probe, channel)
    if kind is Kind.ADVANCE:
        return AdvanceStep(at, data)
    if kind is Kind.STOP:
        return StopCook(at, data)
    if kind is Kind.ACK:
        return Acknowledge(at, data)
    if kind is Kind.PUSHED:
        return MarkPushed(at, data, channel or "")
    if kind is Kind.PRESSURE:
        return SetPressure(at, celsius)
    if kind is Kind.HEATER_MISMATCH:
        return HeaterMismatch(at, channel or "", probe or "", fault or "")
    if kind is Kind.HEATER_AGREES:
        return HeaterAgrees(at, channel or "")
    return SetCalibration(at, probe, celsius)


# ---- profiles ----------------------------------------------------------------------------

_STEP_TYPES: dict[str, type[ReachStep] | type[HoldStep] | type[BoilStep]] = {
    "reach": ReachStep,
    "hold": HoldStep,
    "boil": BoilStep,
}


def profile_json(profile: Profile) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for step in profile.steps:
        item: dict[str, Any] = {}
        for f in fields(step):
            value = getattr(step, f.name)
            if f.name == "sugar_stages":
                value = [[s.name, s.from_c] for s in value]
            elif isinstance(value, EtaModel):
                value = value.value
            item[f.name] = value
        steps.append(item)
    return {"name": profile.name, "title": profile.title, "description": profile.description, "steps": steps}


def profile_from_json(data: dict[str, Any]) -> Profile:
    steps: list[Step] = []
    for item in data["steps"]:
        args = dict(item)
        cls = _STEP_TYPES[args["kind"]]
        if "sugar_stages" in args:
            args["sugar_stages"] = tuple(SugarStage(name, from_c) for name, from_c in args["sugar_stages"])
        if "eta_model" in args:
            args["eta_model"] = EtaModel(args["eta_model"])
        if "end" in args:
            args["end"] = ReachEnd(args["end"])
        steps.append(cls(**args))
    return Profile(data["name"], data["title"], tuple(steps), data.get("description", ""))


# ---- probe setups -------------------------------------------------------------------------


def setups_json(setups: list[ProbeSetup]) -> str:
    return json.dumps([[s.id, s.stale_after, s.boil_c, s.lag_s, s.altitude_m] for s in setups])


def setups_from_json(text: str) -> list[ProbeSetup]:
    """Older files carry three fields a probe (id, stale_after, boil_c): lag and altitude were added later."""
    return [ProbeSetup(*row) for row in json.loads(text)]
