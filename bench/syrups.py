"""A second, independent family of syrups to judge the tracker on: different physics, same samples.

    python -m bench.syrups [--held-out | --all]

The tracker was tuned on drivers/simulated.py, whose syrup boils on the same Norrish and
Clausius-Clapeyron curve the estimator uses. A tracker can look good on the world it was fitted
to and still be wrong about a real pot, so this corpus is built from other physics:

* the boiling-point rise (BPR) comes from the candy table in the field notes, interpolated
  monotonically in *molality* (where ebullioscopy says the rise is nearly linear), not in sugar
  fraction as the tracker does, and with no water-activity model at all;
* each syrup departs from sucrose by a factor (1 + delta) (wine acids, glycerol, other solids), and
  the rise scales with T_b^2 as the ebullioscopic constant does, so at altitude it is a little smaller;
* water boils where Antoine's equation puts it at the station pressure (the standard atmosphere);
* the pot loses heat to the room faster than linearly (natural convection ~ dT^1.25, radiation ~ T^4),
  and the burner wanders by a few per cent over minutes;
* the probe is a first-order lag with clipped gaussian noise and optional quantisation.

Only :class:`drivers.simulated.SimSample` is shared, so the scoring code in bench/detect.py applies.
Standard library only. All temperatures are °C, times s, masses g, powers W.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from drivers.simulated import SimSample

# --- physical constants ---------------------------------------------------------------------------------
KELVIN = 273.15
M_SUCROSE = 342.3  # g/mol
KB_WATER = 0.512  # °C kg/mol: water's ebullioscopic constant, the BPR per molal at infinite dilution
T_NORMAL_BOIL_K = 373.15  # the table's rows are for water boiling here
LATENT_J_PER_G = 2257.0  # heat of vaporisation of water near its boiling point
CP_WATER = 4.18  # J/(g K)
CP_SUCROSE = 1.25  # J/(g K); a syrup's heat capacity is close to the mass-weighted mix
CP_WINE_SOLIDS = 1.5  # J/(g K): tannins, acids, glycerol, pigments, similar to other organic solids
SIGMA_SB = 5.670374e-8  # W/(m^2 K^4), Stefan-Boltzmann
SEA_LEVEL_HPA = 1013.25
HPA_PER_MMHG = 1.333224
ANTOINE_A, ANTOINE_B, ANTOINE_C = 8.07131, 1730.63, 233.426  # water, 1-100 °C, p in mmHg

# --- the candy table ------------------------------------------------------------------------------------
# (sugar mass fraction, BPR °C at sea level). The rows from 50 % up are the field notes' candy table; the
# dilute rows follow ebullioscopy, BPR -> KB * molality as the sugar goes to zero (25 % is almost exactly
# ideal), rising ~10 % above the ideal line by 40 % as sucrose's hydration water takes solvent out of play.
CANDY_TABLE: tuple[tuple[float, float], ...] = (
    (0.25, 0.5),
    (0.40, 1.1),
    (0.50, 2.0),
    (0.60, 3.0),
    (0.70, 5.6),
    (0.75, 7.8),
    (0.80, 11.0),
    (0.85, 15.5),
    (0.90, 22.0),
)

# --- model choices --------------------------------------------------------------------------------------
PHYS_STEP_S = 0.25  # the pot changes by < 0.05 °C per step even on a 2.4 kW stove; the probe lag is exact
MIN_WATER_G = 0.05  # a syrup never quite dries: the burnt rule stops the stove long before
BURNT_C = 160.0  # past this the syrup is dark caramel and smoking: the cook pulls the burner
NOISE_CLIP_SIGMAS = 4.0
LOSS_AREA_M2 = 0.045  # a 20 cm saucepan: the open top (0.031 m^2) plus the wall above the syrup
WANDER_PARTS = 3  # sinusoids in the burner's wander
TARGET_C = (225.0 - 32.0) * 5.0 / 9.0  # 225 °F, the red-wine caramel's target
LONGEST_S = 4 * 3600.0  # any cook that has not crossed by now is a broken cook


# --- boiling points -------------------------------------------------------------------------------------


def molality(sugar_fraction: float) -> float:
    """Moles of sucrose per kg of water: the variable in which a boiling-point rise is nearly linear."""
    return 1000.0 * sugar_fraction / ((1.0 - sugar_fraction) * M_SUCROSE)


def _table_knots() -> tuple[tuple[float, ...], tuple[float, ...]]:
    xs = [0.0] + [molality(x) for x, _ in CANDY_TABLE]
    ys = [0.0] + [bpr for _, bpr in CANDY_TABLE]
    return tuple(xs), tuple(ys)


def _pchip_slopes(xs: Sequence[float], ys: Sequence[float], first_slope: float) -> tuple[float, ...]:
    """Fritsch-Carlson slopes at the knots: a C1 cubic that never overshoots, so the curve stays monotone.

    The first slope is given (the ideal ebullioscopic line at zero molality); the interior ones are the
    weighted harmonic mean of the neighbouring secants; the last is the three-point end formula, clipped to
    zero or 3x the secant, which keeps the last interval monotone too.
    """
    n = len(xs)
    h = [xs[i + 1] - xs[i] for i in range(n - 1)]
    secant = [(ys[i + 1] - ys[i]) / h[i] for i in range(n - 1)]
    slopes = [0.0] * n
    slopes[0] = min(first_slope, 3.0 * secant[0])
    for i in range(1, n - 1):
        if secant[i - 1] * secant[i] > 0.0:
            w1, w2 = 2.0 * h[i] + h[i - 1], h[i] + 2.0 * h[i - 1]
            slopes[i] = (w1 + w2) / (w1 / secant[i - 1] + w2 / secant[i])
    end = ((2.0 * h[-1] + h[-2]) * secant[-1] - h[-1] * secant[-2]) / (h[-1] + h[-2])
    slopes[-1] = min(max(end, 0.0), 3.0 * secant[-1])
    return tuple(slopes)


_KNOTS_M, _KNOTS_BPR = _table_knots()
_SLOPES = _pchip_slopes(_KNOTS_M, _KNOTS_BPR, KB_WATER)
# Beyond 90 % the table stops; the rise keeps growing, but ever slower in molality (the last few grams of
# water hold on hard). Continue linearly in ln(molality), matching the curve's slope at the last knot:
# that puts 95 % near 132 °C and 99 % near 153 °C, about where the hard-crack stage sits (300-310 °F).
_TOP_M, _TOP_BPR = _KNOTS_M[-1], _KNOTS_BPR[-1]
_TOP_PER_LOG_M = _TOP_M * _SLOPES[-1]


def table_bpr_molal(m: float) -> tuple[float, float]:
    """(BPR °C, dBPR/dm) of sucrose syrup at sea level at molality m: the monotone cubic through the table."""
    if m <= 0.0:
        return 0.0, _SLOPES[0]
    if m >= _TOP_M:
        return _TOP_BPR + _TOP_PER_LOG_M * math.log(m / _TOP_M), _TOP_PER_LOG_M / m
    i = bisect_right(_KNOTS_M, m) - 1
    h = _KNOTS_M[i + 1] - _KNOTS_M[i]
    u = (m - _KNOTS_M[i]) / h
    y0, y1 = _KNOTS_BPR[i], _KNOTS_BPR[i + 1]
    d0, d1 = _SLOPES[i] * h, _SLOPES[i + 1] * h
    # Cubic Hermite basis, and its derivative (per unit u, hence the / h).
    value = (2 * u**3 - 3 * u**2 + 1) * y0 + (u**3 - 2 * u**2 + u) * d0 + (-2 * u**3 + 3 * u**2) * y1
    value += (u**3 - u**2) * d1
    slope = (6 * u**2 - 6 * u) * (y0 - y1) + (3 * u**2 - 4 * u + 1) * d0 + (3 * u**2 - 2 * u) * d1
    return value, slope / h


def table_bpr_c(sugar_fraction: float) -> float:
    """Boiling-point rise (°C) of a plain sucrose syrup with this sugar mass fraction, water boiling at 100 °C."""
    if not 0.0 <= sugar_fraction < 1.0:
        raise ValueError(f"sugar fraction must be in [0, 1), not {sugar_fraction}")
    return table_bpr_molal(molality(sugar_fraction))[0]


def bpr_scale(water_boil_c: float, delta: float) -> float:
    """How much this syrup's rise differs from the table's: its own solutes (1 + delta), and T_b^2.

    The ebullioscopic constant is R T_b^2 M_w / L: where water boils lower, the same molality raises the
    boiling point a little less (at 5,000 ft by ~3 %).
    """
    return (1.0 + delta) * ((water_boil_c + KELVIN) / T_NORMAL_BOIL_K) ** 2


def syrup_boiling_point_c(sugar_fraction: float, water_boil_c: float = 100.0, delta: float = 0.0) -> float:
    """Where this syrup boils: water's boiling point plus the table's rise, scaled for the syrup and T_b."""
    return water_boil_c + bpr_scale(water_boil_c, delta) * table_bpr_c(sugar_fraction)


def sugar_fraction_boiling_at(boil_c: float, water_boil_c: float = 100.0, delta: float = 0.0) -> float:
    """The sugar fraction at which this syrup boils at boil_c (the curve is monotone: bisection is safe)."""
    if boil_c <= water_boil_c:
        return 0.0
    low, high = 0.0, 0.995
    for _ in range(60):
        mid = 0.5 * (low + high)
        if syrup_boiling_point_c(mid, water_boil_c, delta) < boil_c:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def station_pressure_hpa(altitude_m: float) -> float:
    """The standard atmosphere's pressure at this altitude (weather moves it by a few per cent)."""
    return SEA_LEVEL_HPA * math.pow(1.0 - 2.25577e-5 * altitude_m, 5.25588)


