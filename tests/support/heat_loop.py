"""A closed loop for the heat controller: the simulated pot, a plug that obeys, a lagging probe.

The pot is drivers.simulated's energy balance (a braise that is topped up, or a
syrup whose boiling point climbs as its water leaves); the heater puts
``power_w`` into it while the plug is on, through an optional first-order
element (a hotplate keeps glowing after its power goes; induction does not);
the probe is a first-order lag with gaussian noise, read once a second. The
controller sees what the service would: the tracker's filtered level and rate
(service.core.filters.Track), for a reach whether the syrup is on its boil yet
(service.core.steps.reach.ReachMachine, as service/runtime/heaters.py passes
it), the plug's report, ticks.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

from drivers.simulated import (
    BRAISE_LIQUID_G,
    BRAISE_LOSS_W_PER_K,
    BRAISE_MEAT_G,
    BRAISE_POT_J_PER_K,
    CP_PORK,
    Pot,
)
from service.core.filters import Track
from service.core.heat.controller import HeatState, step
from service.core.heat.events import (
    ActuatorReport,
    Decision,
    HeatEvent,
    HeatStep,
    ProbeLevel,
    Reason,
    Reported,
    StepChanged,
    StepKind,
)
from service.core.heat.params import HeatParams
from service.core.profile import ReachStep
from service.core.steps.reach import ReachMachine
from service.core.units import c_to_f, f_to_c

AMBIENT_C = 21.0
PHYS_DT_S = 0.25
BRAISE_LOW_F, BRAISE_HIGH_F = 185.0, 205.0
CARAMEL_F = 225.0
BRAISE_HOLD_S = 7200.0
# What the controller's level trails the probe by, besides the probe's own lag: one sample
# interval and the tracker's median of seven samples. The lead is the probe's lag plus this.
MEASURING_LAG_S = 3.0


def lead_for(tau_s: float) -> float:
    return tau_s + MEASURING_LAG_S


@dataclass
class Loop:
    """One run's record: the pot's truth each second and every decision."""

    truth: list[tuple[float, float]] = field(default_factory=list)  # (t, pot °C)
    decisions: list[Decision] = field(default_factory=list)
    state: HeatState = field(default_factory=HeatState)

    def switches(self) -> list[Decision]:
        return [d for d in self.decisions if d.changed]


def braise_pot() -> Pot:
    return Pot(
        water_g=BRAISE_LIQUID_G,
        sugar_g=0.0,
        fixed_j_per_k=BRAISE_POT_J_PER_K + BRAISE_MEAT_G * CP_PORK,
        loss_w_per_k=BRAISE_LOSS_W_PER_K,
        temp_c=AMBIENT_C,
        water_boil_c=100.0,
        topped_up=True,
    )


def caramel_pot(start_c: float = AMBIENT_C, sugar_g: float = 150.0, water_g: float = 450.0) -> Pot:
    """drivers.simulated's default caramel: 150 g of sugar in 450 g of wine, a 1 kg steel saucepan."""
    return Pot(
        water_g=water_g,
        sugar_g=sugar_g,
        fixed_j_per_k=450.0,
        loss_w_per_k=1.5,
        temp_c=start_c,
        water_boil_c=100.0,
        topped_up=False,
    )


