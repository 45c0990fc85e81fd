"""Handcrafted traces and a runner that feeds them through a Kitchen like replay does."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertRaised, Output, Sample, StageChanged, StartCook, Tick
from service.core.profile import Profile, ReachStep
from service.core.units import c_to_f, f_to_c

# (t seconds, °F or None for a fault)
Trace = list[tuple[float, float | None]]

CARAMEL = Profile("caramel", "caramel", (ReachStep("caramel", f_to_c(225.0), overshoot_c=f_to_c(230.0)),))


@dataclass
class Run:
    kitchen: Kitchen
    outputs: list[Output] = field(default_factory=list)

    def alerts(self, kind: str | None = None) -> list[AlertRaised]:
        return [o for o in self.outputs if isinstance(o, AlertRaised) and (kind is None or o.alert.kind == kind)]

    def first_alert_at(self, kind: str) -> float | None:
        found = self.alerts(kind)
        return found[0].at if found else None

    def stages(self) -> list[str]:
        return [o.stage for o in self.outputs if isinstance(o, StageChanged)]


def run(
    trace: Iterable[tuple[float, float | None]],
    profile: Profile = CARAMEL,
    *,
    stale_after: float | None = None,
    boil_c: float | None = None,
    probe: str = "pot",
    lag_s: float | None = None,
    altitude_m: float | None = None,
    after_sample: Callable[[Kitchen, float, list[Output]], None] | None = None,
) -> Run:
    """``after_sample``: called with each sample's time and outputs, as a cook at the stove would react
    (advance a step, look at the machine)."""
    kitchen = Kitchen([ProbeSetup(probe, stale_after, boil_c, lag_s=lag_s, altitude_m=altitude_m)])
    result = Run(kitchen)
    started = False
    for t, f in trace:
        if not started:
            result.outputs += kitchen.handle(StartCook(t, profile, probe))
            started = True
        deadline = kitchen.next_deadline()
        while deadline is not None and deadline < t:
            result.outputs += kitchen.handle(Tick(deadline))
            after = kitchen.next_deadline()
            if after is not None and after <= deadline:
                break
            deadline = after
        celsius = None if f is None else f_to_c(f)
        outputs = kitchen.handle(Sample(t, probe, "", celsius, None if f is not None else "test fault"))
        result.outputs += outputs
        if after_sample is not None:
            after_sample(kitchen, t, outputs)
    return result


def lagged(truth: Trace, tau_s: float) -> Trace:
    """What a first-order probe of time constant ``tau_s`` reads in a pot doing ``truth``.

    Solved exactly for an input that is linear between samples, so a ramp of
    rate r settles exactly r·τ behind: the lag error on the final climb.
    """
    out: Trace = []
    y: float | None = None
    prev: tuple[float, float] | None = None
    for t, x in truth:
        if x is None:
            out.append((t, None))
            continue
        if y is None or prev is None or tau_s <= 0.0:
            y = x
        else:
            t0, x0 = prev
            dt = t - t0
            decay = math.exp(-dt / tau_s)
            ramp_lag = (x - x0) / dt * tau_s if dt > 0 else 0.0
            y = x - ramp_lag + (y - x0 + ramp_lag) * decay
        prev = (t, x)
        out.append((t, y))
    return out


def ramp(start_f: float, rate_f_per_min: float, seconds: float, interval: float = 1.0, t0: float = 0.0) -> Trace:
    n = int(seconds / interval)
    return [(t0 + i * interval, start_f + rate_f_per_min * i * interval / 60.0) for i in range(n + 1)]


def syrup_curve(
    *, rate_at_target: float = 5.0, seconds: float = 900.0, interval: float = 1.0, target_f: float = 225.0
) -> tuple[Trace, float]:
    """An accelerating climb like real syrup; returns the trace and when it crosses target.

    Made from the Norrish water activity of sucrose (independent of the
    tracker's lookup table) with water leaving at a constant rate.
    """
    sugar = 100.0

    def boil_c(water: float) -> float:
        ns, nw = sugar / 342.3, water / 18.015
        xs = ns / (ns + nw)
        aw = (1.0 - xs) * math.exp(-6.47 * xs * xs)
        return 1.0 / (1.0 / 373.15 + 8.314 / 40700.0 * math.log(aw)) - 273.15

    # find the water at target, then pick the evaporation rate that gives rate_at_target
    lo, hi = 1.0, 400.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if c_to_f(boil_c(mid)) > target_f:
            lo = mid
        else:
            hi = mid
    w_target = lo
    d = 0.01
    dTdw = (c_to_f(boil_c(w_target - d)) - c_to_f(boil_c(w_target + d))) / (2 * d)
    evap = rate_at_target / 60.0 / dTdw  # grams per second
    t_cross = seconds * 0.8
    trace: Trace = []
    n = int(seconds / interval)
    for i in range(n + 1):
        t = i * interval
        water = w_target + evap * (t_cross - t)
        trace.append((t, c_to_f(boil_c(max(water, 0.5)))))
    return trace, t_cross
