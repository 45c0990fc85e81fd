"""The second family of test syrups, checked against the field notes and against its own physics.

Every figure is measured on what the simulator puts out (samples, onset, crossing), or compared with an
independent closed form, so a change that breaks the physics fails here.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import replace

import pytest

from bench.syrups import (
    FRESH_SEEDS,
    HELD_OUT_SEEDS,
    KINDS,
    SEALED_SEEDS,
    TUNING_SEEDS,
    UNSEEN_SEEDS,
    SyrupCook,
    climb_rate_c_per_s,
    corpus,
    crossing_time,
    molality,
    simulate_syrup,
    summarise,
    syrup_boiling_point_c,
    table_bpr_c,
)
from drivers.simulated import SimSample

F225 = (225.0 - 32.0) / 1.8
DEG_F = 1.0 / 1.8  # one °F as a difference, in °C
# The candy table, as the field notes print it: sugar fraction -> boiling point at sea level (°C).
FIELD_NOTES_ROWS = [
    (0.50, 102.0),
    (0.60, 103.0),
    (0.70, 105.6),
    (0.75, 107.8),
    (0.80, 111.0),
    (0.85, 115.5),
    (0.90, 122.0),
]
KIND = {kind.key: kind for kind in KINDS}
ALL_COOKS = corpus(TUNING_SEEDS + HELD_OUT_SEEDS)
# Plain syrups at sea level on an ordinary burner: the field notes' "home stove".
HOME_STOVE = ("steady", "wine", "losses", "near", "gateway", "laggy", "everything")


def first_boiling(cook: SyrupCook, longest_s: float = 3600.0) -> SimSample:
    for sample in simulate_syrup(cook, longest_s):
        if sample.phase == "boiling":
            return sample
    raise AssertionError("the syrup never boiled")


def around(cook: SyrupCook, celsius: float, half_window_s: float) -> tuple[SimSample, float]:
    """The first sample at or above celsius, and the pot's true rate (°C/s) there as a central difference."""
    samples: list[SimSample] = []
    hit: int | None = None
    for sample in simulate_syrup(cook, 4 * 3600.0):
        samples.append(sample)
        if hit is None and sample.pot_c >= celsius:
            hit = len(samples) - 1
        if hit is not None and sample.t >= samples[hit].t + half_window_s:
            break
    assert hit is not None, f"the pot never reached {celsius:.2f} °C"
    before = min(samples, key=lambda s: abs(s.t - (samples[hit].t - half_window_s)))
    after = samples[-1]
    return samples[hit], (after.pot_c - before.pot_c) / (after.t - before.t)


# --- the boiling-point curve --------------------------------------------------------------------------


@pytest.mark.parametrize(("fraction", "boils_c"), FIELD_NOTES_ROWS)
def test_the_table_passes_through_the_field_notes_rows(fraction: float, boils_c: float) -> None:
    assert syrup_boiling_point_c(fraction) == pytest.approx(boils_c, abs=0.05)
    assert 100.0 + table_bpr_c(fraction) == pytest.approx(boils_c, abs=0.05)


def test_dilute_syrups_follow_ebullioscopy() -> None:
    # The ideal limit: 0.512 °C kg/mol times the molality, as the sugar goes to zero.
    for fraction in (0.005, 0.02):
        assert table_bpr_c(fraction) == pytest.approx(0.512 * molality(fraction), rel=0.03)
    assert table_bpr_c(0.25) == pytest.approx(0.5, abs=0.05)
    assert table_bpr_c(0.40) == pytest.approx(1.1, abs=0.1)


def test_the_curve_is_monotone_and_continues_past_the_table() -> None:
    fractions = [i / 1000.0 for i in range(0, 996)]
    rises = [table_bpr_c(x) for x in fractions]
    assert all(b > a for a, b in itertools.pairwise(rises))
    # No kink where the table ends: the slope on either side of 90 % agrees within a few per cent.
    below = (table_bpr_c(0.9) - table_bpr_c(0.899)) / 0.001
    above = (table_bpr_c(0.901) - table_bpr_c(0.9)) / 0.001
    assert above == pytest.approx(below, rel=0.05)
    # The candy stages past the table: hard crack (300-310 °F, 149-154 °C) at ~99 % sugar.
    assert 145.0 < 100.0 + table_bpr_c(0.99) < 158.0