def run_loop(
    pot: Pot,
    heat: HeatStep,
    params: HeatParams,
    *,
    power_w: float,
    tau_s: float,
    seconds: float,
    seed: int = 1,
    noise_c: float = 0.05,
    element_tau_s: float = 0.0,
) -> Loop:
    """Run ``seconds`` of the loop; a reach ends sooner, once the pot has landed and cools."""
    rng = random.Random(f"heat-loop/{seed}")
    state = HeatState()
    record = Loop()
    track = Track(tau_s)
    # the tracker's step, as the kitchen runs it beside the heater: whether a syrup is on its boil
    machine = (
        ReachMachine(ReachStep(heat.key, heat.target_c), lag_s=tau_s)
        if heat.kind is StepKind.REACH and heat.target_c is not None
        else None
    )
    probe_c = env_c = pot.temp_c
    element_w = 0.0
    on = False
    peak_c = pot.temp_c

    def feed(event: HeatEvent) -> None:
        nonlocal state, on
        state, outputs = step(state, event, params)
        for out in outputs:
            if isinstance(out, Decision):
                record.decisions.append(out)
                on = out.on

    feed(ActuatorReport(0.0, Reported.OFF, link_up=True, online=True))
    feed(StepChanged(0.0, heat))
    steps_per_s = round(1.0 / PHYS_DT_S)
    decay = math.exp(-PHYS_DT_S / tau_s)
    element_decay = math.exp(-PHYS_DT_S / element_tau_s) if element_tau_s > 0.0 else 0.0
    for second in range(1, int(seconds) + 1):
        for _ in range(steps_per_s):
            wanted = power_w if on else 0.0
            element_w = wanted + (element_w - wanted) * element_decay
            pot.advance(element_w, AMBIENT_C, PHYS_DT_S)
            env0, env_c = env_c, pot.temp_c
            ramp_lag = (env_c - env0) / PHYS_DT_S * tau_s
            probe_c = env_c - ramp_lag + (probe_c - env0 + ramp_lag) * decay
        t = float(second)
        record.truth.append((t, pot.temp_c))
        peak_c = max(peak_c, pot.temp_c)
        if landed(record, pot.temp_c, peak_c):
            break
        reading = probe_c + max(-0.55, min(0.55, rng.gauss(0.0, noise_c)))
        if track.feed(t, reading) and track.level is not None:
            knee = True
            if machine is not None:
                machine.on_sample(t, reading, track, math.inf)
                knee = machine.past_the_knee(t)
            feed(ProbeLevel(t, track.level, track.rate, anticipate=knee))
        # the plug obeys and says so: the controller is judged here, not the plug
        feed(ActuatorReport(t, Reported.ON if on else Reported.OFF, link_up=True, online=True))
    record.state = state
    return record


LANDED_BELOW_C = 1.0  # a reach's pot this far below its peak, the heat off for good: it has landed


def landed(record: Loop, temp_c: float, peak_c: float) -> bool:
    last = record.decisions[-1] if record.decisions else None
    done = last is not None and not last.on and last.reason is Reason.TARGET_REACHED
    return done and temp_c < peak_c - LANDED_BELOW_C


def braise_step() -> HeatStep:
    return HeatStep("braise/0", StepKind.HOLD, low_c=f_to_c(BRAISE_LOW_F), high_c=f_to_c(BRAISE_HIGH_F))


def caramel_step() -> HeatStep:
    return HeatStep("caramel/0", StepKind.REACH, target_c=f_to_c(CARAMEL_F), max_c=f_to_c(CARAMEL_F + 5.0))


def braise_inside_fraction(record: Loop, hold_s: float = BRAISE_HOLD_S) -> float | None:
    """The share of the ``hold_s`` seconds after the pot first entered 185–205 °F that it spent inside."""
    low, high = f_to_c(BRAISE_LOW_F), f_to_c(BRAISE_HIGH_F)
    first = next((i for i, (_, c) in enumerate(record.truth) if low <= c <= high), None)
    if first is None or len(record.truth) - first < hold_s:
        return None
    after = record.truth[first : first + int(hold_s)]
    return sum(1 for _, c in after if low <= c <= high) / len(after)


def shortest_runs(record: Loop) -> tuple[float, float]:
    """The shortest completed on and off runs of the command (inf when there was none)."""
    on_runs: list[float] = []
    off_runs: list[float] = []
    switches = record.switches()
    for a, b in itertools.pairwise(switches):
        (on_runs if a.on else off_runs).append(b.at - a.at)
    return min(on_runs, default=math.inf), min(off_runs, default=math.inf)


def caramel_peak_f(record: Loop) -> float:
    """The syrup's own highest temperature: where the caramel lands once the heat is off."""
    return c_to_f(max(c for _, c in record.truth))
