"""What a step machine tells its cook: raise an alert, clear one, a measured boil."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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

    def view(self, at: float, track: Track | None) -> dict[str, Any]: ...