def water_boiling_point_c(pressure_hpa: float) -> float:
    """Where pure water boils under this pressure: Antoine's equation, solved for T."""
    return ANTOINE_B / (ANTOINE_A - math.log10(pressure_hpa / HPA_PER_MMHG)) - ANTOINE_C


# --- one cook -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyrupCook:
    """Everything that makes one cook of a syrup: the syrup, the pot, the room, the burner and the probe.

    Defaults are a plain sucrose syrup on a steady 800 W burner with no losses: pure table physics. Each
    field that departs from that is one of the ways a real pot differs from the tracker's model.
    """

    seed: int = 1
    label: str = "cook"  # part of the random streams: two corpus kinds with the same seed share no noise
    # The syrup.
    sugar_g: float = 150.0
    x0: float = 0.33  # sugar mass fraction of the syrup at the start (red wine + sugar: 25-40 %)
    solids_g: float = 0.0  # wine's own solids: heat capacity only (their effect on the boil is in delta)
    delta_bpr: float = 0.0  # this syrup's rise over sucrose's: (1 + delta) x table
    # Where the kitchen is.
    altitude_m: float = 0.0
    pressure_hpa: float | None = None  # a barometer's station pressure; None: the standard atmosphere
    ambient_c: float = 21.0
    start_c: float | None = None  # None: the syrup starts at room temperature
    # The pot and its losses to the room.
    pot_j_per_k: float = 500.0
    loss_area_m2: float = LOSS_AREA_M2
    convection_w: float = 0.0  # h in h A dT^1.25, W/(m^2 K^1.25); free convection from a hot pot: 6-10
    emissivity: float = 0.0  # steel and syrup surfaces: 0.6-0.9
    # The burner: the heat it puts into the pot (not its rating), wandering by +-wander over minutes.
    power_w: float = 800.0
    wander: float = 0.0
    wander_periods_s: tuple[float, float] = (120.0, 480.0)
    off_heat_at_s: float | None = None
    burnt_c: float = BURNT_C
    # The probe.
    tau_s: float = 3.0  # thermocouple 0.5, thermistor 3, DS18B20 in steel 15, dial 30+
    noise_c: float = 0.05
    resolution_c: float = 0.0  # MAX31855 0.25, DS18B20 0.0625; 0: continuous
    interval_s: float = 1.0  # wired ~1 s; gateways 5-60 s

    def __post_init__(self) -> None:
        if not 0.0 < self.x0 < 0.95:
            raise ValueError(f"x0 must be a sugar fraction in (0, 0.95), not {self.x0}")
        if not 0.0 <= abs(self.delta_bpr) < 0.5:
            raise ValueError(f"delta_bpr is a modest departure from sucrose, not {self.delta_bpr}")
        if not 0.0 <= self.wander < 1.0:
            raise ValueError(f"wander must be in [0, 1), not {self.wander}")
        positive = {"sugar_g": self.sugar_g, "interval_s": self.interval_s, "power_w": self.power_w}
        for name, value in positive.items():
            if not value > 0.0:
                raise ValueError(f"{name} must be > 0, not {value}")
        not_negative = {
            "solids_g": self.solids_g,
            "pot_j_per_k": self.pot_j_per_k,
            "loss_area_m2": self.loss_area_m2,
            "convection_w": self.convection_w,
            "emissivity": self.emissivity,
            "tau_s": self.tau_s,
            "noise_c": self.noise_c,
            "resolution_c": self.resolution_c,
        }
        for name, value in not_negative.items():
            if not value >= 0.0:
                raise ValueError(f"{name} must be >= 0, not {value}")

    @property
    def water_g(self) -> float:
        """The water at the start (wine counts as water: its alcohol is gone long before the syrup thickens)."""
        return self.sugar_g * (1.0 - self.x0) / self.x0

    @property
    def water_boil_c(self) -> float:
        """Where plain water boils in this kitchen."""
        pressure = self.pressure_hpa if self.pressure_hpa is not None else station_pressure_hpa(self.altitude_m)
        return water_boiling_point_c(pressure)

    def room_loss_w(self, temp_c: float) -> float:
        """Heat lost to the room: natural convection (grows as dT^1.25) and radiation (as T^4)."""
        d = temp_c - self.ambient_c
        convection = self.convection_w * self.loss_area_m2 * math.copysign(abs(d) ** 1.25, d)
        radiation = (
            self.emissivity * SIGMA_SB * self.loss_area_m2 * ((temp_c + KELVIN) ** 4 - (self.ambient_c + KELVIN) ** 4)
        )
        return convection + radiation


