"""The boil step: watch plain water boil and measure where this probe says it boils.

Candy targets are relative to boiling water: at altitude water boils lower,
and a probe may read a couple of degrees off. Once the level has stayed inside
a narrow band for ``steady_s``, its median is this probe's boiling point.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from service.core.filters import Track
from service.core.profile import BoilStep
from service.core.steps.base import NO_SIGNALS, Calibrated, Signal, StepView


class BoilStage(StrEnum):
    HEATING = "heating"
    BOILING = "boiling"
    DONE = "done"


class BoilMachine:
    __slots__ = ("_window", "done", "measured_c", "params", "stage")

    def __init__(self, params: BoilStep, offset_c: float = 0.0) -> None:
        self.params = params
        self.stage = BoilStage.HEATING
        self.done = False
        self.measured_c: float | None = None
        self._window: deque[tuple[float, float, float]] = deque()  # (at, level, raw)

    def recalibrate(self, offset_c: float, calibrated: bool = True) -> None:
        """A boil measures the calibration; it is not shifted by it."""

    def on_sample(self, at: float, value: float, track: Track, max_gap_s: float) -> tuple[Signal, ...]:
        if self.done:
            return NO_SIGNALS
        p = self.params
        level = track.level
        if level is None:
            return NO_SIGNALS
        window = self._window
        if window and at - window[-1][0] > max_gap_s:
            window.clear()  # a gap: the plateau has to be seen again
        window.append((at, level, value))
        while window and at - window[0][0] > p.steady_s:
            window.popleft()
        levels = [lv for _, lv, _ in window]
        lo, hi = min(levels), max(levels)
        # the band is judged on the filtered level; a noisy probe gets a wider one
        band = max(p.band_c, 6.0 * track.sigma_level)
        if level < p.min_c:
            self.stage = BoilStage.HEATING
            return NO_SIGNALS
        if at - window[0][0] < p.steady_s * 0.95 or hi - lo > band:
            self.stage = BoilStage.BOILING if hi - lo <= 2 * band else BoilStage.HEATING
            return NO_SIGNALS
        raws = sorted(v for _, _, v in window)
        self.measured_c = raws[len(raws) // 2]
        self.stage = BoilStage.DONE
        self.done = True
        return (Calibrated(self.measured_c),)

    def on_tick(self, at: float) -> tuple[Signal, ...]:
        return NO_SIGNALS

    def next_deadline(self) -> float | None:
        return None

    def view(self, at: float, track: Track | None) -> StepView:
        return StepView(measured_boil_c=self.measured_c)
