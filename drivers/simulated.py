"""A simulated pot with a probe in it: the physics, and the ``sim://`` driver.

Why a physical model and not a canned curve: the tracker's job is to read a
noisy, lagging probe and say *when* a syrup will reach 225 °F. A curve drawn to
look right would only test the tracker against the shape its author had in
mind. Here the pot is integrated from an energy balance (stove power in, losses
out, the surplus at the boil turned into steam), the syrup's boiling point comes
from a thermodynamic model (Norrish water activity + Clausius-Clapeyron, not
the sugar table the tracker uses), and the probe is a first-order lag with
noise, quantisation, an offset and injected trouble. A slow stove, a laggy
probe, altitude or a cook who turns the heat down all change the trace the way
they change a real one.

Two entry points:

* :func:`simulate` — a deterministic (per seed) trace, as fast as it can, for
  tests and benchmarks;
* :class:`SimulatedProbe` (``sim://?speed=20``) — the same trace, paced in real
  time (sped up), as a :class:`drivers.base.Probe` for the demo.

Standard library only (durations are read by the stdlib-only service.core.units).
All temperatures are °C, times sim seconds, masses g.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import re
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from drivers.base import Clock, ProbeEvent, ProbeNotice, ProbeUrlError, Reading, f_to_c
from drivers.registry import ProbeUrl
from service.core.units import parse_duration

if TYPE_CHECKING:  # imported when a plug is asked for: the simulator alone stays standard library only
    from drivers.heater import HeaterUrl
    from drivers.sim_plug import SimTasmotaPlug

KINDS = ("caramel", "braise", "water", "rillons")

# --- physical constants ---------------------------------------------------------------------------------
LATENT_J_PER_G = 2257.0  # latent heat of vaporisation of water near 100 °C
CP_WATER = 4.18  # J/(g K)
CP_SUCROSE = 1.25  # J/(g K), crystalline sucrose; a syrup's c_p is close to the mass-weighted mix
CP_PORK = 2.9  # J/(g K), pork belly (lean + fat)
M_SUCROSE = 342.3  # g/mol
M_WATER = 18.015  # g/mol
NORRISH_K_SUCROSE = 6.47  # Norrish constant: sucrose lowers water activity more than an ideal solute
R_GAS = 8.314  # J/(mol K)
L_MOLAR = 40_700.0  # J/mol, heat of vaporisation of water at its boiling point
KELVIN = 273.15

# --- model choices --------------------------------------------------------------------------------------
PHYS_STEP_S = 0.25  # integration step: the fastest things are a 0.5 s probe and a ~1 °C/s cooling rate
MIN_WATER_G = 0.1  # a syrup never quite dries; the burnt rule stops the stove long before this
HOLD_BAND_C = 1.5  # the stall cook starts turning the heat down this far below hold_below_c
AIR_TAU_FACTOR = 10.0  # a probe in still air responds ~10x slower than in a stirred liquid
RILLONS_CARAMEL_START_C = 70.0  # the cook started the wine and sugar while the braise finished

# The braise: ~1.5 L of liquid, 1 kg of pork belly, an enamelled cast-iron pot (~4 kg x 0.45 J/(g K)).
BRAISE_LIQUID_G = 1500.0
BRAISE_MEAT_G = 1000.0
BRAISE_POT_J_PER_K = 1800.0
BRAISE_LOSS_W_PER_K = 5.0  # lid ajar: the surface steams even below the boil
BRAISE_BURNER_W = 1800.0  # the knob on full
# The cook at the braise: a slow, imperfect proportional-integral controller with a hand on the knob.
COOK_KP_W_PER_C = 40.0  # how hard the cook turns the knob per degree off
COOK_KI_W_PER_C = 8.0  # how much the cook's idea of "a simmer setting" moves per degree, per look
COOK_TURN_DOWN_BELOW_C = 5.0  # while heating up, the cook turns down this far below the aim
COOK_HEATING_LOOK_S = (15.0, 45.0)  # bringing it up: the cook hovers nearby
COOK_SIMMER_LOOK_S = (120.0, 420.0)  # simmering: a look every few minutes
COOK_EYE_SIGMA_C = 0.4  # the cook's glance at a dial
COOK_HAND_SIGMA = 0.10  # the knob goes where the hand puts it, +-10 %
COOK_FIRST_GUESS_SIGMA = 0.3  # log-normal error of the cook's first guess at the simmer setting

# Wild values: far from the truth and independent of each other, as a bad contact or an induction hob's
# field makes them. Drawn uniformly in truth-80 ... truth+150 °F, at least 8 °F away from the truth.
WILD_LOW_F = -80.0
WILD_HIGH_F = 150.0
WILD_MIN_F = 8.0
BURST_LEN = 3
RANDOM_DROPOUT_S = (20.0, 120.0)  # random dropouts last this long (uniform)

# --- the live driver ------------------------------------------------------------------------------------
MIN_SLEEP_S = 0.02  # never wake more often than this: at high speeds skip samples instead
MAX_SPEED = 10_000.0  # beyond this the simulation cannot keep up on a Raspberry Pi
LIVE_WATER_S = 3600.0  # the live water pot comes off the heat after an hour
LIVE_LONGEST_S = 12 * 3600.0  # any live pot comes off the heat after this
LIVE_TAKE_OFF_C = f_to_c(225.0)  # the rillons' caramel target: the live cook acts on its alarm


def syrup_boiling_point_c(sugar_fraction: float, water_boil_c: float = 100.0) -> float:
    """The boiling point (°C) of a sucrose syrup with this sugar mass fraction, water boiling at water_boil_c.

    Water activity by the Norrish equation a_w = (1 - X_s) exp(-K X_s^2), X_s the sucrose mole fraction,
    then Clausius-Clapeyron: the syrup boils when its vapour pressure a_w * p_sat(T) reaches the pressure
    at which pure water boils at T_0, i.e. 1/T_b = 1/T_0 + (R/L) ln a_w. Deliberately independent of the
    sugar table in FIELD-NOTES (which the tracker uses), so tests of the tracker's estimate are honest.
    It agrees with that table within 0.5 °C up to 80 % sugar and reads high above (85 % -> 118 °C).
    """
    if not 0.0 <= sugar_fraction < 1.0:
        raise ValueError(f"sugar fraction must be in [0, 1), not {sugar_fraction}")
    if sugar_fraction == 0.0:
        return water_boil_c
    n_sugar = sugar_fraction / M_SUCROSE
    n_water = (1.0 - sugar_fraction) / M_WATER
    x_s = n_sugar / (n_sugar + n_water)
    ln_aw = math.log1p(-x_s) - NORRISH_K_SUCROSE * x_s * x_s
    inverse = 1.0 / (water_boil_c + KELVIN) + (R_GAS / L_MOLAR) * ln_aw
    if inverse <= 0.0:  # only for a practically dry solid: it would never boil
        return math.inf
    return 1.0 / inverse - KELVIN


@dataclass(frozen=True)
class PotScenario:
    """Everything that makes one simulated cook: the pot, the stove, the cook and the probe.

    Every field has a default; the default caramel matches FIELD-NOTES (final climb at 225 °F of
    3-8.5 °F/min, 220 -> 225 °F in 40-120 s). Times are sim seconds, temperatures °C, masses g.
    """

    kind: str = "caramel"  # "caramel" | "braise" | "water" | "rillons"
    seed: int = 1
    ambient_c: float = 21.0
    water_boil_c: float = 100.0  # where plain water boils here (altitude, weather)
    # The caramel and water pots: a saucepan on a medium-high burner.
    power_w: float = 800.0  # heat the stove puts into the pot (not the burner's rating)
    sugar_g: float = 150.0  # kind "water": ignored (no sugar)
    liquid_g: float = 450.0  # red wine (~ water for boiling and evaporation), or the water
    pot_j_per_k: float = 450.0  # the empty saucepan: ~1 kg of steel
    loss_w_per_k: float = 1.5  # convection, radiation and surface steaming, per K above ambient
    caramel_start_c: float | None = None  # None: ambient, or 70 °C when it follows the braise (rillons)
    burnt_c: float = 150.0  # past this the cook smells smoke and pulls the pot off the heat
    off_heat_at_s: float | None = None  # the cook pulls the pot off the heat at this time
    # The cook at the caramel waits for the alarm: once the syrup is at this temperature they take it
    # off the heat take_off_after_s later (or at once when told: the alarm acknowledged). None: never.
    take_off_at_c: float | None = None
    take_off_after_s: float = 20.0
    hold_below_c: float | None = None  # the cook turns the heat down so the pot stalls just below this
    # The braise (kind "braise", and the first part of "rillons").
    braise_s: float = 7200.0  # then the braise comes off the heat (rillons: the probe moves to the caramel)
    braise_aim_c: float = 90.5  # the cook aims for 195 °F, in the 185-205 °F window
    # The probe.
    tau_s: float = 3.0  # time constant in liquid: thermocouple 0.5, thermistor 3, DS18B20 in steel 15
    noise_c: float = 0.05  # gaussian sigma
    noise_clip_c: float = 0.55
    resolution_c: float = 0.0  # MAX31855 0.25, DS18B20 0.0625; 0 = continuous
    offset_c: float = 0.0  # calibration error: +1.11 is a probe that reads 2 °F high
    interval_s: float = 1.0  # one sample every interval_s
    # Injected trouble at given times (the first sample at or after each time).
    spikes_at: tuple[float, ...] = ()  # a lone wild sample
    bursts_at: tuple[float, ...] = ()  # three consecutive wild samples (induction hob)
    faults_at: tuple[float, ...] = ()  # an error reading (reading None)
    dropouts: tuple[tuple[float, float], ...] = ()  # (start_s, duration_s): no samples at all
    removed: tuple[tuple[float, float], ...] = ()  # (start_s, duration_s): the probe lies on the counter
    # Random trouble for the live demo (Poisson, per hour of sim time).
    spikes_per_hour: float = 0.0
    bursts_per_hour: float = 0.0
    faults_per_hour: float = 0.0
    dropouts_per_hour: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        positive = {"interval_s": self.interval_s, "liquid_g": self.liquid_g, "braise_s": self.braise_s}
        if not self.take_off_after_s >= 0.0:
            raise ValueError(f"take_off_after_s must be >= 0, not {self.take_off_after_s}")
        for name, value in positive.items():
            if not value > 0.0:
                raise ValueError(f"{name} must be > 0, not {value}")
        not_negative = {
            "power_w": self.power_w,
            "sugar_g": self.sugar_g,
            "pot_j_per_k": self.pot_j_per_k,
            "loss_w_per_k": self.loss_w_per_k,
            "tau_s": self.tau_s,
            "noise_c": self.noise_c,
            "noise_clip_c": self.noise_clip_c,
            "resolution_c": self.resolution_c,
            "spikes_per_hour": self.spikes_per_hour,
            "bursts_per_hour": self.bursts_per_hour,
            "faults_per_hour": self.faults_per_hour,
            "dropouts_per_hour": self.dropouts_per_hour,
        }
        for name, value in not_negative.items():
            if not value >= 0.0:
                raise ValueError(f"{name} must be >= 0, not {value}")
        for name, windows in (("dropouts", self.dropouts), ("removed", self.removed)):
            for start, duration in windows:
                if not duration >= 0.0 or math.isnan(start):
                    raise ValueError(f"{name} window ({start}, {duration}) needs a start and a duration >= 0")


@dataclass(frozen=True, slots=True)
class SimSample:
    """One probe sample, with the truth beside it so tests can score what the tracker made of it."""

    t: float  # sim seconds since start
    pot_c: float  # the true temperature of what the probe is in (pot, or the air when removed)
    sensed_c: float  # what a noise-free probe shows (lag and offset included, no noise/spikes)
    reading_c: float | None  # what the probe reports: None = a fault reading
    wild: bool  # this sample is an injected spike/burst value
    phase: str  # "braise" | "caramel" | "water" | "removed"


# --- the pot --------------------------------------------------------------------------------------------


class _Pot:
    """One pot as a single well-stirred lump: temperature, water and sugar, and its energy balance."""

    __slots__ = (
        "boil_c",
        "fixed_j_per_k",
        "loss_w_per_k",
        "sugar_g",
        "temp_c",
        "topped_up",
        "water_boil_c",
        "water_g",
    )

    def __init__(
        self,
        *,
        water_g: float,
        sugar_g: float,
        fixed_j_per_k: float,
        loss_w_per_k: float,
        temp_c: float,
        water_boil_c: float,
        topped_up: bool,
    ) -> None:
        self.water_g = water_g
        self.sugar_g = sugar_g
        self.fixed_j_per_k = fixed_j_per_k  # the pot itself, and meat in a braise
        self.loss_w_per_k = loss_w_per_k
        self.water_boil_c = water_boil_c
        # Plain water and a braise: the cook tops up what boils away, so the pot never boils dry and
        # its boiling point stays that of water.
        self.topped_up = topped_up
        self.boil_c = self._boiling_point(water_g)
        self.temp_c = min(temp_c, self.boil_c)

    def _boiling_point(self, water_g: float) -> float:
        if self.sugar_g <= 0.0:
            return self.water_boil_c
        return syrup_boiling_point_c(self.sugar_g / (self.sugar_g + water_g), self.water_boil_c)

    def advance(self, power_w: float, ambient_c: float, dt: float) -> None:
        """Integrate one step: below the boil the net heat warms the pot, at the boil it makes steam."""
        heat_capacity = self.fixed_j_per_k + self.water_g * CP_WATER + self.sugar_g * CP_SUCROSE
        energy = (power_w - self.loss_w_per_k * (self.temp_c - ambient_c)) * dt
        warmed = self.temp_c + energy / heat_capacity
        if warmed <= self.boil_c:
            self.temp_c = warmed
            return
        # The surplus over what it takes to reach the boil leaves as steam. As water leaves the syrup
        # its boiling point rises, so part of the surplus goes into following it up: solve
        #   surplus = L dm + C (dTb/dm) dm
        # with the slope dTb/dm taken as a secant over a first guess dm0 = surplus / L.
        surplus = energy - heat_capacity * (self.boil_c - self.temp_c)
        if self.topped_up:
            self.temp_c = self.boil_c
            return
        room = self.water_g - MIN_WATER_G
        first_guess = min(surplus / LATENT_J_PER_G, room)
        if first_guess <= 0.0:
            self.temp_c = self.boil_c
            return
        slope = (self._boiling_point(self.water_g - first_guess) - self.boil_c) / first_guess
        evaporated = min(surplus / (LATENT_J_PER_G + heat_capacity * slope), room)
        self.water_g -= evaporated
        self.boil_c = self._boiling_point(self.water_g)
        self.temp_c = self.boil_c


# Public for the heat controller's closed-loop tests, which put their own heater under it.
Pot = _Pot


class _BraiseCook:
    """The cook minding a braise: looks every few minutes, turns the knob by feel.

    A slow, imperfect PI controller: the cook's idea of the "simmer setting" drifts with what they saw
    last time (the I part), they turn further the further off it is (the P part), their eye and their
    hand are both a little off, and they only look now and then. The pot wanders a few °F inside the
    185-205 °F window, as a real braise does.
    """

    __slots__ = ("aim_c", "heating", "knob_w", "next_look_s", "rng", "simmer_w")

    def __init__(self, rng: random.Random, aim_c: float, hold_w: float) -> None:
        self.rng = rng
        self.aim_c = aim_c
        self.heating = True  # full heat until it nears the simmer
        self.knob_w = BRAISE_BURNER_W
        self.simmer_w = hold_w * math.exp(rng.gauss(0.0, COOK_FIRST_GUESS_SIGMA))
        self.next_look_s = 0.0

    def power(self, t: float, temp_c: float) -> float:
        if t < self.next_look_s:
            return self.knob_w
        seen_c = temp_c + self.rng.gauss(0.0, COOK_EYE_SIGMA_C)
        if self.heating:
            if seen_c >= self.aim_c - COOK_TURN_DOWN_BELOW_C:
                self.heating = False
                self.knob_w = self._turn(self.simmer_w)
                self.next_look_s = t + self.rng.uniform(*COOK_SIMMER_LOOK_S)
            else:
                self.next_look_s = t + self.rng.uniform(*COOK_HEATING_LOOK_S)
            return self.knob_w
        error_c = self.aim_c - seen_c
        self.simmer_w = max(0.0, self.simmer_w + COOK_KI_W_PER_C * error_c)
        self.knob_w = self._turn(self.simmer_w + COOK_KP_W_PER_C * error_c)
        self.next_look_s = t + self.rng.uniform(*COOK_SIMMER_LOOK_S)
        return self.knob_w

    def _turn(self, wanted_w: float) -> float:
        return min(BRAISE_BURNER_W, max(0.0, wanted_w * (1.0 + self.rng.gauss(0.0, COOK_HAND_SIGMA))))


class _Triggers:
    """Times at which a kind of trouble happens: given ones, plus a Poisson stream at a rate."""

    __slots__ = ("_i", "_next_random_s", "_rate_per_s", "_rng", "_times")

    def __init__(self, times: Sequence[float], per_hour: float, rng: random.Random) -> None:
        self._times = sorted(times)
        self._i = 0
        self._rng = rng
        self._rate_per_s = per_hour / 3600.0
        self._next_random_s = self._draw(0.0)

    def _draw(self, after_s: float) -> float:
        return after_s + self._rng.expovariate(self._rate_per_s) if self._rate_per_s > 0.0 else math.inf

    def fire(self, t: float) -> bool:
        """True when one or more trigger times have passed since the last call (they act once)."""
        hit = False
        while self._i < len(self._times) and self._times[self._i] <= t + 1e-9:
            self._i += 1
            hit = True
        while self._next_random_s <= t + 1e-9:
            self._next_random_s = self._draw(self._next_random_s)
            hit = True
        return hit


class _Windows:
    """Time windows (dropouts, probe removed): given ones plus, optionally, random ones."""

    __slots__ = ("_fixed", "_next", "_rate_per_s", "_rng")

    def __init__(
        self, windows: Sequence[tuple[float, float]], per_hour: float = 0.0, rng: random.Random | None = None
    ) -> None:
        self._fixed = sorted((start, start + duration) for start, duration in windows)
        self._rng = rng
        self._rate_per_s = per_hour / 3600.0
        self._next = self._draw(0.0)

    def _draw(self, after_s: float) -> tuple[float, float]:
        if self._rng is None or self._rate_per_s <= 0.0:
            return (math.inf, math.inf)
        start = after_s + self._rng.expovariate(self._rate_per_s)
        return (start, start + self._rng.uniform(*RANDOM_DROPOUT_S))

    def covers(self, t: float) -> bool:
        """Whether t is inside a window. Calls must come with t never decreasing."""
        while self._fixed and self._fixed[0][1] <= t:
            self._fixed.pop(0)
        while self._next[1] <= t:
            self._next = self._draw(self._next[1])
        in_fixed = bool(self._fixed) and self._fixed[0][0] <= t
        return in_fixed or self._next[0] <= t


class _Kitchen:
    """The pots, the stove, the cook and the probe, integrated together in fixed steps."""

    def __init__(self, scenario: PotScenario, dt: float, heater: HeaterInput | None = None) -> None:
        s = scenario
        self.s = s
        self.heater = heater
        self.t = 0.0
        self.dt = dt
        self.burnt = False
        self.off_from = s.off_heat_at_s  # when the pot comes off the heat (the cook may bring it forward)
        self.phase = "braise" if s.kind in ("braise", "rillons") else s.kind
        self.cook: _BraiseCook | None = None
        if self.phase == "braise":
            self.pot = _Pot(
                water_g=BRAISE_LIQUID_G,
                sugar_g=0.0,
                fixed_j_per_k=BRAISE_POT_J_PER_K + BRAISE_MEAT_G * CP_PORK,
                loss_w_per_k=BRAISE_LOSS_W_PER_K,
                temp_c=s.ambient_c,
                water_boil_c=s.water_boil_c,
                topped_up=True,
            )
            hold_w = BRAISE_LOSS_W_PER_K * (s.braise_aim_c - s.ambient_c)
            self.cook = _BraiseCook(random.Random(f"potwatch-sim/{s.seed}/cook"), s.braise_aim_c, hold_w)
        elif self.phase == "water":
            self.pot = self._saucepan(sugar_g=0.0, start_c=s.ambient_c)
        else:
            self.pot = self._saucepan(sugar_g=s.sugar_g, start_c=self._caramel_start())
        self.removed = _Windows(s.removed)
        self.probe_in_air = self.removed.covers(0.0)
        self.env_c = s.ambient_c if self.probe_in_air else self.pot.temp_c
        self.probe_c = self.env_c  # the probe starts where it is, settled
        # Exact decay of a first-order lag over one step, in liquid and in air.
        self.decay_liquid = math.exp(-dt / s.tau_s) if s.tau_s > 0.0 else 0.0
        self.decay_air = math.exp(-dt / (s.tau_s * AIR_TAU_FACTOR)) if s.tau_s > 0.0 else 0.0

    def _caramel_start(self) -> float:
        if self.s.caramel_start_c is not None:
            return self.s.caramel_start_c
        return RILLONS_CARAMEL_START_C if self.s.kind == "rillons" else self.s.ambient_c

    def _saucepan(self, *, sugar_g: float, start_c: float) -> _Pot:
        return _Pot(
            water_g=self.s.liquid_g,
            sugar_g=sugar_g,
            fixed_j_per_k=self.s.pot_j_per_k,
            loss_w_per_k=self.s.loss_w_per_k,
            temp_c=start_c,
            water_boil_c=self.s.water_boil_c,
            topped_up=sugar_g <= 0.0,
        )

    def _power_w(self, t: float) -> float:
        s = self.s
        temp_c = self.pot.temp_c
        if temp_c >= s.burnt_c:
            self.burnt = True
        if self.heater is not None:
            return 0.0 if self.burnt or not self.heater.on_at(t) else self.heater.power_w
        if (
            s.take_off_at_c is not None
            and self.phase == "caramel"
            and temp_c >= s.take_off_at_c
            and (self.off_from is None or self.off_from > t + s.take_off_after_s)
        ):
            self.off_from = t + s.take_off_after_s  # the alarm rang: the cook comes over to the stove
        if self.burnt or (self.off_from is not None and t >= self.off_from):
            return 0.0
        if self.cook is not None:
            if t >= s.braise_s:  # the braise is done: off the heat
                return 0.0
            power = self.cook.power(t, temp_c)
        else:
            power = s.power_w
        if s.hold_below_c is not None:
            # The cook watching for a limit turns the heat down in proportion as the pot nears it, so
            # it settles where the throttled heat just covers the losses: a stall a little below.
            power *= min(1.0, max(0.0, (s.hold_below_c - temp_c) / HOLD_BAND_C))
        return power

    def take_off(self, t: float) -> None:
        """The cook takes the pot off the heat now (they acknowledged the alarm)."""
        if self.off_from is None or self.off_from > t:
            self.off_from = t

    def step(self) -> None:
        s = self.s
        t0 = self.t
        if self.phase == "braise" and s.kind == "rillons" and t0 >= s.braise_s - 1e-9:
            # The pork is done; the probe goes into the caramel pot, already warm on the next burner.
            self.phase = "caramel"
            self.cook = None
            self.pot = self._saucepan(sugar_g=s.sugar_g, start_c=self._caramel_start())
        self.pot.advance(self._power_w(t0), s.ambient_c, self.dt)
        self.t = t1 = t0 + self.dt
        self.probe_in_air = self.removed.covers(t1)
        env0 = self.env_c
        env1 = s.ambient_c if self.probe_in_air else self.pot.temp_c
        self.env_c = env1
        # First-order probe, solved exactly for an input that is linear over the step: in a ramp of rate
        # r it settles at r*tau behind, the lag error FIELD-NOTES quotes for the final climb.
        if s.tau_s <= 0.0:
            self.probe_c = env1
            return
        tau = s.tau_s * AIR_TAU_FACTOR if self.probe_in_air else s.tau_s
        decay = self.decay_air if self.probe_in_air else self.decay_liquid
        ramp_lag = (env1 - env0) / self.dt * tau
        self.probe_c = env1 - ramp_lag + (self.probe_c - env0 + ramp_lag) * decay


def _quantise(value: float, resolution_c: float) -> float:
    return round(value / resolution_c) * resolution_c if resolution_c > 0.0 else value


class CookHand:
    """The simulated cook's ear for the live service: told the alarm was acknowledged, they act at once.

    Outside the scenario (which stays a frozen, replayable description) because it is what happens
    live; :func:`simulate` reads it before every sample.
    """

    __slots__ = ("off_heat",)

    def __init__(self) -> None:
        self.off_heat = False


class HeaterInput:
    """The pot's heat driven from outside: a hotplate on a smart plug, for closing the loop in tests and the demo.

    Attached to :func:`simulate` (or :class:`SimulatedProbe`), it replaces the stove and the cook's hand
    on the knob: the pot gets ``power_w`` while ``on`` is True and nothing while it is False, read before
    every integration step, so whoever sets ``on`` (in the tests, an adapter following a plug double's
    relay, not what the plug reports: a lying plug must overheat the pot) drives the pot as a real
    relay would. Only the burnt rule stays: past ``burnt_c`` the cook smells smoke and pulls the pot
    off, whatever the plug does. Not attached (the default), nothing
    changes: the scenario's stove and cook run the pot as before.
    """

    __slots__ = ("follow", "on", "power_w")

    def __init__(
        self, power_w: float = BRAISE_BURNER_W, on: bool = False, follow: Callable[[float], bool] | None = None
    ) -> None:
        if not 0.0 <= power_w <= 10_000.0:
            raise ValueError(f"power_w must be between 0 and 10000 W, not {power_w}")
        self.power_w = power_w
        self.on = on
        # follow(t): the relay's state at sim time t, for a relay with a timer of its own (the pot's own
        # emulated plug, drivers/sim_plug.py): a pulse that ends between two looks still ends on time
        self.follow = follow

    def on_at(self, t: float) -> bool:
        """Whether the heat is on at sim time ``t``: ``follow(t)`` when given, else ``on``."""
        return self.follow(t) if self.follow is not None else self.on


def simulate(
    scenario: PotScenario, duration_s: float, hand: CookHand | None = None, heater: HeaterInput | None = None
) -> Iterator[SimSample]:
    """One SimSample per probe sample (every interval_s, from t = 0 while t < duration_s), none in dropouts.

    Deterministic for a given scenario: each source of chance (the cook, the probe's noise, the wild
    values, random trouble) draws from its own generator seeded from ``scenario.seed``, and noise is
    drawn for every sample slot, dropped or not, so adding a dropout or a spike leaves the rest of the
    trace unchanged. ``duration_s`` may be ``math.inf``: the iterator is lazy.
    """
    trace = _Trace(scenario, hand, heater)
    while trace.next_t < duration_s:
        sample = trace.slot()
        if sample is not None:
            yield sample


class _Trace:
    """The sample slots one at a time: the live driver computes each only once its time has come.

    Computed ahead of its time, a slot would miss what happens meanwhile: a plug switched by a command
    that arrives after the pot was integrated past it.
    """

    def __init__(self, scenario: PotScenario, hand: CookHand | None, heater: HeaterInput | None) -> None:
        s = self.s = scenario
        self.hand = hand
        self.substeps = max(1, math.ceil(s.interval_s / PHYS_STEP_S - 1e-9))
        self.kitchen = _Kitchen(s, s.interval_s / self.substeps, heater)
        self.noise_rng = random.Random(f"potwatch-sim/{s.seed}/noise")
        self.wild_rng = random.Random(f"potwatch-sim/{s.seed}/wild")
        self.spikes = _Triggers(s.spikes_at, s.spikes_per_hour, random.Random(f"potwatch-sim/{s.seed}/spikes"))
        self.bursts = _Triggers(s.bursts_at, s.bursts_per_hour, random.Random(f"potwatch-sim/{s.seed}/bursts"))
        self.faults = _Triggers(s.faults_at, s.faults_per_hour, random.Random(f"potwatch-sim/{s.seed}/faults"))
        self.dropouts = _Windows(s.dropouts, s.dropouts_per_hour, random.Random(f"potwatch-sim/{s.seed}/dropouts"))
        self.burst_left = 0
        self.k = 0  # the next slot

    @property
    def next_t(self) -> float:
        return self.k * self.s.interval_s

    def slot(self) -> SimSample | None:
        """Integrate up to the next slot and sample it; None in a dropout."""
        s, kitchen = self.s, self.kitchen
        t = self.k * s.interval_s
        if self.k > 0:
            for _ in range(self.substeps):
                kitchen.step()
            kitchen.t = t  # no drift from adding up substeps
        if self.hand is not None and self.hand.off_heat and kitchen.phase == "caramel":
            kitchen.take_off(t)
        self.k += 1
        noise = min(s.noise_clip_c, max(-s.noise_clip_c, self.noise_rng.gauss(0.0, s.noise_c)))
        if self.dropouts.covers(t):
            return None
        pot_c = kitchen.env_c
        sensed_c = kitchen.probe_c + s.offset_c
        phase = "removed" if kitchen.probe_in_air else kitchen.phase
        if self.spikes.fire(t):
            self.burst_left = max(self.burst_left, 1)
        if self.bursts.fire(t):
            self.burst_left = BURST_LEN
        reading: float | None
        wild = False
        if self.faults.fire(t):
            reading = None
        elif self.burst_left > 0:
            reading = _quantise(_wild_value(self.wild_rng, pot_c, s.resolution_c), s.resolution_c)
            wild = True
        else:
            reading = _quantise(sensed_c + noise, s.resolution_c)
        self.burst_left = max(0, self.burst_left - 1)
        return SimSample(t, pot_c, sensed_c, reading, wild, phase)


def _wild_value(rng: random.Random, truth_c: float, resolution_c: float) -> float:
    # Keep a margin for quantisation, so the reported value is still >= 8 °F away.
    margin_f = WILD_MIN_F + resolution_c * 9.0 / 5.0
    while True:
        delta_f = rng.uniform(WILD_LOW_F, WILD_HIGH_F)
        if abs(delta_f) >= margin_f:
            return truth_c + delta_f * 5.0 / 9.0


# --- the sim:// driver ----------------------------------------------------------------------------------

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_POWER = re.compile(rf"\s*({_NUMBER})\s*(kw|w)\s*", re.IGNORECASE)
_TEMPERATURE = re.compile(rf"\s*({_NUMBER})\s*(?:°|º|deg)?\s*([cf])\s*", re.IGNORECASE)
_OPTIONS = (
    "speed",
    "kind",
    "seed",
    "interval",
    "noise",
    "tau",
    "resolution",
    "spikes_per_hour",
    "bursts_per_hour",
    "faults_per_hour",
    "dropouts_per_hour",
    "boil",
    "offset",
    "braise",
    "plug",
    "heater",
)


def _bad(name: str, value: str, why: str) -> ProbeUrlError:
    return ProbeUrlError(f"sim:// option {name}={value!r}: {why}")


def _number(name: str, value: str, *, minimum: float, maximum: float = math.inf) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, value, "not a number") from None
    if not minimum <= number <= maximum:
        raise _bad(name, value, f"must be between {minimum:g} and {maximum:g}")
    return number


def _temperature(name: str, value: str, *, difference: bool) -> float:
    """°C from ``"98.5C"``, ``"209F"``, ``"225 °F"``; a bare number is refused (which unit?).

    ``difference``: the value is a temperature difference (an offset), so °F scale by 5/9 without the 32.
    """
    match = _TEMPERATURE.fullmatch(value)
    if match is None:
        raise _bad(name, value, 'needs a temperature with its unit, like "98.5C" or "209F"')
    number = float(match.group(1))
    if match.group(2).lower() == "c":
        return number
    return number * 5.0 / 9.0 if difference else f_to_c(number)


def _duration(name: str, value: str, *, bare_seconds: bool) -> float:
    """Seconds from ``"2h"``, ``"90min"``, ``"15s"``, ``"1h30min"`` (the config's grammar);
    a bare number only if bare_seconds."""
    try:
        return parse_duration(value, bare_seconds=bare_seconds)
    except ValueError:
        raise _bad(name, value, 'needs a duration with its unit, like "2h", "90min" or "15s"') from None


def scenario_from_query(query: dict[str, str]) -> PotScenario:
    """A scenario from ``sim://`` URL options (see docs/simulator.md); ProbeUrlError names a bad option.

    ``speed``, ``plug`` and ``heater`` are accepted here but belong to the driver (see :func:`from_url`).
    The default kind is ``rillons``, the demo's whole recipe.
    """
    unknown = sorted(set(query) - set(_OPTIONS))
    if unknown:
        raise ProbeUrlError(f"sim:// option {unknown[0]!r} is not known (known: {', '.join(_OPTIONS)})")
    d = PotScenario()
    kind = query.get("kind", "rillons")
    if kind not in KINDS:
        raise _bad("kind", kind, f"must be one of {', '.join(KINDS)}")
    seed = d.seed
    if "seed" in query:
        try:
            seed = int(query["seed"])
        except ValueError:
            raise _bad("seed", query["seed"], "must be a whole number") from None

    def opt(name: str, default: float, **limits: float) -> float:
        if name not in query:
            return default
        return _number(name, query[name], **limits)

    interval_s = d.interval_s
    if "interval" in query:
        interval_s = _duration("interval", query["interval"], bare_seconds=True)
        if not 0.05 <= interval_s <= 3600.0:
            raise _bad("interval", query["interval"], "must be between 0.05 s and 1 h")
    tau_s = d.tau_s
    if "tau" in query:
        tau_s = _duration("tau", query["tau"], bare_seconds=True)
        if not 0.0 <= tau_s <= 600.0:
            raise _bad("tau", query["tau"], "must be between 0 and 600 s")
    noise_c = d.noise_c
    if "noise" in query:
        noise_c = _noise(query["noise"])
    water_boil_c = d.water_boil_c
    if "boil" in query:
        water_boil_c = _temperature("boil", query["boil"], difference=False)
        if not 60.0 <= water_boil_c <= 110.0:
            raise _bad("boil", query["boil"], "water boils between 60 and 110 °C on this planet's kitchens")
    offset_c = d.offset_c
    if "offset" in query:
        offset_c = _temperature("offset", query["offset"], difference=True)
        if not -20.0 <= offset_c <= 20.0:
            raise _bad("offset", query["offset"], "must be within +-20 °C")
    braise_s = d.braise_s
    if "braise" in query:
        braise_s = _duration("braise", query["braise"], bare_seconds=False)
        if not braise_s > 0.0:
            raise _bad("braise", query["braise"], "must be longer than zero")
    return PotScenario(
        kind=kind,
        seed=seed,
        water_boil_c=water_boil_c,
        braise_s=braise_s,
        tau_s=tau_s,
        noise_c=noise_c,
        resolution_c=opt("resolution", d.resolution_c, minimum=0.0, maximum=5.0),
        offset_c=offset_c,
        interval_s=interval_s,
        spikes_per_hour=opt("spikes_per_hour", 0.0, minimum=0.0, maximum=3600.0),
        bursts_per_hour=opt("bursts_per_hour", 0.0, minimum=0.0, maximum=3600.0),
        faults_per_hour=opt("faults_per_hour", 0.0, minimum=0.0, maximum=3600.0),
        dropouts_per_hour=opt("dropouts_per_hour", 0.0, minimum=0.0, maximum=60.0),
    )


def _noise(value: str) -> float:
    """Noise sigma: a bare number is °C (a sigma is small and unit-free in practice), or "0.2F" / "0.1C"."""
    try:
        sigma = float(value)
    except ValueError:
        sigma = _temperature("noise", value, difference=True)
    if not 0.0 <= sigma <= 10.0:
        raise _bad("noise", value, "must be between 0 and 10 °C")
    return sigma


def from_url(probe_id: str, url: ProbeUrl, clock: Clock) -> SimulatedProbe:
    """The ``sim://`` driver: ``sim://?speed=20&kind=caramel&seed=3`` (options in docs/simulator.md)."""
    scenario = scenario_from_query(url.query)
    speed = 1.0
    if "speed" in url.query:
        speed = _number("speed", url.query["speed"], minimum=1e-3, maximum=MAX_SPEED)
    plug, heater_w = plug_from_query(url.query)
    return SimulatedProbe(probe_id, scenario, speed=speed, clock=clock, plug=plug, heater_w=heater_w)


def default_heater_w(scenario: PotScenario) -> float:
    """The plug's hotplate when ``heater`` is not given: the kind's own stove (a braise's burner on full)."""
    return BRAISE_BURNER_W if scenario.kind in ("braise", "rillons") else scenario.power_w


def plug_from_query(query: dict[str, str]) -> tuple[HeaterUrl | None, float | None]:
    """``plug=mqtt://HOST:1883/<topic>`` and ``heater=1.8kW``: the pot's own emulated Tasmota plug, or None.

    The plug URL is a heater URL (drivers/heater.py: its checks and its errors), ``kind`` tasmota by
    default and only; ``heater`` without ``plug`` has nothing to heat through and is refused.
    """
    heater_w: float | None = None  # the pot applies the kind's default (default_heater_w)
    if "heater" in query:
        if "plug" not in query:
            raise _bad(
                "heater", query["heater"], "a heater needs a plug to switch it: add plug=mqtt://HOST:1883/<topic>"
            )
        heater_w = _power("heater", query["heater"])
    if "plug" not in query:
        return None, heater_w
    from drivers.heater import HeaterUrlError, parse_heater_url

    text = query["plug"]
    if not text.strip():
        raise _bad("plug", text, "needs the plug's broker and Tasmota topic, like mqtt://192.168.1.10:1883/kitchen_pot")
    if "kind=" not in text:
        text = f"{text}{'&' if '?' in text else '?'}kind=tasmota"
    try:
        plug = parse_heater_url(text)
    except HeaterUrlError as exc:
        raise _bad("plug", query["plug"], str(exc)) from None
    if plug.kind != "tasmota":
        raise _bad("plug", query["plug"], "the simulated pot's plug speaks Tasmota only (kind=tasmota)")
    return plug, heater_w


def _power(name: str, value: str) -> float:
    """Watts from ``"1.8kW"`` or ``"1800W"``; a bare number is refused (watts or kilowatts?)."""
    match = _POWER.fullmatch(value)
    if match is None:
        raise _bad(name, value, 'needs a power with its unit, like "1.8kW" or "800W"')
    watts = float(match.group(1)) * (1000.0 if match.group(2).lower() == "kw" else 1.0)
    if not 10.0 <= watts <= 10_000.0:
        raise _bad(name, value, "must be between 0.01 and 10 kW")
    return watts


_KIND_STORY = {
    "caramel": "red-wine caramel reducing towards 225 °F",
    "braise": "pork belly braising at a simmer (185-205 °F)",
    "water": "plain water coming to the boil (for calibrating a probe)",
    "rillons": "rillons: pork belly braising, then the red-wine caramel reducing towards 225 °F",
}


class SimulatedProbe:
    """A :class:`drivers.base.Probe` reading the simulated pot in (sped-up) real time.

    The live pot always ends: when the recipe is over (a braise's time is up, a caramel burns, water
    has boiled for an hour, or after 12 h at most, a braise longer than that at its end) the cook
    pulls it off the heat and it cools to the kitchen's temperature and stays there, so a demo left
    running shows a cold pot, not an error.
    """

    def __init__(
        self,
        probe_id: str,
        scenario: PotScenario,
        *,
        speed: float = 1.0,
        clock: Clock = time.monotonic,
        heater: HeaterInput | None = None,
        plug: HeaterUrl | None = None,
        heater_w: float | None = None,
    ) -> None:
        if not 0.0 < speed <= MAX_SPEED:
            raise ValueError(f"speed must be in (0, {MAX_SPEED:g}], not {speed}")
        if plug is not None and heater is not None:
            raise ValueError("a pot has one heater: give heater= or plug=, not both")
        self.probe_id = probe_id
        self.scenario = _live(scenario)
        self.speed = speed
        self._clock = clock
        self._hand = CookHand()
        self._heater = heater  # None: the scenario's stove and cook, as ever
        self.plug: SimTasmotaPlug | None = None  # the pot's own emulated plug, when it has one
        if plug is not None:
            from drivers.sim_plug import SimTasmotaPlug

            self.plug = SimTasmotaPlug(plug, self)
            power_w = heater_w if heater_w is not None else default_heater_w(scenario)
            self._heater = HeaterInput(power_w, follow=self.plug.relay.on_at)  # the relay, never its reports
        self._loop_time: Callable[[], float] | None = None  # the event loop's clock, once running
        self._base = (0.0, 0.0)  # (loop time, sim time) that the pacing counts from
        self._last_t = 0.0  # the sim time of the last sample given out
        self._now = 0.0  # the latest sim_now() given out: the plug's clock never runs back

    def take_off_heat(self) -> None:
        """The cook acknowledged the caramel's alarm: the pot comes off the heat now, not in a while."""
        self._hand.off_heat = True

    def describe(self) -> str:
        s = self.scenario
        text = (
            f"simulated pot: {_KIND_STORY[s.kind]}; speed x{self.speed:g}, seed {s.seed}, "
            f"a reading every {s.interval_s:g} s of sim time, probe tau {s.tau_s:g} s"
        )
        if self.plug is not None and self._heater is not None:
            text += (
                f"; heated by {self._heater.power_w / 1000.0:g} kW through its own Tasmota plug "
                f"{self.plug.topic!r} on {self.plug.url.server} (cmnd/{self.plug.topic}/POWER)"
            )
        return text

    def sim_now(self) -> float:
        """The pot's clock now, in sim seconds (0 before it runs); never decreasing. The plug's clock."""
        if self._loop_time is None:
            return self._now
        base_real, base_sim = self._base
        self._now = max(self._now, base_sim + (self._loop_time() - base_real) * self.speed)
        return self._now

    def real_seconds(self, sim_seconds: float) -> float:
        """How long (real time) ``sim_seconds`` of the pot's clock take at the current speed."""
        return max(0.0, sim_seconds) / self.speed

    async def events(self) -> AsyncGenerator[ProbeEvent, None]:
        """A notice, then one reading every interval/speed real seconds, forever.

        Paced against the event loop's clock from one start time, so sleeping late never adds up to a
        drift. When interval/speed is under MIN_SLEEP_S, only every n-th sample is yielded (the sim
        still runs every one of them): a phone cannot show 1000 readings a second anyway. Each sample
        is computed once its time has come, not ahead of it, so a heater switched meanwhile counts.
        With a plug, the plug is on the broker for as long as this runs.
        """
        s = self.scenario
        yield ProbeNotice(self.probe_id, self._clock(), self.describe())
        loop = asyncio.get_running_loop()
        self._loop_time = loop.time
        decimals = _decimals(s.resolution_c)
        self._base = (loop.time(), 0.0)
        trace = _Trace(s, self._hand, self._heater)
        async with contextlib.AsyncExitStack() as stack:
            if self.plug is not None:
                await stack.enter_async_context(self.plug)
            while True:
                every = self._every()
                given = trace.k + (-trace.k) % every  # the next slot that is given out
                t = given * s.interval_s
                base_real, base_sim = self._base
                delay = base_real + (t - base_sim) / self.speed - loop.time()
                # Behind schedule (a slow consumer, a busy Pi): do not sleep, but still let others run.
                await asyncio.sleep(max(0.0, delay))
                sample = None
                while trace.k <= given:
                    sample = trace.slot()
                if sample is None:
                    continue  # a dropout
                self._last_t = sample.t
                if sample.reading_c is None:
                    yield Reading(self.probe_id, "", None, self._clock(), "nan", fault="simulated fault")
                    continue
                raw = f"{sample.reading_c:.{decimals}f}"
                yield Reading(self.probe_id, "", float(raw), self._clock(), raw)

    def _every(self) -> int:
        """Yield every n-th sample, so that no two readings come less than MIN_SLEEP_S apart."""
        period_s = self.scenario.interval_s / self.speed
        return max(1, math.ceil(MIN_SLEEP_S / period_s - 1e-9))

    def set_speed(self, speed: float) -> None:
        """Run at another speed from now on (the demo slows near the target), without a jump in sim
        time: the service's clock changes speed at the same moment, so the two keep agreeing."""
        if not 0.0 < speed <= MAX_SPEED:
            raise ValueError(f"speed must be in (0, {MAX_SPEED:g}], not {speed}")
        if self._loop_time is not None:
            # from the last sample given out: behind schedule at the old speed, the pot does
            # not rush through the lost time at the new one (a flood of readings)
            self._base = (self._loop_time(), self._last_t)
        self.speed = speed
        if self.plug is not None:
            self.plug.wake()  # its pulse's deadline is another real time away now


def _live(scenario: PotScenario) -> PotScenario:
    """The scenario with an end: the live pot must come off the heat some time, and a live caramel
    comes off when its alarm rings (at 225 °F), as a cook would take it: not when it burns."""
    # A braise asked for by its length (braise=24h) ends when that is up: the 12 h cap is for pots
    # that would never end, and a silent cap turned a 24 h hold into 12 h of too_cold alerts.
    longest = max(LIVE_LONGEST_S, scenario.braise_s) if scenario.kind == "braise" else LIVE_LONGEST_S
    off = scenario.off_heat_at_s
    if off is None:
        off = LIVE_WATER_S if scenario.kind == "water" else longest
    take_off = scenario.take_off_at_c
    if take_off is None and scenario.kind in ("caramel", "rillons"):
        take_off = LIVE_TAKE_OFF_C
    return replace(scenario, off_heat_at_s=min(off, longest), take_off_at_c=take_off)


def _decimals(resolution_c: float) -> int:
    """How many decimals a device with this resolution prints: 0.25 -> 2, 0.0625 -> 4, none -> 2."""
    if resolution_c <= 0.0:
        return 2
    for decimals in range(7):
        if abs(round(resolution_c, decimals) - resolution_c) < 1e-9:
            return max(decimals, 1)
    return 6
