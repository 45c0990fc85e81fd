"""The kitchen as JSON: one shape for the API, SSE, MQTT and history.

Temperatures go out in both units, times as ISO wall-clock strings; the core's
monotonic seconds never leave the process. Durations are on the kitchen's
clock (the demo's runs faster: ``speed`` in the status says how much).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired

from pydantic import ConfigDict, with_config

# pydantic reads these for the API's schema, and on Python 3.11 it needs typing_extensions' TypedDict
from typing_extensions import TypedDict

from service.core.cook import Cook, Kitchen
from service.core.events import Alert
from service.core.heat.events import OverrideMode
from service.core.probes import ProbeHealth
from service.core.units import c_to_f
from service.runtime.clock import Clock

# ---- the shapes that leave the service -----------------------------------------------
# Declared once, here: the API's response models (and so its OpenAPI schema), the SSE
# events, the MQTT state and the history's copies are all these. A renamed key is a
# mypy error in every place that builds or reads one.


class CalibrationView(TypedDict):
    calibration: str  # "none" | "altitude" | "pressure" | "measured" ...: the source in force
    water_boils_c: float | None
    water_boils_f: float | None
    calibration_offset_c: float  # how far every target moved (a difference: ×1.8 in °F)
    calibration_offset_f: float
    boil_c: float | None  # a measured boil, when one was
    pressure_hpa: float | None
    altitude_m: float | None


class ProbeView(CalibrationView):
    id: str
    label: str
    state: str
    celsius: float | None
    fahrenheit: float | None
    at: str | None
    age_s: float | None
    channel: str
    interval_s: float | None
    stale_after_s: float
    lag_s: float | None
    fault: str | None


class CookView(TypedDict):
    id: str
    profile: str
    title: str
    probe: str
    channel: str | None
    step: str
    step_index: int
    step_kind: str
    steps: list[str]
    stage: str
    started_at: str
    ended_at: str | None
    outcome: str | None
    target_c: float | None
    target_f: float | None
    overshoot_c: float | None
    overshoot_f: float | None
    level_c: float | None
    level_f: float | None
    rate_f_per_min: float | None
    eta_s: float | None
    eta_sigma_s: float | None
    on_boil: bool | None
    eta_water_boils_c: float | None
    lag_s: float | None
    pot_c: float | None
    sugar_stage: str | None
    next_sugar_stage: str | None
    next_sugar_stage_eta_s: float | None
    step_end: str | None
    cooling: bool | None
    low_c: float | None
    low_f: float | None
    high_c: float | None
    high_f: float | None
    hold_elapsed_s: float | None
    hold_remaining_s: float | None
    measured_boil_c: float | None
    calibration: str
    water_boils_c: float | None
    water_boils_f: float | None
    calibration_offset_c: float
    calibration_offset_f: float
    # where the cook started on the tracker's time line (seconds, an arbitrary origin, kept across a
    # resume): with a reading's ``line_s``, its time into the cook whatever the wall clock did meanwhile
    started_line_s: float


class AlertSummary(TypedDict):
    """An alert without its temperatures: what the MQTT cook state lists."""

    id: str
    kind: str
    level: str
    active: bool
    acked: bool
    at: str
    acked_at: str | None
    probe: str | None
    cook: str | None
    step: str | None
    message: str


class AlertView(AlertSummary):
    """An alert as the API, SSE and ``<base>/cook/alert`` show it."""

    celsius: float | None
    fahrenheit: float | None


@dataclass(frozen=True, slots=True)
class HeaterCommand:
    """A command handed to the plug's driver (``sent``: it reached a live link to an available plug)."""

    at: float
    heater: str
    probe: str
    on: bool
    hold_s: float | None
    sent: bool
    reason: str


