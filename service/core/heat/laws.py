"""What each step kind wants of the heat, before the minimum times and the safety gate have their say.

All act on the *anticipated* level, ``level + rate × lead_s``: a probe of lag τ
reads a climbing pot rate·τ low, and a hotplate keeps heating after its power
goes, so acting on the bare reading would overshoot by both (a thermostat's
"heat anticipator" does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from service.core.heat.events import HeatStep, Reason, StepKind
from service.core.heat.params import HeatParams, HoldLaw
from service.core.heat.safety import Facts


@dataclass(frozen=True, slots=True)
class LawState:
    """One step's memory; a new step starts from a fresh one."""

    reached: bool = False  # reach: the target was reached, the heat stays off for this step
    integral: float = 0.0  # pid: the integral term, already in output units (0…1)
    last_error: float | None = None
    last_at: float | None = None
    cycle_start: float | None = None  # pid: time-proportioning cycle
    cycle_on_s: float = 0.0


def anticipated(level_c: float, rate_c_per_s: float, params: HeatParams) -> float:
    """Where the pot is (or the heat will have taken it): never more than ``max_lead_c`` ahead.

    The cap is for the turns a rate cannot see coming: a pot climbing fast towards the
    boil stalls there, and a rate measured before the stall would call a caramel's
    target 20 °F early and end its heat for good.
    """
    return level_c + min(rate_c_per_s * params.lead_s, params.max_lead_c)


def want(
    step: HeatStep, law: LawState, facts: Facts, on: bool, at: float, params: HeatParams
) -> tuple[bool, Reason, LawState]:
    """The heat this step asks for now, why, and the step's memory after."""
    assert facts.level_c is not None
    level_c = facts.level_c
    ahead = anticipated(level_c, facts.rate, params)
    if step.kind is StepKind.BOIL:
        return True, Reason.BOILING, law
    if step.kind is StepKind.REACH:
        assert step.target_c is not None
        line = step.target_c - params.carryover_c
        # the line's anticipation is held back while a syrup still heats onto its boil (ProbeLevel)
        if law.reached or level_c >= line or (facts.anticipate and ahead >= line):
            return False, Reason.TARGET_REACHED, replace(law, reached=True)
        return True, Reason.HEATING_TO_TARGET, law
    assert step.low_c is not None and step.high_c is not None
    if params.hold_law is HoldLaw.PID:
        return _pid(step.low_c, step.high_c, law, ahead, at, params)
    width = step.high_c - step.low_c
    if ahead < step.low_c + params.on_below * width:
        return True, Reason.HOLDING, law
    if ahead > step.low_c + params.off_above * width:
        return False, Reason.HOLDING, law
    return on, Reason.HOLDING, law  # inside the band: keep what it is


def _pid(
    low: float, high: float, law: LawState, ahead: float, at: float, p: HeatParams
) -> tuple[bool, Reason, LawState]:
    error = 0.5 * (low + high) - ahead
    dt = 0.0 if law.last_at is None else max(at - law.last_at, 0.0)
    derivative = 0.0 if law.last_error is None or dt <= 0.0 else (error - law.last_error) / dt
    integral = law.integral + p.ki_per_c_s * error * dt
    output = p.kp_per_c * error + integral + p.kd_s_per_c * derivative
    if not 0.0 <= output <= 1.0:
        integral = law.integral  # saturated: integrate no further (no wind-up during the heat-up)
        output = min(max(output, 0.0), 1.0)
    law = replace(law, integral=min(max(integral, -1.0), 1.0), last_error=error, last_at=at)
    if law.cycle_start is None or at - law.cycle_start >= p.cycle_s:
        law = replace(law, cycle_start=at)
    # the on-part is re-judged at every level, not fixed at the cycle's start: a pot coming up
    # through the window at full heat must not be held on for the rest of a 4-minute cycle
    on_s = output * p.cycle_s
    if on_s < p.min_on_s:
        on_s = 0.0  # too short a pulse for the relay: skip it
    elif p.cycle_s - on_s < p.min_off_s:
        on_s = p.cycle_s  # too short a rest: stay on through the cycle
    law = replace(law, cycle_on_s=on_s)
    assert law.cycle_start is not None
    return at - law.cycle_start < on_s, Reason.HOLDING, law