class _Burner:
    """P(t) = P0 (1 + wander u(t)), u a sum of a few slow sinusoids with random phases: |u| <= 1.

    A gas flame or a cycling electric element does not hold its power; over minutes it drifts by a few per
    cent, which bends the climb the tracker extrapolates.
    """

    __slots__ = ("_parts", "_power_w", "_wander")

    def __init__(self, cook: SyrupCook) -> None:
        rng = random.Random(f"syrups/{cook.seed}/{cook.label}/burner")
        weights = [rng.uniform(0.5, 1.0) for _ in range(WANDER_PARTS)]
        total = sum(weights)
        low, high = cook.wander_periods_s
        self._parts = [
            (w / total, 2.0 * math.pi / rng.uniform(low, high), rng.uniform(0.0, 2.0 * math.pi)) for w in weights
        ]
        self._power_w = cook.power_w
        self._wander = cook.wander

    def power_w(self, t: float) -> float:
        if self._wander == 0.0:
            return self._power_w
        u = sum(w * math.sin(omega * t + phase) for w, omega, phase in self._parts)
        return self._power_w * (1.0 + self._wander * u)


class _Pot:
    """The syrup as one well-stirred lump: its temperature, its water and its energy balance."""

    __slots__ = ("boil_c", "boiling", "burnt", "cook", "scale", "temp_c", "water_boil_c", "water_g")

    def __init__(self, cook: SyrupCook) -> None:
        self.cook = cook
        self.water_g = cook.water_g
        self.water_boil_c = cook.water_boil_c
        self.scale = bpr_scale(self.water_boil_c, cook.delta_bpr)
        self.boil_c = self.boiling_point(self.water_g)[0]
        start = cook.ambient_c if cook.start_c is None else cook.start_c
        self.temp_c = min(start, self.boil_c)
        self.boiling = self.temp_c >= self.boil_c
        self.burnt = False

    def boiling_point(self, water_g: float) -> tuple[float, float]:
        """(boiling point °C, its slope dTb/dW in °C per g of water) with this much water left."""
        m = 1000.0 * self.cook.sugar_g / (M_SUCROSE * water_g)
        bpr, per_molal = table_bpr_molal(m)
        # dm/dW = -m/W: each gram of water that leaves raises the molality in proportion.
        return self.water_boil_c + self.scale * bpr, -self.scale * per_molal * m / water_g

    def heat_capacity(self) -> float:
        c = self.cook
        return c.pot_j_per_k + self.water_g * CP_WATER + c.sugar_g * CP_SUCROSE + c.solids_g * CP_WINE_SOLIDS

    def advance(self, power_w: float, dt: float) -> None:
        """One step of the energy balance: below the boil the net heat warms it, at the boil it makes steam."""
        capacity = self.heat_capacity()
        energy = (power_w - self.cook.room_loss_w(self.temp_c)) * dt
        warmed = self.temp_c + energy / capacity
        if warmed < self.boil_c:
            self.temp_c = warmed
            return
        self.boiling = True
        # What is left after reaching the boil leaves as steam; but as water leaves, the boiling point rises,
        # and the pot must follow it up: surplus = L dm + C (dTb/dm) dm. Solved with the slope at the start
        # of the step (dm is a fraction of a gram: the curvature over it is negligible).
        surplus = energy - capacity * (self.boil_c - self.temp_c)
        _, slope = self.boiling_point(self.water_g)
        evaporated = min(surplus / (LATENT_J_PER_G - capacity * slope), self.water_g - MIN_WATER_G)
        self.water_g -= max(evaporated, 0.0)
        self.boil_c = self.boiling_point(self.water_g)[0]
        self.temp_c = self.boil_c