@dataclass(frozen=True, slots=True)
class HeaterReport:
    """What the plug's driver said: its relay (``on``), or whether it can be used (``available``)."""

    at: float
    heater: str
    probe: str
    on: bool | None
    available: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class HeaterOverride:
    """A cook's override, as accepted (``mode``: "auto", "force_off", "force_on").

    Recorded so that a restarted potwatch knows what the cook last said of the
    heater (service/history/overrides.py): a forced-off heater must not come
    back in "auto" after a power cut.
    """

    at: float
    heater: str
    probe: str
    mode: str


@dataclass(frozen=True, slots=True)
class HeaterDoubt:
    """Why the forced off that follows it was potwatch's, not the cook's: the history was damaged at the start.

    Recorded just before that forced off's override row, so that whoever reads the
    history later can tell it from a cook's own "off" (the override row itself
    must look like one: a restart reads only it, and it must keep the heat off).
    """

    at: float
    heater: str
    probe: str
    why: str


HeaterRecord = HeaterCommand | HeaterReport | HeaterOverride | HeaterDoubt


@dataclass(frozen=True, slots=True)
class Recalled:
    """What the history holds of the heaters' last overrides at a start (service/history/overrides.py).

    ``modes``: the newest readable override of each heater id that has one.
    ``doubt``: why they cannot be trusted, or None. Set when the file was damaged
    at this start (set aside, rows or log frames lost) or cannot be read: the
    cook's last word may be what was lost, so every heater starts forced off
    (``restarted_mode``), not in what the surviving rows say.
    """

    modes: dict[str, OverrideMode]
    doubt: str | None = None


class HeaterView(TypedDict):
    """One ``[[heaters]]`` entry as the status shows it: what was commanded, what the plug says, and why."""

    id: str
    label: str  # the config's, "" when none: the page names the heater by it, as it does a probe
    probe: str
    on: bool  # commanded
    reported: str | None  # "on", "off", or None: the plug has not said since the link came up
    reason: str  # words: "target reached (225 °F)", "probe lost", "override: off", …
    duty: float  # the commanded on-fraction over the last ``duty_window_s``
    duty_window_s: float  # the window of ``duty`` (the config's ``duty_window``), in the kitchen's seconds
    available: bool
    override: str  # "auto", "force_off", "force_on"
    safety: bool  # off because something is wrong (a probe lost, the link down, too hot…), not by the step


class StatusView(TypedDict):
    """``GET /api/status``: everything the page needs to draw itself from nothing."""

    now: str
    speed: float
    probes: list[ProbeView]
    cook: CookView | None  # the newest running cook
    cooks: list[CookView]
    alerts: list[AlertView]  # the active ones, then the 20 newest others
    last_event_id: int
    heaters: list[HeaterView]


class CookStateView(TypedDict):
    """What ``<base>/cook/state`` is made of: the status's ``cook`` and ``alerts``, without the rest.

    Built on every cook event (one a second per running cook): the whole
    status, every probe's and every cook's view, made 50 cooks on 200 probes
    cost half the service's CPU (docs/benchmarks.md, "A restaurant line").
    """

    cook: CookView | None  # the newest running cook
    alerts: list[AlertView]  # the active ones, then the 20 newest others


class ApiStatus(StatusView):
    """``GET /api/status`` as the API serves it: the hub's status and what the page must know of the server."""

    version: str
    auth_required: bool
    secure: bool


# ---- HTTP only: past cooks, recipes, health ---------------------------------------------


class CookSummary(TypedDict):
    """One entry of ``GET /api/cooks``."""

    id: str
    profile: str
    title: str
    probe: str
    started_at: str
    ended_at: str | None
    outcome: str | None
    running: bool


class CookStageRecord(TypedDict):
    at: str
    t: float  # seconds since the cook started, on the tracker's time line
    step: str
    stage: str
    previous: str | None


class CalibrationRecord(TypedDict):
    boil_c: float | None
    offset_c: float


