"""The reach step (the caramel): heating → approaching → reached → overshoot.

Everything that decides when the caramel alarm rings lives in this file.

``target_reached`` needs two consecutive levels at the target, less a margin
``m``. The level is already a median (see filters.py), so one wild value
cannot make it; the second level makes a lone value after a gap or a dropout
unable to either, and costs at most one sample of delay. That sample is 30 s at
a slow Wi-Fi gateway (5 °F on the final climb), so one level is enough when the
time-to-target fitted before it had already put the crossing in the past: the
climb itself vouches for the value. ``m`` is three
standard errors of the level, so a pot that is truly at the target is not
held back by noise, capped so that the pot can never be more than 1 °F below
the target when it fires: m ≤ 1 °F − 3σ, and never more than 0.5 °F.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from service.core.estimate import EtaEstimator
from service.core.events import AlertKind, AlertLevel
from service.core.filters import Track
from service.core.profile import ReachStep
from service.core.steps.base import NO_SIGNALS, ClearAlert, RaiseAlert, Signal
from service.core.units import c_to_f

FALSE_ALARM_BAND_C = 1.0 / 1.8
MARGIN_MIN_C = 0.1 / 1.8
MARGIN_MAX_C = 0.5 / 1.8
RETREAT_HYSTERESIS_C = 3.0 / 1.8


class ReachStage(StrEnum):
    HEATING = "heating"
    APPROACHING = "approaching"
    REACHED = "reached"
    OVERSHOOT = "overshoot"


def fire_margin(sigma_level: float) -> float:
    three = 3.0 * sigma_level
    return max(0.0, min(max(three, MARGIN_MIN_C), MARGIN_MAX_C, FALSE_ALARM_BAND_C - three))


class ReachMachine:
    __slots__ = ("_base", "_eta", "_eta_at", "_offset_c", "done", "estimator", "params", "stage")

    def __init__(self, params: ReachStep, offset_c: float = 0.0) -> None:
        self._base = params
        self._offset_c = offset_c
        self.params = params.shifted(offset_c)
        self.stage = ReachStage.HEATING
        self.done = False
        self.estimator = EtaEstimator(syrup=params.uses_syrup_model(0.0), offset_c=offset_c)
        self._eta: tuple[float, float] | None = None
        self._eta_at = 0.0

    def recalibrate(self, offset_c: float) -> None:
        self._offset_c = offset_c
        self.params = self._base.shifted(offset_c)
        self.estimator.offset_c = offset_c
        self.estimator.reset()
        self._eta = None

    def on_sample(self, at: float, value: float, track: Track, max_gap_s: float) -> tuple[Signal, ...]:
        p = self.params
        self.estimator.add(at, value)
        stage = self.stage
        if stage is ReachStage.OVERSHOOT:
            self._eta = None
            return NO_SIGNALS
        # Did the fit made at the previous sample put the crossing before now?
        previous = self._eta
        foreseen = previous is not None and at - self._eta_at >= previous[0]
        self._eta = self.estimator.eta(p.target_c, at) if stage is not ReachStage.REACHED else None
        self._eta_at = at
        level = track.level
        prev = track.prev_level
        if level is None or not track.settled:
            return NO_SIGNALS
        m = fire_margin(track.sigma_level)
        if prev is not None:
            over = p.overshoot_at_c - m
            if level >= over and prev >= over:
                return self._to_overshoot(level)
            fire = p.target_c - m
            # Two levels at the target; or one, when the climb so far said the pot
            # would be there by now (a slow gateway's or a dropout's first sample past it).
            if stage is not ReachStage.REACHED and level >= fire and (prev >= fire or foreseen):
                return self._to_reached(level)
        if stage is ReachStage.HEATING:
            if self._approaching(level, prev):
                self.stage = ReachStage.APPROACHING
                eta = self._eta
                when = f"about {round(eta[0])} s" if eta is not None else "soon"
                return (
                    RaiseAlert(
                        AlertKind.TARGET_APPROACHING,
                        AlertLevel.WARNING,
                        f"{p.name}: {c_to_f(level):.1f} °F, {c_to_f(p.target_c):.0f} °F in {when}",
                    ),
                )
        elif stage is ReachStage.APPROACHING and self._retreated(level):
            # pulled off the heat: the warning no longer holds
            self.stage = ReachStage.HEATING
            return (ClearAlert(AlertKind.TARGET_APPROACHING),)
        return NO_SIGNALS

    def _approaching(self, level: float, prev: float | None) -> bool:
        p = self.params
        near = p.target_c - p.approach_margin_c
        if level >= near and prev is not None and prev >= near:
            return True
        eta = self._eta
        return eta is not None and eta[0] <= p.approach_lead_s and level >= p.target_c - p.approach_floor_c

    def _retreated(self, level: float) -> bool:
        p = self.params
        if level >= p.target_c - p.approach_margin_c - RETREAT_HYSTERESIS_C:
            return False
        eta = self._eta
        return eta is None or eta[0] > 2.0 * p.approach_lead_s

    def _to_reached(self, level: float) -> tuple[Signal, ...]:
        self.stage = ReachStage.REACHED
        self._eta = None
        p = self.params
        return (
            ClearAlert(AlertKind.TARGET_APPROACHING),
            RaiseAlert(
                AlertKind.TARGET_REACHED,
                AlertLevel.CRITICAL,
                f"{p.name}: {c_to_f(p.target_c):.0f} °F reached ({c_to_f(level):.1f} °F) — take it off the heat",
            ),
        )

    def _to_overshoot(self, level: float) -> tuple[Signal, ...]:
        signals: tuple[Signal, ...] = ()
        if self.stage is not ReachStage.REACHED:
            signals = self._to_reached(level)
        self.stage = ReachStage.OVERSHOOT
        p = self.params
        return (
            *signals,
            RaiseAlert(
                AlertKind.TARGET_OVERSHOOT,
                AlertLevel.CRITICAL,
                f"{p.name}: past {c_to_f(p.overshoot_at_c):.0f} °F ({c_to_f(level):.1f} °F) — overshoot",
            ),
        )

    def on_tick(self, at: float) -> tuple[Signal, ...]:
        return NO_SIGNALS

    def next_deadline(self) -> float | None:
        return None

    def view(self, at: float, track: Track | None) -> dict[str, Any]:
        p = self.params
        level = track.level if track is not None else None
        out: dict[str, Any] = {
            "target_c": p.target_c,
            "overshoot_c": p.overshoot_at_c,
            "eta_s": None,
            "eta_sigma_s": None,
        }
        eta = self._eta
        if eta is not None and track is not None:
            # the fit was made at the last sample; time has passed since
            left = max(eta[0] - (at - track.last_t), 0.0)
            out["eta_s"] = round(left, 1)
            out["eta_sigma_s"] = round(eta[1], 1)
        stages = p.sugar_stages
        if stages and level is not None:
            current = None
            upcoming = None
            for stage in stages:
                if stage.from_c <= level:
                    current = stage
                elif upcoming is None:
                    upcoming = stage
            out["sugar_stage"] = current.name if current else None
            out["next_sugar_stage"] = upcoming.name if upcoming else None
            nxt = self.estimator.eta(upcoming.from_c, at) if upcoming else None
            out["next_sugar_stage_eta_s"] = round(nxt[0], 1) if nxt else None
        return out