def test_water_boils_lower_at_5000_ft() -> None:
    assert SyrupCook().water_boil_c == pytest.approx(100.0, abs=0.05)
    assert SyrupCook(altitude_m=5000 * 0.3048).water_boil_c == pytest.approx(94.9, abs=0.1)
    assert SyrupCook(pressure_hpa=843.0).water_boil_c == pytest.approx(94.9, abs=0.1)


def test_delta_scales_the_rise() -> None:
    for fraction in (0.5, 0.72, 0.85):
        plain = syrup_boiling_point_c(fraction) - 100.0
        assert syrup_boiling_point_c(fraction, delta=0.06) - 100.0 == pytest.approx(1.06 * plain, rel=1e-9)
        assert syrup_boiling_point_c(fraction, delta=-0.08) - 100.0 == pytest.approx(0.92 * plain, rel=1e-9)


@pytest.mark.parametrize(("delta", "altitude_m"), [(0.0, 0.0), (0.07, 0.0), (-0.05, 0.0), (0.04, 1524.0)])
def test_the_simulated_syrup_boils_where_its_delta_and_altitude_put_it(delta: float, altitude_m: float) -> None:
    cook = SyrupCook(x0=0.6, delta_bpr=delta, altitude_m=altitude_m, noise_c=0.0, tau_s=0.0)
    water_c = cook.water_boil_c
    # The ebullioscopic constant scales with T_b^2: at altitude the rise is a little smaller.
    expected = water_c + (1.0 + delta) * ((water_c + 273.15) / 373.15) ** 2 * table_bpr_c(0.6)
    assert first_boiling(cook).pot_c == pytest.approx(expected, abs=0.02)


# --- the pot -----------------------------------------------------------------------------------------


def test_same_seed_same_trace_and_another_seed_another() -> None:
    kind = KIND["everything"]
    first = list(simulate_syrup(kind(1), 900.0))
    assert first == list(simulate_syrup(kind(1), 900.0))
    assert first != list(simulate_syrup(kind(2), 900.0))
    # Same pot, another seed: the physics is the same (no wander) but the probe's noise is not.
    cook = KIND["steady"](1)
    a, b = list(simulate_syrup(cook, 300.0)), list(simulate_syrup(replace(cook, seed=99), 300.0))
    assert [s.pot_c for s in a] == [s.pot_c for s in b]
    assert [s.reading_c for s in a] != [s.reading_c for s in b]


def test_heating_to_the_boil_takes_what_the_heat_capacity_says() -> None:
    # No losses: t = C (T_b - T_0) / P, with C = pot + water c_w + sugar c_s.
    cook = SyrupCook(sugar_g=150.0, x0=0.3, pot_j_per_k=500.0, power_w=800.0, ambient_c=20.0)
    capacity = 500.0 + cook.water_g * 4.18 + 150.0 * 1.25
    expected = capacity * (syrup_boiling_point_c(0.3) - 20.0) / 800.0
    assert summarise(cook).onset_s == pytest.approx(expected, abs=1.0)


def test_room_losses_grow_faster_than_linearly_and_slow_the_heat_up() -> None:
    cook = SyrupCook(convection_w=8.0, emissivity=0.8)
    per_k_low = cook.room_loss_w(50.0) / (50.0 - cook.ambient_c)
    per_k_high = cook.room_loss_w(105.0) / (105.0 - cook.ambient_c)
    assert per_k_high > 1.2 * per_k_low
    assert 0.08 * 800.0 < cook.room_loss_w(100.0) < 0.2 * 800.0
    assert summarise(cook).onset_s > 1.05 * summarise(replace(cook, convection_w=0.0, emissivity=0.0)).onset_s


@pytest.mark.parametrize("seed", TUNING_SEEDS)
def test_the_integrated_climb_matches_the_energy_balance(seed: int) -> None:
    cook = KIND["steady"](seed)
    measured = summarise(cook).rate_f_per_min
    assert measured is not None
    assert measured == pytest.approx(climb_rate_c_per_s(cook) * 1.8 * 60.0, rel=0.02)