@with_config(ConfigDict(extra="allow"))
class CookDetail(CookSummary):
    """``GET /api/cooks/{id}``. A cook the hub still holds also carries every ``CookView`` field.

    ``calibration`` is the source's word for such a cook and ``{boil_c,
    offset_c}`` for a past one (kept for old clients); ``measured_boil_c`` and
    ``calibration_offset_*`` mean the same for every cook.
    """

    channel: str | None
    steps: list[str]
    duration_s: float | None
    calibration: str | CalibrationRecord
    measured_boil_c: float | None
    calibration_offset_c: float
    calibration_offset_f: float
    target_c: float | None
    low_c: float | None
    high_c: float | None
    stages: list[CookStageRecord]
    alerts: list[dict[str, Any]]  # an AlertView (or, from the file, what was recorded of it) plus ``t``


class CookSeries(TypedDict):
    """``GET /api/cooks/{id}/series``: the chart. A point is ``[t, °C]``; ``[t, null]`` breaks the line."""

    cook: str
    t0: str
    points: list[list[float | None]]
    target_c: float | None
    low_c: float | None
    high_c: float | None
    stages: list[list[float | str]]  # [t, stage]
    alerts: list[list[float | str]]  # [t, kind]
    restarts: list[float]


class SugarStageInfo(TypedDict):
    name: str
    from_c: float | None
    from_f: float | None


class StepInfo(TypedDict):
    """One step of a recipe as ``GET /api/profiles`` lists it; the fields after ``name`` depend on its kind."""

    kind: str
    name: str
    target_c: NotRequired[float | None]
    target_f: NotRequired[float | None]
    overshoot_c: NotRequired[float | None]
    overshoot_f: NotRequired[float | None]
    stages: NotRequired[list[SugarStageInfo]]
    low_c: NotRequired[float | None]
    low_f: NotRequired[float | None]
    high_c: NotRequired[float | None]
    high_f: NotRequired[float | None]
    duration_s: NotRequired[float]
    steady_s: NotRequired[float]


class ProfileView(TypedDict):
    name: str
    title: str
    description: str
    steps: list[StepInfo]


@with_config(ConfigDict(extra="allow"))
class HealthView(TypedDict):
    """``GET /healthz``: always 200 while the service runs; each part (mqtt, recording, …) adds its key."""

    status: str
    version: str
    probes: dict[str, str]


# ---- the alarm channels (``service/alarm``): the self-test and their health -----------


class AlarmTestEntry(TypedDict):
    """One channel's answer to the self-test."""

    channel: str  # "push:ntfy", "buzzer:gpio17", "page", "mqtt"
    kind: str  # "push" | "buzzer" | "voice" | "page" | "mqtt"
    ok: bool  # accepted (push: the service took it; page: a phone follows; mqtt: connected)
    latency_ms: float | None  # None for page and mqtt: nothing is sent to them
    error: str | None


class AlarmTestView(TypedDict):
    """``POST /api/alarm/test``: every channel tried at once."""

    ok: bool  # every channel accepted
    channels: list[AlarmTestEntry]


class AlarmChannelHealth(TypedDict):
    kind: str
    sent: int
    failed: int
    last_latency_s: float | None
    last_error: str | None
    notices: list[str]


class AlarmHealth(TypedDict):
    """``/healthz``'s ``alarm``: per channel, and what the dispatcher held back."""

    channels: dict[str, AlarmChannelHealth]
    active: int  # alerts with something still to say
    held: int  # messages held back by the flood window
    merged: int  # critical alerts merged into an unanswered one of the same probe and kind
    repeated_warning: int  # withdrawn warnings raised again and not sent twice
    last_silence_ms: float | None  # from an acknowledgement to the last channel silent


# ---- server-sent events (``GET /api/events``): the event's name → its data -----------


class ReadingEvent(TypedDict):
    probe: str
    channel: str
    celsius: float | None
    fahrenheit: float | None
    at: str
    state: str
    live: bool
    fault: str | None
    raw: str
    line_s: float  # when, on the tracker's time line (CookView.started_line_s): never stepped by NTP


class StageEvent(TypedDict):
    cook: str
    step: str
    stage: str
    previous: str | None
    at: str


class AckEvent(TypedDict):
    id: str
    at: str