@dataclass(frozen=True, slots=True)
class _State:
    t: float
    pot_c: float
    probe_c: float
    boiling: bool


def _physics(cook: SyrupCook, dt: float) -> Iterator[_State]:
    """The pot and the noise-free probe, every dt seconds from t = 0, forever."""
    pot = _Pot(cook)
    burner = _Burner(cook)
    probe_c = pot.temp_c  # the probe starts settled in the pot
    decay = math.exp(-dt / cook.tau_s) if cook.tau_s > 0.0 else 0.0
    k = 0
    while True:
        t = k * dt
        yield _State(t, pot.temp_c, probe_c, pot.boiling)
        if pot.temp_c >= cook.burnt_c:
            pot.burnt = True
        off = pot.burnt or (cook.off_heat_at_s is not None and t >= cook.off_heat_at_s)
        env0 = pot.temp_c
        pot.advance(0.0 if off else burner.power_w(t), dt)
        env1 = pot.temp_c
        # First-order probe, solved exactly for an input linear over the step: in a ramp of rate r it
        # settles r * tau behind, the lag error the field notes quote for the final climb.
        if cook.tau_s > 0.0:
            ramp_lag = (env1 - env0) / dt * cook.tau_s
            probe_c = env1 - ramp_lag + (probe_c - env0 + ramp_lag) * decay
        else:
            probe_c = env1
        k += 1