def test_the_probe_lags_by_rate_times_tau_on_the_final_climb() -> None:
    cook = replace(KIND["steady"](1), tau_s=15.0, noise_c=0.0, resolution_c=0.0, interval_s=1.0)
    at, rate_c_per_s = around(cook, F225, half_window_s=5.0)
    lag = at.pot_c - at.sensed_c
    assert lag > 0.5 * DEG_F  # a real lag, not a rounding
    assert lag == pytest.approx(rate_c_per_s * 15.0, rel=0.15)
    probe_crossed, pot_crossed = crossing_time(cook, truth="sensed"), crossing_time(cook, truth="pot")
    assert probe_crossed is not None and pot_crossed is not None
    assert probe_crossed > pot_crossed


def test_the_burner_stops_when_the_syrup_burns() -> None:
    cook = replace(KIND["big-stove"](1), noise_c=0.0)
    crossed = crossing_time(cook)
    assert crossed is not None
    hottest = max(s.pot_c for s in simulate_syrup(cook, crossed + 1200.0))
    assert 160.0 <= hottest < 161.0


# --- the corpus ------------------------------------------------------------------------------------------


def test_the_corpus_has_every_kind_and_seed() -> None:
    assert len(ALL_COOKS) == len(KINDS) * (len(TUNING_SEEDS) + len(HELD_OUT_SEEDS))
    assert not set(TUNING_SEEDS) & set(HELD_OUT_SEEDS)
    # the fresh held-out set shares no seed with the others (its cooks are never built here)
    assert len(FRESH_SEEDS) == len(set(FRESH_SEEDS)) == 10
    assert not set(FRESH_SEEDS) & (set(TUNING_SEEDS) | set(HELD_OUT_SEEDS))
    assert len(UNSEEN_SEEDS) == len(set(UNSEEN_SEEDS)) == 10
    assert not set(UNSEEN_SEEDS) & (set(TUNING_SEEDS) | set(HELD_OUT_SEEDS) | set(FRESH_SEEDS))
    assert len(SEALED_SEEDS) == len(set(SEALED_SEEDS)) == 10
    assert not set(SEALED_SEEDS) & (set(TUNING_SEEDS) | set(HELD_OUT_SEEDS) | set(FRESH_SEEDS) | set(UNSEEN_SEEDS))
    assert len({cook for _, _, cook in ALL_COOKS}) == len(ALL_COOKS)


@pytest.mark.parametrize(("name", "seed", "cook"), ALL_COOKS, ids=[f"{n}-{s}" for n, s, _ in ALL_COOKS])
def test_every_corpus_cook_crosses_225_f(name: str, seed: int, cook: SyrupCook) -> None:
    crossed = crossing_time(cook)
    assert crossed is not None and crossed < 4 * 3600.0


@pytest.mark.parametrize("seed", TUNING_SEEDS + HELD_OUT_SEEDS)
def test_near_target_cooks_start_boiling_within_10_f(seed: int) -> None:
    onset = first_boiling(KIND["near"](seed))
    assert F225 - 10.0 * DEG_F <= onset.pot_c < F225


def test_the_climbs_look_like_the_field_notes() -> None:
    summaries = {kind.key: [summarise(kind(seed)) for seed in TUNING_SEEDS + HELD_OUT_SEEDS] for kind in KINDS}
    home = [s for key in HOME_STOVE for s in summaries[key]]
    # Final climb at 225 °F: 3-8.5 °F/min on a home stove; 220 -> 225 °F takes roughly 40-120 s.
    assert all(3.0 <= s.rate_f_per_min <= 8.5 for s in home if s.rate_f_per_min is not None)
    assert all(40.0 <= s.climb_s <= 125.0 for s in home if s.climb_s is not None)

    def median_rate(key: str) -> float:
        return statistics.median(s.rate_f_per_min or math.nan for s in summaries[key])

    assert median_rate("big-stove") > 1.4 * statistics.median(s.rate_f_per_min or math.nan for s in home)
    assert median_rate("slow-stove") < 0.75 * statistics.median(s.rate_f_per_min or math.nan for s in home)
