"""Is the probe alive, faulty or gone? One small state machine per probe.

waiting → ok ⇄ fault, ok/fault → lost → ok. A lone fault value is not yet a
fault (a MAX31855 glitches now and then): the second fault reading in a row,
or three seconds with nothing but faults, is. Staleness defaults to three
times the probe's own observed interval, at least 10 s, so a Wi-Fi gateway
reporting every 30 s is not declared lost between two reports.
"""

from __future__ import annotations

from enum import StrEnum

from service.core.units import pressure_at_altitude_hpa, water_boils_at_c

STALE_MIN_S = 10.0
STALE_INTERVALS = 3.0
# Until two readings have shown the probe's interval, assume a slow gateway.
STALE_UNKNOWN_S = 90.0
FAULT_CONFIRM_S = 3.0
FAULTS_TO_CONFIRM = 2


class ProbeState(StrEnum):
    WAITING = "waiting"
    OK = "ok"
    LOST = "lost"
    FAULT = "fault"


class CalibrationSource(StrEnum):
    """Where a probe's idea of boiling water comes from, best first."""

    MEASURED = "measured"  # a boil test, or the config's ``boil``: includes the probe's own error
    PRESSURE = "pressure"  # a barometer in the kitchen: today's weather
    ALTITUDE = "altitude"  # the standard atmosphere at the configured altitude
    NONE = "none"  # water boils at 100 °C


class ProbeHealth:
    __slots__ = (
        "altitude_m",
        "boil_c",
        "celsius",
        "channel",
        "fault_count",
        "fault_reason",
        "fault_since",
        "id",
        "interval",
        "lag_s",
        "last_at",
        "last_live_at",
        "lost_reason",
        "pressure_hpa",
        "stale_after",
        "state",
        "trouble_alert",
    )

    def __init__(
        self,
        probe_id: str,
        stale_after: float | None = None,
        boil_c: float | None = None,
        *,
        lag_s: float | None = None,
        altitude_m: float | None = None,
    ) -> None:
        self.id = probe_id
        self.stale_after = stale_after  # configured; None = from the observed interval
        self.boil_c = boil_c  # measured or configured: where this probe says water boils
        self.lag_s = lag_s  # the probe's time constant in liquid; None = read it as it is
        self.altitude_m = altitude_m
        self.pressure_hpa: float | None = None  # the kitchen's barometer, when there is one
        self.state = ProbeState.WAITING
        self.celsius: float | None = None
        self.channel = ""
        self.last_at: float | None = None  # any reading, live or retained
        self.last_live_at: float | None = None
        self.interval: float | None = None
        self.fault_count = 0
        self.fault_since: float | None = None
        self.fault_reason: str | None = None
        self.lost_reason: str | None = None
        self.trouble_alert: str | None = None  # id of the lost/fault alert to clear on restore

    @property
    def calibration(self) -> CalibrationSource:
        if self.boil_c is not None:
            return CalibrationSource.MEASURED
        if self.pressure_hpa is not None:
            return CalibrationSource.PRESSURE
        if self.altitude_m is not None:
            return CalibrationSource.ALTITUDE
        return CalibrationSource.NONE

    @property
    def water_boils_c(self) -> float:
        """Where water boils for this probe today, by the best source there is."""
        if self.boil_c is not None:
            return self.boil_c
        if self.pressure_hpa is not None:
            return water_boils_at_c(self.pressure_hpa)
        if self.altitude_m is not None:
            return water_boils_at_c(pressure_at_altitude_hpa(self.altitude_m))
        return 100.0

    @property
    def offset_c(self) -> float:
        """How far this probe's boiling water is from 100 °C: every target shifts by it."""
        return self.water_boils_c - 100.0

    @property
    def stale_timeout(self) -> float:
        if self.stale_after is not None:
            return self.stale_after
        if self.interval is None:
            return STALE_UNKNOWN_S
        return max(STALE_MIN_S, STALE_INTERVALS * self.interval)

    def heard(self, at: float) -> None:
        """A live reading (good or fault) arrived: the device is talking."""
        last = self.last_live_at
        if last is not None and at > last:
            dt = at - last
            interval = self.interval
            if interval is None:
                self.interval = dt
            else:
                # a long gap is an outage, not a new interval
                self.interval = 0.8 * interval + 0.2 * min(dt, 3.0 * interval)
        self.last_live_at = at

    def stale_deadline(self) -> float | None:
        if self.state is ProbeState.LOST or self.last_live_at is None:
            return None
        return self.last_live_at + self.stale_timeout

    def fault_deadline(self) -> float | None:
        # a lost probe's faults are confirmed by count when it talks again, not by time
        if self.fault_since is None or self.state in (ProbeState.FAULT, ProbeState.LOST):
            return None
        return self.fault_since + FAULT_CONFIRM_S
