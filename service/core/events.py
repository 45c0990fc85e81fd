"""Everything that goes into the tracker and everything that comes out.

Every input carries ``at``: seconds on one monotonic time line (the live
service's clock, or a trace's ``t`` in replay). The tracker never asks what
time it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.core.profile import Profile


class AlertKind(StrEnum):
    TARGET_APPROACHING = "target_approaching"
    TARGET_REACHED = "target_reached"
    TARGET_OVERSHOOT = "target_overshoot"
    HOLD_REACHED = "hold_reached"
    HOLD_TOO_HOT = "hold_too_hot"
    HOLD_TOO_COLD = "hold_too_cold"
    HOLD_DONE = "hold_done"
    PROBE_LOST = "probe_lost"
    PROBE_FAULT = "probe_fault"
    PROBE_RESTORED = "probe_restored"
    HEATER_MISMATCH = "heater_mismatch"


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# ---- inputs -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one probe channel; ``celsius`` None is a fault reading."""

    at: float
    probe: str
    channel: str
    celsius: float | None
    fault: str | None = None
    # False for a value known to be old (an MQTT retained message): shown, but
    # it neither proves the probe alive nor moves a step.
    live: bool = True


@dataclass(frozen=True, slots=True)
class ProbeGone:
    """The driver knows the device is gone (unplugged, gateway offline)."""

    at: float
    probe: str
    reason: str


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes with no reading: stale probes and grace periods expire."""

    at: float


@dataclass(frozen=True, slots=True)
class StartCook:
    at: float
    profile: Profile
    probe: str
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class AdvanceStep:
    at: float
    cook_id: str


@dataclass(frozen=True, slots=True)
class StopCook:
    at: float
    cook_id: str


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Acknowledge one alert by id, or every active one with ``"all"``."""

    at: float
    alert_id: str


@dataclass(frozen=True, slots=True)
class MarkPushed:
    """A push service accepted a message of this alert (``channel``: the first that did).

    Not a cook's command: the alarm says so once per alert, so that the mark is
    recorded and replayed with everything else, and a warning raised but not yet
    pushed when the power went is pushed after the restart, one already pushed not.
    """

    at: float
    alert_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class SetCalibration:
    """Where this probe says water boils; None forgets it (back to 100 °C)."""

    at: float
    probe: str
    boil_c: float | None


@dataclass(frozen=True, slots=True)
class SetPressure:
    """The kitchen's air pressure (station pressure, hPa) from a barometer; None: no reading any more.

    Water boils where its vapour pressure meets the air's, so this moves every
    target of every probe that has no measured boiling point.
    """

    at: float
    hpa: float | None


@dataclass(frozen=True, slots=True)
class HeaterMismatch:
    """A heater's plug has reported other than it was commanded past the grace (docs/heat.md): critical.

    An input, not the controller's own output, so that the alert goes through the
    one alert pipeline (page, MQTT, push, history) and is replayed with the cook.
    """

    at: float
    heater: str
    probe: str
    message: str


@dataclass(frozen=True, slots=True)
class HeaterAgrees:
    """The plug reports what it was commanded again: its mismatch alert is cleared."""

    at: float
    heater: str


Event = (
    Sample
    | ProbeGone
    | Tick
    | StartCook
    | AdvanceStep
    | StopCook
    | Acknowledge
    | MarkPushed
    | SetCalibration
    | SetPressure
    | HeaterMismatch
    | HeaterAgrees
)


# ---- outputs ------------------------------------------------------------


@dataclass(slots=True)
class Alert:
    id: str
    kind: AlertKind
    level: AlertLevel
    at: float
    probe: str
    message: str
    cook_id: str | None = None
    step: str | None = None
    celsius: float | None = None
    acked: bool = False
    acked_at: float | None = None
    # when a push service first accepted a message of it (None: never, or no push configured)
    pushed_at: float | None = None
    # A warning whose condition has cleared (probe back, pot back in its
    # window) stops being active; a critical alert stays until acknowledged.
    cleared: bool = False

    @property
    def active(self) -> bool:
        if self.acked:
            return False
        if self.level is AlertLevel.CRITICAL:
            return True
        return self.level is AlertLevel.WARNING and not self.cleared


@dataclass(frozen=True, slots=True)
class AlertRaised:
    at: float
    alert: Alert


@dataclass(frozen=True, slots=True)
class AlertAcked:
    at: float
    alert_id: str


@dataclass(frozen=True, slots=True)
class AlertPushed:
    """The first push of this alert was accepted (by ``channel``): the history records it."""

    at: float
    alert_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class AlertCleared:
    """A warning's condition is over (probe back, pot back in its window): it stops ringing."""

    at: float
    alert_id: str


@dataclass(frozen=True, slots=True)
class StageChanged:
    at: float
    cook_id: str
    step: str
    stage: str
    previous: str | None


@dataclass(frozen=True, slots=True)
class CookStarted:
    at: float
    cook_id: str
    profile: str
    probe: str


@dataclass(frozen=True, slots=True)
class StepStarted:
    at: float
    cook_id: str
    index: int
    step: str
    kind: str


@dataclass(frozen=True, slots=True)
class CookEnded:
    at: float
    cook_id: str
    outcome: str  # "done" | "stopped"


@dataclass(frozen=True, slots=True)
class ProbeStateChanged:
    at: float
    probe: str
    state: str
    previous: str


@dataclass(frozen=True, slots=True)
class CalibrationMeasured:
    at: float
    probe: str
    boil_c: float


@dataclass(frozen=True, slots=True)
class CommandRefused:
    """A command that makes no sense now (unknown id, nothing to advance)."""

    at: float
    command: str
    reason: str
    missing: bool  # True: the thing named does not exist (404), False: not now (409)


Output = (
    AlertRaised
    | AlertAcked
    | AlertPushed
    | AlertCleared
    | StageChanged
    | CookStarted
    | StepStarted
    | CookEnded
    | ProbeStateChanged
    | CalibrationMeasured
    | CommandRefused
)