class CookEndedEvent(TypedDict):
    cook: str
    outcome: str
    at: str


class ProbeEvent(TypedDict):
    probe: str
    state: str
    previous: str
    at: str


class CalibratedEvent(TypedDict):
    probe: str
    boil_c: float | None
    boil_f: float | None
    at: str


class CalibrationEvent(CalibrationView):
    probe: str
    at: str


# ---- MQTT (docs/mqtt.md) --------------------------------------------------------------


class MqttAlertEvent(AlertView):
    """``<base>/cook/alert`` (not retained): the API's alert; ``event_type`` is what Home Assistant reads."""

    event_type: str


class MqttCookState(TypedDict):
    """``<base>/cook/state`` (retained): the newest running cook, or ``stage: idle``.

    Every key from ``profile`` to ``outcome`` is the ``CookView`` key of that
    name, copied as it is (``COOK_STATE_KEYS``).
    """

    cook: str | None
    profile: str | None
    title: str | None
    probe: str | None
    channel: str | None
    step: str | None
    step_index: int | None
    step_kind: str | None
    steps: list[str] | None
    stage: str | None
    started_at: str | None
    target_c: float | None
    target_f: float | None
    overshoot_c: float | None
    overshoot_f: float | None
    level_c: float | None
    level_f: float | None
    rate_f_per_min: float | None
    eta_s: float | None
    eta_sigma_s: float | None
    sugar_stage: str | None
    next_sugar_stage: str | None
    next_sugar_stage_eta_s: float | None
    low_c: float | None
    low_f: float | None
    high_c: float | None
    high_f: float | None
    hold_elapsed_s: float | None
    hold_remaining_s: float | None
    outcome: str | None
    rate_c_per_min: float | None
    target_reached: bool
    active_alerts: int
    alerts: list[AlertSummary]


class MqttProbeReading(TypedDict):
    """``<base>/probe/<id>/temperature`` (retained): the reading, plus the tracker's filtered level."""

    probe: str
    channel: str
    celsius: float | None
    fahrenheit: float | None
    at: str | None
    state: str | None
    fault: str | None
    filtered_c: float | None
    filtered_f: float | None
    rate_c_per_min: float | None
    rate_f_per_min: float | None


COOK_STATE_KEYS: tuple[str, ...] = tuple(k for k in MqttCookState.__annotations__ if k in CookView.__annotations__)
"""The cook's keys the MQTT state copies from the API's view, in the state's order."""
ALERT_STATE_KEYS: tuple[str, ...] = tuple(AlertSummary.__annotations__)


SSE_EVENTS: dict[str, type] = {
    "reading": ReadingEvent,
    "cook": CookView,
    "stage": StageEvent,
    "alert": AlertView,
    "ack": AckEvent,
    "cook_ended": CookEndedEvent,
    "probe": ProbeEvent,
    "calibrated": CalibratedEvent,
    "calibration": CalibrationEvent,
    "heater": HeaterView,
}
"""Every event the bus carries to SSE and MQTT, with the shape of its data."""


def both(value: float | None, digits: int = 2) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    return round(value, digits), round(c_to_f(value), digits)


def calibration_json(health: ProbeHealth) -> CalibrationView:
    """Which calibration is in force for a probe, and by how much it moves every target.

    ``calibration_offset_*`` is a difference (water's boil here minus 100 °C /
    212 °F): in °F it is ×1.8, without the 32.
    """
    offset = health.offset_c
    # three digits: the page rounds to one, and 94.945 must not become 94.95, then 95.0
    water_c, water_f = both(health.water_boils_c, 3)
    return {
        "calibration": health.calibration.value,
        "water_boils_c": water_c,
        "water_boils_f": water_f,
        "calibration_offset_c": round(offset, 3),
        "calibration_offset_f": round(offset * 1.8, 3),
        "boil_c": round(health.boil_c, 2) if health.boil_c is not None else None,
        "pressure_hpa": round(health.pressure_hpa, 1) if health.pressure_hpa is not None else None,
        "altitude_m": round(health.altitude_m, 1) if health.altitude_m is not None else None,
    }


