"""What goes into the heat controller and what comes out of it.

Temperatures in °C and times in seconds on the hub's monotonic line, like the
rest of the core; every input carries ``at``. A step's heat is described by
:class:`HeatStep`, built from a profile step by :func:`heat_step`, so the
controller needs no tracker state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from service.core.profile import WATER_BOILS_C, BoilStep, HoldStep, ReachStep, Step

# A boil step measures water: past this much above boiling water the probe is not in water.
BOIL_MAX_ABOVE_C = 10.0 / 1.8
# The default hard maximum of a hold: 10 °F above the window's top.
HOLD_MAX_ABOVE_C = 10.0 / 1.8


class StepKind(StrEnum):
    HOLD = "hold"
    REACH = "reach"
    BOIL = "boil"


class ProbeHealth(StrEnum):
    OK = "ok"
    LOST = "lost"  # the driver says the device is gone
    FAULTY = "faulty"  # fault readings, or jumps no probe can make
    STALE = "stale"  # the hub's own stale timeout passed


class Reported(StrEnum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


class OverrideMode(StrEnum):
    """The cook's hand. Who may send which (force off: anyone) is the caller's check, not ours."""

    AUTO = "auto"
    FORCE_OFF = "force_off"
    FORCE_ON = "force_on"


# The words a cook (the API's body, an MQTT command) uses for each mode.
OVERRIDE_WORDS: dict[str, OverrideMode] = {
    "off": OverrideMode.FORCE_OFF,
    "on": OverrideMode.FORCE_ON,
    "auto": OverrideMode.AUTO,
}


@dataclass(frozen=True, slots=True)
class HeatStep:
    """The running step as the heater sees it.

    ``key`` tells steps apart (the cook's id and the step's index): a new key is
    a new step, so a reach that stopped at its target may heat again for the
    next one. ``heat_off`` is the step's ``heat = "off"``.
    """

    key: str
    kind: StepKind
    low_c: float | None = None  # hold
    high_c: float | None = None  # hold
    target_c: float | None = None  # reach
    max_c: float | None = None  # None: the kind's default (see default_max_c)
    heat_off: bool = False

    def __post_init__(self) -> None:
        numbers = {"low_c": self.low_c, "high_c": self.high_c, "target_c": self.target_c, "max_c": self.max_c}
        for name, value in numbers.items():
            if value is not None and not math.isfinite(value):
                raise ValueError(f"step {self.key}: {name} must be a finite temperature, not {value}")
        hold = self.kind is StepKind.HOLD
        if hold and (self.low_c is None or self.high_c is None or not self.low_c < self.high_c):
            raise ValueError(f"step {self.key}: a hold needs low_c < high_c, got {self.low_c}, {self.high_c}")
        if self.kind is StepKind.REACH and self.target_c is None:
            raise ValueError(f"step {self.key}: a reach needs target_c")

    @property
    def default_max_c(self) -> float:
        """The hard maximum when nothing stricter is configured: the issue's defaults."""
        if self.max_c is not None:
            return self.max_c
        if self.kind is StepKind.HOLD:
            assert self.high_c is not None
            return self.high_c + HOLD_MAX_ABOVE_C
        if self.kind is StepKind.REACH:
            assert self.target_c is not None
            return self.target_c + 5.0 / 1.8  # ReachStep's own default overshoot
        return WATER_BOILS_C + BOIL_MAX_ABOVE_C


def heat_step(step: Step, key: str, *, heat_off: bool = False, offset_c: float = 0.0) -> HeatStep:
    """A profile step (shifted by the probe's calibration offset) as the heater sees it; its own heat = "off" counts."""
    heat_off = heat_off or step.heat_off
    if isinstance(step, HoldStep):
        s = step.shifted(offset_c)
        return HeatStep(key, StepKind.HOLD, low_c=s.low_c, high_c=s.high_c, heat_off=heat_off)
    if isinstance(step, ReachStep):
        r = step.shifted(offset_c)
        return HeatStep(key, StepKind.REACH, target_c=r.target_c, max_c=r.overshoot_at_c, heat_off=heat_off)
    assert isinstance(step, BoilStep)
    return HeatStep(key, StepKind.BOIL, heat_off=heat_off)


# ---- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeLevel:
    """The probe's trusted level (the tracker's filtered track) and its rate, °C/s.

    ``anticipate`` is the tracker's word on a reach: False while a syrup is
    still heating onto its boil, where the heat-up's rate says nothing of the
    plateau that follows; carried on, it calls a target that a boil 10 °F short
    never reaches, and the heat stays off for good.
    """

    at: float
    level_c: float
    rate_c_per_s: float = 0.0
    anticipate: bool = True


@dataclass(frozen=True, slots=True)
class ProbeHealthChanged:
    at: float
    health: ProbeHealth


