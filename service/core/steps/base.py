"""What a step machine tells its cook: raise an alert, clear one, a measured boil."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from service.core.events import AlertKind, AlertLevel
from service.core.filters import Track


@dataclass(frozen=True, slots=True)
class RaiseAlert:
    kind: AlertKind
    level: AlertLevel
    message: str


@dataclass(frozen=True, slots=True)
class ClearAlert:
    """The condition behind an alert of this kind is over (a warning stops ringing)."""

    kind: AlertKind


@dataclass(frozen=True, slots=True)
class Calibrated:
    boil_c: float


Signal = RaiseAlert | ClearAlert | Calibrated


@dataclass(frozen=True, slots=True)
class StepView:
    """What a step shows of itself at one moment, in °C and seconds; None where it has no such thing.

    Typed, so that a renamed field breaks mypy rather than a key the page, MQTT
    or history silently stops getting; the units and the rounding for the cook
    are the views' business (service/runtime/views.py), not the core's.
    """

    target_c: float | None = None
    overshoot_c: float | None = None
    eta_s: float | None = None
    eta_sigma_s: float | None = None
    # reach: the probe's lag, the pot's own level behind it, the syrup model's state
    lag_s: float | None = None
    pot_c: float | None = None
    on_boil: bool | None = None
    eta_water_boils_c: float | None = None
    sugar_stage: str | None = None
    next_sugar_stage: str | None = None
    next_sugar_stage_eta_s: float | None = None
    # reach: what ends the step ("cooled", "ack", "manual"), and whether the pot is off the heat
    # (past the alarm and falling): the page turns "take it off" into "cooling" on it
    step_end: str | None = None
    cooling: bool | None = None
    # hold: the window and the time in it
    low_c: float | None = None
    high_c: float | None = None
    hold_elapsed_s: float | None = None
    hold_remaining_s: float | None = None
    # boil: the water's boil as measured
    measured_boil_c: float | None = None


NO_SIGNALS: tuple[Signal, ...] = ()


class StepMachine(Protocol):
    @property
    def stage(self) -> str: ...

    @property
    def done(self) -> bool: ...

    def on_sample(self, at: float, value: float, track: Track, max_gap_s: float) -> tuple[Signal, ...]:
        """An accepted sample moved the track's level."""
        ...

    def on_tick(self, at: float) -> tuple[Signal, ...]: ...

    def next_deadline(self) -> float | None: ...

    def recalibrate(self, offset_c: float, calibrated: bool = True) -> None: ...

    def view(self, at: float, track: Track | None) -> StepView: ...