def probe_json(health: ProbeHealth, clock: Clock, label: str = "") -> ProbeView:
    celsius, fahrenheit = both(health.celsius)
    now = clock.monotonic()
    return ProbeView(
        id=health.id,
        label=label or health.id,
        state=health.state.value,
        celsius=celsius,
        fahrenheit=fahrenheit,
        at=clock.iso(health.last_at) if health.last_at is not None else None,
        age_s=round(now - health.last_at, 1) if health.last_at is not None else None,
        channel=health.channel,
        interval_s=round(health.interval, 2) if health.interval is not None else None,
        stale_after_s=round(health.stale_timeout, 1),
        lag_s=health.lag_s,
        **calibration_json(health),
        fault=health.fault_reason if health.state.value == "fault" else None,
    )


def cook_json(kitchen: Kitchen, cook: Cook, clock: Clock) -> CookView:
    now = kitchen.cook_snapshot(cook, clock.monotonic() if cook.ended_at is None else cook.ended_at)
    step = now.progress
    target_c, target_f = both(step.target_c)
    over_c, over_f = both(step.overshoot_c)
    level_c, level_f = both(now.level_c)
    low_c, low_f = both(step.low_c)
    high_c, high_f = both(step.high_c)
    water_c, water_f = both(now.water_boils_c, 3)
    rate = now.rate_c_per_s
    return CookView(
        id=cook.id,
        profile=cook.profile.name,
        title=cook.profile.title,
        probe=cook.probe,
        channel=cook.channel,
        step=cook.step.name,
        step_index=cook.index,
        step_kind=cook.step.kind,
        steps=[s.name for s in cook.profile.steps],
        stage=now.stage,
        started_at=clock.iso(cook.started_at),
        ended_at=clock.iso(cook.ended_at) if cook.ended_at is not None else None,
        outcome=cook.outcome,
        target_c=target_c,
        target_f=target_f,
        overshoot_c=over_c,
        overshoot_f=over_f,
        level_c=level_c,
        level_f=level_f,
        rate_f_per_min=round(rate * 108.0, 2) if rate is not None else None,  # °C/s → °F/min
        eta_s=step.eta_s,
        eta_sigma_s=step.eta_sigma_s,
        on_boil=step.on_boil,
        eta_water_boils_c=step.eta_water_boils_c,
        lag_s=step.lag_s,
        pot_c=round(step.pot_c, 2) if step.pot_c is not None else None,
        sugar_stage=step.sugar_stage,
        next_sugar_stage=step.next_sugar_stage,
        next_sugar_stage_eta_s=step.next_sugar_stage_eta_s,
        step_end=step.step_end,
        cooling=step.cooling,
        low_c=low_c,
        low_f=low_f,
        high_c=high_c,
        high_f=high_f,
        hold_elapsed_s=step.hold_elapsed_s,
        hold_remaining_s=step.hold_remaining_s,
        measured_boil_c=step.measured_boil_c,
        calibration=now.calibration,
        water_boils_c=water_c,
        water_boils_f=water_f,
        calibration_offset_c=round(now.calibration_offset_c, 3),
        calibration_offset_f=round(now.calibration_offset_c * 1.8, 3),
        started_line_s=round(cook.started_at, 3),
    )


def alert_json(alert: Alert, clock: Clock) -> AlertView:
    celsius, fahrenheit = both(alert.celsius)
    return AlertView(
        id=alert.id,
        kind=alert.kind.value,
        level=alert.level.value,
        active=alert.active,
        acked=alert.acked,
        at=clock.iso(alert.at),
        acked_at=clock.iso(alert.acked_at) if alert.acked_at is not None else None,
        probe=alert.probe,
        cook=alert.cook_id,
        step=alert.step,
        celsius=celsius,
        fahrenheit=fahrenheit,
        message=alert.message,
    )
