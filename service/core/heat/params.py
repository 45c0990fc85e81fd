"""The heater's settings, checked once: the config layer builds these, the controller trusts them.

The safety limits have no "off": a maximum on-time and a dead-man period must
be finite and positive, so a config cannot switch them off by accident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum


class HoldLaw(StrEnum):
    """How a hold asks for heat between the minimum on and off times.

    ``hysteresis`` (the default, for a plug): on below one level, off above a
    higher one. It switches only when it must, needs no tuning and cannot wind
    up; with a 30 s minimum it holds a braise well inside a 20 °F window, since
    a heavy pot moves slowly. ``pid``: a PID's output as the on-fraction of a
    fixed cycle (time-proportioning). It holds closer to the middle under a
    steady load, but needs gains for the pot and switches every cycle: it suits
    an SSR or a GPIO relay with short minimum times better than a plug's relay.
    """

    HYSTERESIS = "hysteresis"
    PID = "pid"


NOT_NEGATIVE = ("min_on_s", "min_off_s", "lead_s", "max_lead_c", "carryover_c", "kp_per_c", "ki_per_c_s", "kd_s_per_c")


@dataclass(frozen=True, slots=True)
class HeatParams:
    # relay care: never switched sooner than these after the last switch, but by a forced off
    min_on_s: float = 30.0
    min_off_s: float = 30.0
    # safety, not configurable off
    max_on_s: float = 90 * 60.0  # continuous; a braise from cold on 0.5 kW takes ~50 min
    stale_after_s: float = 15.0  # no level for this long is a stale probe even if the hub has not said so
    deadman_s: float = 60.0  # the plug's own off-timer, re-armed by every decision while on
    max_c: float | None = None  # the heater's own ceiling; the step's default applies below it
    mismatch_grace_s: float = 10.0  # a plug answers within a second or two; beyond this it ignored us
    duty_window_s: float = 600.0
    # anticipation: act on level + rate × lead_s (the probe's lag plus the heater's own)
    lead_s: float = 0.0
    max_lead_c: float = 10.0 / 1.8  # never anticipate more than 10 °F
    rate_span_s: float = 10.0  # the rate for it: the level's change over this span
    carryover_c: float = 0.0  # reach: off this far below the target (°C difference)
    hold_law: HoldLaw = HoldLaw.HYSTERESIS
    # hysteresis: on below, off above, as fractions of the hold window from its bottom
    on_below: float = 0.35
    off_above: float = 0.5
    # pid: output per °C below the set point (the window's middle), per °C·s, per °C/s
    kp_per_c: float = 0.15
    ki_per_c_s: float = 0.15 / 900.0
    kd_s_per_c: float = 0.0
    cycle_s: float = 240.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float | int) and not isinstance(value, bool) and not math.isfinite(value):
                raise ValueError(f"heater setting {f.name} must be a finite number, not {value}")
        for name in NOT_NEGATIVE:
            if getattr(self, name) < 0.0:
                raise ValueError(f"heater setting {name} must be >= 0, not {getattr(self, name)}")
        for name in ("max_on_s", "stale_after_s", "deadman_s", "mismatch_grace_s", "duty_window_s", "rate_span_s"):
            if not getattr(self, name) > 0.0:
                value = getattr(self, name)
                raise ValueError(f"heater setting {name} must be > 0 (it cannot be turned off), not {value}")
        if not 0.0 <= self.on_below < self.off_above <= 1.0:
            raise ValueError(f"need 0 <= on_below < off_above <= 1, got {self.on_below}, {self.off_above}")
        if self.max_on_s <= self.min_on_s:
            raise ValueError(f"max_on_s ({self.max_on_s}) must be longer than min_on_s ({self.min_on_s})")
        if self.cycle_s < self.min_on_s + self.min_off_s:
            raise ValueError(f"cycle_s ({self.cycle_s}) must hold one minimum on and one minimum off time")
        if self.hold_law not in tuple(HoldLaw):
            raise ValueError(f"hold_law must be one of {', '.join(HoldLaw)}, not {self.hold_law!r}")
