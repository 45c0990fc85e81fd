"""The hold step (the braise): heating → holding ⇄ too_hot / too_cold → done.

Time counts only between two consecutive accepted samples that are both inside
the window, and never across a gap longer than the probe's stale timeout: a
braise timer must not run on readings nobody took.
"""

from __future__ import annotations

from enum import StrEnum

from service.core.events import AlertKind, AlertLevel
from service.core.filters import Track
from service.core.profile import HoldStep
from service.core.steps.base import NO_SIGNALS, ClearAlert, RaiseAlert, Signal, StepView
from service.core.units import c_to_f, format_duration


class HoldStage(StrEnum):
    HEATING = "heating"
    HOLDING = "holding"
    TOO_HOT = "too_hot"
    TOO_COLD = "too_cold"
    DONE = "done"


class HoldMachine:
    __slots__ = ("_base", "_last_inside_t", "_outside_since", "_side", "done", "elapsed_s", "params", "stage")

    def __init__(self, params: HoldStep, offset_c: float = 0.0) -> None:
        self._base = params
        self.params = params.shifted(offset_c)
        self.stage = HoldStage.HEATING
        self.done = False
        self.elapsed_s = 0.0
        self._last_inside_t: float | None = None
        self._outside_since: float | None = None
        self._side: HoldStage | None = None

    def recalibrate(self, offset_c: float, calibrated: bool = True) -> None:
        self.params = self._base.shifted(offset_c)

    def on_sample(self, at: float, value: float, track: Track, max_gap_s: float) -> tuple[Signal, ...]:
        level = track.level
        if level is None or self.done:
            return NO_SIGNALS
        p = self.params
        inside = p.low_c <= level <= p.high_c
        if self.stage is HoldStage.HEATING:
            if not inside or track.prev_level is None or not track.settled:
                return NO_SIGNALS
            self.stage = HoldStage.HOLDING
            self._last_inside_t = at
            return (
                RaiseAlert(
                    AlertKind.HOLD_REACHED,
                    AlertLevel.INFO,
                    f"{p.name}: in the window at {c_to_f(level):.1f} °F; {format_duration(p.duration_s)} to go",
                ),
            )
        if not inside:
            self._last_inside_t = None
            self._side = HoldStage.TOO_HOT if level > p.high_c else HoldStage.TOO_COLD
            if self._outside_since is None:
                self._outside_since = at
            return self._check_grace(at)
        signals: tuple[Signal, ...] = NO_SIGNALS
        if self.stage in (HoldStage.TOO_HOT, HoldStage.TOO_COLD):
            kind = AlertKind.HOLD_TOO_HOT if self.stage is HoldStage.TOO_HOT else AlertKind.HOLD_TOO_COLD
            signals = (ClearAlert(kind),)
            self.stage = HoldStage.HOLDING
        self._outside_since = None
        last = self._last_inside_t
        if last is not None and 0.0 < at - last <= max_gap_s:
            self.elapsed_s += at - last
        self._last_inside_t = at
        if self.elapsed_s >= p.duration_s:
            self.stage = HoldStage.DONE
            self.done = True
            return (
                *signals,
                RaiseAlert(
                    AlertKind.HOLD_DONE,
                    AlertLevel.INFO,
                    f"{p.name}: held {format_duration(p.duration_s)} — done",
                ),
            )
        return signals

    def _check_grace(self, at: float) -> tuple[Signal, ...]:
        since = self._outside_since
        side = self._side
        if since is None or side is None or self.stage is not HoldStage.HOLDING:
            return NO_SIGNALS
        if at - since < self.params.grace_s:
            return NO_SIGNALS
        self.stage = side
        p = self.params
        if side is HoldStage.TOO_HOT:
            kind, words = AlertKind.HOLD_TOO_HOT, f"above {c_to_f(p.high_c):.0f} °F"
        else:
            kind, words = AlertKind.HOLD_TOO_COLD, f"below {c_to_f(p.low_c):.0f} °F"
        return (
            RaiseAlert(
                kind,
                AlertLevel.WARNING,
                f"{p.name}: {words} for {format_duration(at - since)}; the timer is paused",
            ),
        )

    def on_tick(self, at: float) -> tuple[Signal, ...]:
        return self._check_grace(at)

    def next_deadline(self) -> float | None:
        if self._outside_since is None or self.stage is not HoldStage.HOLDING:
            return None
        return self._outside_since + self.params.grace_s

    def view(self, at: float, track: Track | None) -> StepView:
        p = self.params
        remaining = round(max(p.duration_s - self.elapsed_s, 0.0), 1)
        return StepView(
            low_c=p.low_c,
            high_c=p.high_c,
            hold_elapsed_s=round(self.elapsed_s, 1),
            hold_remaining_s=remaining,
            eta_s=remaining if self.stage is HoldStage.HOLDING else None,
        )