@dataclass(frozen=True, slots=True)
class StepChanged:
    """The cook's current step; ``step`` None: the cook ended, or there is none."""

    at: float
    step: HeatStep | None


@dataclass(frozen=True, slots=True)
class ActuatorReport:
    """What the driver knows of the plug: its reported state, the broker link, the device's own LWT."""

    at: float
    reported: Reported
    link_up: bool
    online: bool


@dataclass(frozen=True, slots=True)
class Override:
    at: float
    mode: OverrideMode


@dataclass(frozen=True, slots=True)
class Tick:
    at: float


HeatEvent = ProbeLevel | ProbeHealthChanged | StepChanged | ActuatorReport | Override | Tick


# ---- outputs ------------------------------------------------------------------------------------------


class Reason(StrEnum):
    """Why the heat is what it is. The first group are the safety gate's; see SAFETY_REASONS."""

    NO_COOK = "no_cook"
    NO_READING = "no_reading"
    PROBE_LOST = "probe_lost"
    PROBE_FAULTY = "probe_faulty"
    PROBE_STALE = "probe_stale"
    LINK_DOWN = "link_down"
    DEVICE_OFFLINE = "device_offline"
    MAX_TEMPERATURE = "max_temperature"
    MAX_ON_TIME = "max_on_time"
    OVERRIDE_OFF = "override_off"
    HISTORY_DAMAGED = "history_damaged"  # forced off at the start: the history could not say the cook's last word
    OVERRIDE_ON = "override_on"
    STEP_HEAT_OFF = "step_heat_off"
    HEATING_TO_TARGET = "heating_to_target"
    TARGET_REACHED = "target_reached"
    HOLDING = "holding"
    BOILING = "boiling"
    MIN_ON_TIME = "min_on_time"
    MIN_OFF_TIME = "min_off_time"


SAFETY_REASONS = frozenset(
    {
        Reason.NO_COOK,
        Reason.NO_READING,
        Reason.PROBE_LOST,
        Reason.PROBE_FAULTY,
        Reason.PROBE_STALE,
        Reason.LINK_DOWN,
        Reason.DEVICE_OFFLINE,
        Reason.MAX_TEMPERATURE,
        Reason.MAX_ON_TIME,
    }
)
# Off at once, through a minimum on-time: the safety gate's reasons and the cook's own "off" (or the one
# potwatch keeps for them when a damaged history lost it).
FORCED_OFF = SAFETY_REASONS | {Reason.OVERRIDE_OFF, Reason.HISTORY_DAMAGED}
# off because something is wrong (what the page marks in red), not because nothing asks for heat yet:
# a damaged history is one, the cook has to look and hand control back
FAULT_REASONS = (SAFETY_REASONS - {Reason.NO_COOK, Reason.NO_READING}) | {Reason.HISTORY_DAMAGED}

WORDS: dict[Reason, str] = {
    Reason.NO_COOK: "no cook running",
    Reason.NO_READING: "no reading yet",
    Reason.PROBE_LOST: "probe lost",
    Reason.PROBE_FAULTY: "probe faulty",
    Reason.PROBE_STALE: "probe reading stale",
    Reason.LINK_DOWN: "link to the plug down",
    Reason.DEVICE_OFFLINE: "plug offline",
    Reason.MAX_TEMPERATURE: "max temperature",
    Reason.MAX_ON_TIME: "max on-time",
    Reason.OVERRIDE_OFF: "override: off",
    Reason.HISTORY_DAMAGED: "history damaged at start: hand control back to resume",
    Reason.OVERRIDE_ON: "override: on",
    Reason.STEP_HEAT_OFF: "this step keeps the heat off",
    Reason.HEATING_TO_TARGET: "heating to target",
    Reason.TARGET_REACHED: "target reached",
    Reason.HOLDING: "holding",
    Reason.BOILING: "boiling: steady on",
    Reason.MIN_ON_TIME: "waiting out the minimum on-time",
    Reason.MIN_OFF_TIME: "waiting out the minimum off-time",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the heater should be now, on every event.

    ``latched``: off by a safety condition that is over but does not clear by
    itself (the cook hands control back). ``deadman_s``: with ``on``, the driver
    arms the plug's own timer (Tasmota PulseTime, Shelly toggle_after) so that it
    turns off by itself this long after the last decision unless re-armed.
    ``duty`` is the commanded on-fraction over the last ``duty_window_s``.
    """

    at: float
    on: bool
    reason: Reason
    words: str
    duty: float
    deadman_s: float | None
    changed: bool
    latched: bool = False


@dataclass(frozen=True, slots=True)
class StateMismatch:
    """The plug has reported something else than was commanded for longer than the grace: critical."""

    at: float
    commanded_on: bool
    reported: Reported
    for_s: float
    level: str = "critical"


@dataclass(frozen=True, slots=True)
class MismatchCleared:
    at: float


HeatOutput = Decision | StateMismatch | MismatchCleared