def _substeps(cook: SyrupCook) -> int:
    return max(1, math.ceil(cook.interval_s / PHYS_STEP_S - 1e-9))


def _quantise(value: float, resolution_c: float) -> float:
    return round(value / resolution_c) * resolution_c if resolution_c > 0.0 else value


def simulate_syrup(cook: SyrupCook, duration_s: float) -> Iterator[SimSample]:
    """One SimSample every interval_s from t = 0 while t < duration_s (lazily: duration may be math.inf).

    Deterministic per cook: the burner's wander and the probe's noise each draw from their own stream
    seeded from the cook's seed and label.
    """
    substeps = _substeps(cook)
    noise_rng = random.Random(f"syrups/{cook.seed}/{cook.label}/noise")
    clip = NOISE_CLIP_SIGMAS * cook.noise_c
    for k, state in enumerate(_physics(cook, cook.interval_s / substeps)):
        if k % substeps:
            continue
        t = (k // substeps) * cook.interval_s  # no drift from adding up substeps
        if t >= duration_s:
            return
        noise = min(clip, max(-clip, noise_rng.gauss(0.0, cook.noise_c))) if cook.noise_c > 0.0 else 0.0
        reading = _quantise(state.probe_c + noise, cook.resolution_c)
        phase = "boiling" if state.boiling else "heating"
        yield SimSample(t, state.pot_c, state.probe_c, reading, False, phase)


def crossing_time(cook: SyrupCook, target_c: float = TARGET_C, truth: str = "pot") -> float | None:
    """The first sample at or above the target: of the syrup itself ("pot") or the noise-free probe ("sensed")."""
    if truth not in ("pot", "sensed"):
        raise ValueError(f'truth is "pot" or "sensed", not {truth!r}')
    for sample in simulate_syrup(cook, LONGEST_S):
        if (sample.pot_c if truth == "pot" else sample.sensed_c) >= target_c:
            return sample.t
    return None


@dataclass(frozen=True)
class CookSummary:
    """What a cook did, from the physics at its own step (not the probe's sampling): for the corpus table."""

    onset_s: float  # the syrup started to boil
    onset_c: float
    crossing_s: float | None  # the syrup reached the target
    rate_f_per_min: float | None  # how fast it climbed there
    climb_s: float | None  # 5 °F below the target to the target (220 -> 225 °F)


def summarise(cook: SyrupCook, target_c: float = TARGET_C, longest_s: float = LONGEST_S) -> CookSummary:
    """Run the physics until the syrup crosses the target (or longest_s) and say when things happened."""
    onset: _State | None = None
    five_below: float | None = None
    previous: _State | None = None
    dt = cook.interval_s / _substeps(cook)
    for state in _physics(cook, dt):
        if onset is None and state.boiling:
            onset = state
        if five_below is None and state.pot_c >= target_c - 5.0 / 1.8:
            five_below = state.t
        if state.pot_c >= target_c and previous is not None and onset is not None:
            rate = (state.pot_c - previous.pot_c) / dt * 1.8 * 60.0
            climb = state.t - five_below if five_below is not None else None
            return CookSummary(onset.t, onset.pot_c, state.t, rate, climb)
        if state.t >= longest_s:
            break
        previous = state
    if onset is None:
        return CookSummary(math.inf, math.nan, None, None, None)
    return CookSummary(onset.t, onset.pot_c, None, None, None)


# --- the corpus -----------------------------------------------------------------------------------------

# Seeds 1-3 are for looking at and tuning (and 4-43, which the pot-level rules of reach.py were worked out
# on: `bench.detect --seeds`-style runs of run_syrups over them); 101-105 and 201-205 are held out. No
# threshold, constant or model choice may be chosen by looking at how the tracker does on the held-out
# seeds: they are there to say whether what was tuned carries over to syrups nobody fitted to. 201-205
# were added, unseen, when 101-105 had been looked at for two changes in a row. FRESH_SEEDS (301-305 and
# 401-405) were added, unrun, when 101-105 and 201-205 had been studied for a late alarm and two short
# warnings: they are run once, on a version already fixed, and nothing is chosen on them either.
# UNSEEN_SEEDS (501-505 and 601-605) were added, unrun, when held-out 104 and fresh 304 and 405 had been
# studied for three late alarms: run before that study and on each candidate fix tried (all dropped, for
# stopped pots, not for these seeds), they have been seen but nothing was chosen on them.
# SEALED_SEEDS (701-705 and 801-805) were added, unrun, to judge the next change: run on the version they
# were added to and on one candidate (the level's standard error from the readings in its window, dropped
# for late alarms on the tuning seeds: docs/benchmarks.md), which moved none of their rows.
TUNING_SEEDS = (1, 2, 3)
HELD_OUT_SEEDS = (101, 102, 103, 104, 105, 201, 202, 203, 204, 205)
FRESH_SEEDS = (301, 302, 303, 304, 305, 401, 402, 403, 404, 405)
UNSEEN_SEEDS = (501, 502, 503, 504, 505, 601, 602, 603, 604, 605)
SEALED_SEEDS = (701, 702, 703, 704, 705, 801, 802, 803, 804, 805)

NOMINAL_CLIMB_F_PER_MIN = (3.5, 8.0)  # the field notes' home-stove climb at 225 °F (3-8.5), with a margin
SUGAR_RANGE_G = (100.0, 300.0)
POWER_RANGE_W = (600.0, 1200.0)


def climb_rate_c_per_s(cook: SyrupCook, target_c: float = TARGET_C) -> float:
    """The rate of rise at the target from the energy balance in closed form, at the burner's mean power.

    At the boil, net power = L dW/dt + C dT/dt with dT = (dTb/dW) dW, so dT/dt = P_net / (L / |dTb/dW| + C).
    Used to pick a cook's power so the final climb is what the field notes say, and by the tests as an
    independent check of the integrator.
    """
    x = sugar_fraction_boiling_at(target_c, cook.water_boil_c, cook.delta_bpr)
    pot = _Pot(replace(cook, x0=x))
    _, slope = pot.boiling_point(pot.water_g)
    net_w = cook.power_w - cook.room_loss_w(target_c)
    return net_w / (LATENT_J_PER_G / -slope + pot.heat_capacity())


def _sugar_for_climb(cook: SyrupCook, rate_f_per_min: float) -> float:
    """The batch of sugar that makes this cook's climb at 225 °F rate_f_per_min, within the sugar range.

    The climb's denominator (latent heat over dTb/dW, plus heat capacity) is affine in the sugar mass at a
    given crossing sugar fraction, so two evaluations pin it down.
    """
    low, high = SUGAR_RANGE_G
    rate_c = rate_f_per_min / 1.8 / 60.0
    net_w = cook.power_w - cook.room_loss_w(TARGET_C)
    d_low = net_w / climb_rate_c_per_s(replace(cook, sugar_g=low))
    d_high = net_w / climb_rate_c_per_s(replace(cook, sugar_g=high))
    wanted = net_w / rate_c
    sugar = low + (wanted - d_low) * (high - low) / (d_high - d_low)
    return min(high, max(low, sugar))


def _base(rng: random.Random, seed: int, label: str) -> SyrupCook:
    """A red-wine syrup on a home stove, wired probe, no departures: what each kind starts from."""
    return SyrupCook(
        seed=seed,
        label=label,
        x0=rng.uniform(0.25, 0.40),
        ambient_c=rng.uniform(18.0, 24.0),
        pot_j_per_k=rng.uniform(300.0, 900.0),
        power_w=rng.uniform(*POWER_RANGE_W),
        tau_s=rng.uniform(1.0, 5.0),
        noise_c=rng.uniform(0.03, 0.1),
        resolution_c=rng.choice((0.0, 0.0, 0.25)),
    )


def _with_sugar(rng: random.Random, cook: SyrupCook) -> SyrupCook:
    """Pick the batch so that the final climb is a home stove's (drawn last: it depends on everything else)."""
    return replace(cook, sugar_g=_sugar_for_climb(cook, rng.uniform(*NOMINAL_CLIMB_F_PER_MIN)))


def _wine(rng: random.Random, cook: SyrupCook) -> SyrupCook:
    # Red wine carries ~25 g/L of extract: tannins, acids, glycerol; they move the boil by up to +-8 %.
    return replace(cook, delta_bpr=rng.uniform(-0.08, 0.08), solids_g=0.025 * cook.water_g)


def _losses(rng: random.Random, cook: SyrupCook) -> SyrupCook:
    cook = replace(cook, convection_w=rng.uniform(6.0, 10.0), emissivity=rng.uniform(0.6, 0.9))
    # The knob gets turned up to make up for what the room takes at the target.
    return replace(cook, power_w=cook.power_w + cook.room_loss_w(TARGET_C))


def _wandering(rng: random.Random, cook: SyrupCook) -> SyrupCook:
    return replace(cook, wander=0.08, wander_periods_s=(120.0, 480.0))


def _gateway(rng: random.Random, cook: SyrupCook) -> SyrupCook:
    return replace(cook, interval_s=rng.choice((5.0, 10.0, 15.0, 20.0, 30.0)))


def _laggy(rng: random.Random, cook: SyrupCook) -> SyrupCook:
    return replace(cook, tau_s=rng.uniform(12.0, 25.0), resolution_c=0.0625)


def _kind_steady(rng: random.Random, seed: int, label: str) -> SyrupCook:
    return _with_sugar(rng, _base(rng, seed, label))


def _kind_wine(rng: random.Random, seed: int, label: str) -> SyrupCook:
    return _with_sugar(rng, _wine(rng, _base(rng, seed, label)))


def _kind_losses(rng: random.Random, seed: int, label: str) -> SyrupCook:
    return _with_sugar(rng, _wandering(rng, _losses(rng, _base(rng, seed, label))))


def _kind_near(rng: random.Random, seed: int, label: str) -> SyrupCook:
    cook = _base(rng, seed, label)
    # The syrup was made thick to begin with (or already reduced): it starts to boil 3-9.5 °F below 225 °F.
    onset_c = TARGET_C - rng.uniform(3.0, 9.5) / 1.8
    cook = replace(cook, x0=sugar_fraction_boiling_at(onset_c, cook.water_boil_c, cook.delta_bpr))
    return _with_sugar(rng, cook)


def _kind_altitude(rng: random.Random, seed: int, label: str) -> SyrupCook:
    # 5,000 ft and nobody told the service: the target stays 225 °F, but water boils at ~94.9 °C, so 225 °F
    # is ~23 °F above this kitchen's boiling water (a firmer syrup, and a steeper climb into it).
    return _with_sugar(rng, replace(_base(rng, seed, label), altitude_m=5000.0 * 0.3048))


def _kind_gateway(rng: random.Random, seed: int, label: str) -> SyrupCook:
    return _with_sugar(rng, _gateway(rng, _base(rng, seed, label)))


def _kind_big_stove(rng: random.Random, seed: int, label: str) -> SyrupCook:
    cook = replace(_base(rng, seed, label), power_w=rng.uniform(2300.0, 2500.0))
    # A big batch on a big burner: the fastest climb a home kitchen sees.
    return replace(cook, sugar_g=rng.uniform(200.0, 300.0))


def _kind_slow_stove(rng: random.Random, seed: int, label: str) -> SyrupCook:
    cook = replace(_base(rng, seed, label), power_w=rng.uniform(450.0, 550.0))
    return replace(cook, sugar_g=rng.uniform(150.0, 250.0))


def _kind_laggy(rng: random.Random, seed: int, label: str) -> SyrupCook:
    return _with_sugar(rng, _laggy(rng, _base(rng, seed, label)))


def _kind_everything(rng: random.Random, seed: int, label: str) -> SyrupCook:
    cook = _laggy(rng, _gateway(rng, _wandering(rng, _losses(rng, _wine(rng, _base(rng, seed, label))))))
    # Started while the braise finished: the wine is already warm.
    return _with_sugar(rng, replace(cook, start_c=rng.uniform(55.0, 75.0)))


@dataclass(frozen=True)
class Kind:
    """A named family of cooks: call it with a seed for one cook, its parameters drawn from its own stream."""

    key: str  # names the random stream: renaming the description does not change the cooks
    name: str
    draw: Callable[[random.Random, int, str], SyrupCook]

    def __call__(self, seed: int) -> SyrupCook:
        return self.draw(random.Random(f"syrups/{self.key}/{seed}"), seed, self.key)


KINDS: list[Kind] = [
    Kind("steady", "sucrose, steady burner", _kind_steady),
    Kind("wine", "wine syrup ±8 %", _kind_wine),
    Kind("losses", "room losses + wandering burner", _kind_losses),
    Kind("near", "starts boiling within 10 °F", _kind_near),
    Kind("altitude", "5,000 ft, uncalibrated", _kind_altitude),
    Kind("gateway", "gateway 5–30 s", _kind_gateway),
    Kind("big-stove", "2.4 kW stove", _kind_big_stove),
    Kind("slow-stove", "slow stove", _kind_slow_stove),
    Kind("laggy", "laggy probe", _kind_laggy),
    Kind("everything", "everything at once", _kind_everything),
]


def corpus(seeds: Sequence[int] = TUNING_SEEDS) -> list[tuple[str, int, SyrupCook]]:
    """(kind name, seed, cook) for every kind and seed, kinds in order."""
    return [(kind.name, seed, kind(seed)) for kind in KINDS for seed in seeds]


# --- the table ------------------------------------------------------------------------------------------


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _row(name: str, seed: int, cook: SyrupCook) -> list[str]:
    s = summarise(cook)
    sat = None if s.crossing_s is None else s.crossing_s - s.onset_s
    return [
        name,
        str(seed),
        f"{cook.water_boil_c:.2f}",
        f"{cook.delta_bpr:+.3f}",
        f"{100 * cook.x0:.1f} %",
        f"{cook.sugar_g:.0f}",
        f"{cook.power_w:.0f}",
        f"{cook.interval_s:g}",
        f"{cook.tau_s:.1f}",
        f"{_clock(s.onset_s)} ({s.onset_c * 1.8 + 32:.1f} °F)",
        _clock(s.crossing_s),
        "—" if s.rate_f_per_min is None else f"{s.rate_f_per_min:.1f}",
        _clock(sat),
        "—" if s.climb_s is None else f"{s.climb_s:.0f}",
    ]


HEADER = [
    "kind",
    "seed",
    "T_w °C",
    "delta",
    "x0",
    "sugar g",
    "P0 W",
    "every s",
    "tau s",
    "boil onset",
    "225 °F at",
    "°F/min there",
    "onset→225",
    "220→225 s",
]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [HEADER, *rows]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--held-out", action="store_true", help="the held-out seeds (look, do not tune)")
    which.add_argument("--fresh", action="store_true", help="the fresh held-out seeds (run once, never tune)")
    which.add_argument("--unseen", action="store_true", help="the seeds that judged the last fix (never tune)")
    which.add_argument(
        "--sealed", action="store_true", help="the seeds that judged the level's σ candidate (never tune)"
    )
    which.add_argument("--all", action="store_true", help="tuning and every held-out set")
    args = parser.parse_args(argv)
    seeds = (
        HELD_OUT_SEEDS
        if args.held_out
        else FRESH_SEEDS
        if args.fresh
        else UNSEEN_SEEDS
        if args.unseen
        else SEALED_SEEDS
        if args.sealed
        else TUNING_SEEDS + HELD_OUT_SEEDS + FRESH_SEEDS + UNSEEN_SEEDS + SEALED_SEEDS
        if args.all
        else TUNING_SEEDS
    )
    started = time.perf_counter()
    rows = [_row(name, seed, cook) for name, seed, cook in corpus(seeds)]
    print(_table(rows))
    missed = sum(row[10] == "—" for row in rows)
    print(
        f"\n{len(rows)} cooks, {missed} never reached 225 °F in {LONGEST_S / 3600:g} h; "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
