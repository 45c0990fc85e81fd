"""The simulated pot, checked by what it puts out: the physics a tracker will be scored against.

Every figure asserted here is measured on ``simulate()``'s samples, not read back from parameters,
so a change in the model that breaks the field notes fails a test.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from contextlib import aclosing

import pytest

from drivers.base import ProbeEvent, ProbeNotice, ProbeUrlError, Reading, c_to_f, f_to_c
from drivers.registry import open_probe, parse_probe_url
from drivers.simulated import (
    CookHand,
    PotScenario,
    SimSample,
    SimulatedProbe,
    from_url,
    scenario_from_query,
    simulate,
    syrup_boiling_point_c,
)

F220 = f_to_c(220.0)
F225 = f_to_c(225.0)
F235 = f_to_c(235.0)
DEG_F = 5.0 / 9.0  # one °F as a difference, in °C


def trace(scenario: PotScenario, duration_s: float = 3600.0) -> list[SimSample]:
    return list(simulate(scenario, duration_s))


def crossing(samples: list[SimSample], celsius: float) -> float:
    """Sim time at which the pot first reaches ``celsius``."""
    for sample in samples:
        if sample.pot_c >= celsius:
            return sample.t
    raise AssertionError(f"the pot never reached {celsius:.2f} °C")


def rate_f_per_min(samples: list[SimSample], t: float, half_window_s: float = 10.0) -> float:
    """The true rate of rise (°F/min) at t, as a central difference."""
    by_t = {s.t: s.pot_c for s in samples}
    rise_c = by_t[t + half_window_s] - by_t[t - half_window_s]
    return rise_c * 9.0 / 5.0 / (2.0 * half_window_s) * 60.0


def climb(scenario: PotScenario) -> tuple[float, float, float]:
    """(rate at 225 °F in °F/min, seconds 220 -> 225 °F, seconds 225 -> 235 °F)."""
    samples = trace(scenario)
    t220, t225, t235 = crossing(samples, F220), crossing(samples, F225), crossing(samples, F235)
    return rate_f_per_min(samples, t225), t225 - t220, t235 - t225


# --- the pot --------------------------------------------------------------------------------------------


def test_default_caramel_final_climb_matches_the_field_notes() -> None:
    rate, t220_225, t225_235 = climb(PotScenario())
    assert 3.0 <= rate <= 8.5
    assert 40.0 <= t220_225 <= 120.0
    assert 50.0 <= t225_235 <= 150.0


def test_default_caramel_takes_a_plausible_time_and_sits_near_the_boil_first() -> None:
    samples = trace(PotScenario())
    t_boil, t225 = crossing(samples, 100.0), crossing(samples, F225)
    assert 120.0 <= t_boil <= 600.0  # a saucepan of wine comes to the boil in minutes
    assert 15 * 60.0 <= t225 <= 40 * 60.0  # and reduces for a good while
    # Halfway through the reduction the syrup is still within a few °F of boiling water: the
    # temperature does not rise in step with the water leaving.
    halfway = next(s for s in samples if s.t >= (t_boil + t225) / 2)
    assert halfway.pot_c < 100.0 + 4.0 * DEG_F


def test_slow_and_fast_stoves_climb_in_proportion_to_the_heat_that_makes_steam() -> None:
    slow, default, fast = (climb(PotScenario(power_w=p)) for p in (500.0, 800.0, 1500.0))
    assert slow[0] < default[0] < fast[0]
    assert slow[1] > default[1] > fast[1]
    assert slow[2] > default[2] > fast[2]
    # At the boil, the rate of rise is set by the water boiled off: by the power left after losses.
    losses_w = PotScenario().loss_w_per_k * (F225 - PotScenario().ambient_c)
    expected = (1500.0 - losses_w) / (500.0 - losses_w)
    assert fast[0] / slow[0] == pytest.approx(expected, rel=0.1)
    assert slow[1] / fast[1] == pytest.approx(expected, rel=0.2)


def test_syrup_boiling_point_follows_norrish_and_clausius_clapeyron() -> None:
    assert syrup_boiling_point_c(0.75) == pytest.approx(107.8, abs=0.5)
    assert syrup_boiling_point_c(0.50) == pytest.approx(102.0, abs=0.5)
    assert syrup_boiling_point_c(0.80) == pytest.approx(111.0, abs=0.6)
    assert syrup_boiling_point_c(0.0, water_boil_c=98.5) == 98.5
    fractions = [i / 100 for i in range(0, 95)]
    points = [syrup_boiling_point_c(x) for x in fractions]
    assert points == sorted(points)
    # The candy-maker's rule: at altitude the syrup boils the same few degrees above local water.
    rise_sea_level = syrup_boiling_point_c(0.72) - 100.0
    rise_high = syrup_boiling_point_c(0.72, water_boil_c=95.0) - 95.0
    assert rise_high == pytest.approx(rise_sea_level, abs=0.4)


def test_caramel_at_altitude_boils_lower_and_reaches_225f_later_in_the_reduction() -> None:
    sea, high = trace(PotScenario()), trace(PotScenario(water_boil_c=95.0))
    first_boil_sea = max(s.pot_c for s in sea if s.t <= crossing(sea, 99.9) + 60)
    first_boil_high = max(s.pot_c for s in high if 300 <= s.t <= 600)
    assert first_boil_sea == pytest.approx(100.5, abs=0.4)  # 25 % sugar raises it half a degree
    assert first_boil_high == pytest.approx(95.5, abs=0.4)
    assert crossing(high, F225) > crossing(sea, F225)


def test_water_plateaus_at_the_local_boiling_point() -> None:
    samples = trace(PotScenario(kind="water", water_boil_c=98.5), 1800.0)
    assert all(s.phase == "water" for s in samples)
    t_boil = crossing(samples, 98.5 - 1e-6)
    assert t_boil < 600.0
    after = [s for s in samples if s.t >= t_boil]
    assert all(s.pot_c == pytest.approx(98.5, abs=1e-6) for s in after)
    assert max(s.pot_c for s in samples) <= 98.5 + 1e-9
    settled = [s.reading_c for s in after if s.t >= t_boil + 60.0 and s.reading_c is not None]
    assert statistics.median(settled) == pytest.approx(98.5, abs=0.05)


def test_off_heat_pot_cools_towards_the_kitchen() -> None:
    samples = trace(PotScenario(off_heat_at_s=1000.0), 2800.0)
    after = [s.pot_c for s in samples if s.t >= 1000.0]
    assert all(b < a for a, b in itertools.pairwise(after))
    at_off = after[0]
    five_min_later = next(s.pot_c for s in samples if s.t >= 1300.0)
    assert at_off - five_min_later >= 20.0 * DEG_F
    assert min(after) > PotScenario().ambient_c


def test_stall_hovers_just_below_its_limit() -> None:
    limit_c = f_to_c(223.5)
    samples = trace(PotScenario(hold_below_c=limit_c), 3600.0)
    assert max(s.pot_c for s in samples) < limit_c
    last_15_min = [s.pot_c for s in samples if s.t >= 2700.0]
    assert all(limit_c - 1.0 * DEG_F <= c < limit_c for c in last_15_min)


def test_the_caramel_burns_then_comes_off_the_heat_and_cools() -> None:
    samples = trace(PotScenario(interval_s=5.0), 3 * 3600.0)
    hottest = max(samples, key=lambda s: s.pot_c)
    assert 149.0 <= hottest.pot_c <= 151.0
    assert samples[-1].pot_c == pytest.approx(PotScenario().ambient_c, abs=1.0)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_braise_stays_mostly_in_its_window_and_wanders(seed: int) -> None:
    samples = trace(PotScenario(kind="braise", seed=seed), 7200.0)
    fahrenheit = [c_to_f(s.pot_c) for s in samples]
    entered = next(i for i, f in enumerate(fahrenheit) if f >= 185.0)
    assert samples[entered].t < 20 * 60.0
    held = fahrenheit[entered:]
    inside = sum(185.0 <= f <= 205.0 for f in held) / len(held)
    assert inside >= 0.9
    assert max(held) - min(held) >= 3.0  # a cook at a knob, not a thermostat
    assert max(held) < 212.0  # a gentle simmer never boils


def test_braise_comes_off_the_heat_when_its_time_is_up() -> None:
    samples = trace(PotScenario(kind="braise", braise_s=1800.0), 3000.0)
    after = [s.pot_c for s in samples if s.t >= 1800.0]
    assert all(b < a for a, b in itertools.pairwise(after))


def test_rillons_braises_then_moves_the_probe_to_a_warm_caramel() -> None:
    samples = trace(PotScenario(kind="rillons", braise_s=1800.0), 1800.0 + 3600.0)
    phases = [s.phase for s in samples]
    assert set(phases[:1801]) == {"braise"}
    assert set(phases[1801:]) == {"caramel"}
    first_caramel = samples[1801]
    assert 60.0 <= first_caramel.pot_c <= 80.0
    assert crossing(samples, F225) > 1800.0


# --- the probe ------------------------------------------------------------------------------------------


def test_a_slow_probe_lags_a_fast_one_by_about_rate_times_tau() -> None:
    fast = {s.t: s for s in simulate(PotScenario(tau_s=0.5, noise_c=0.0), 2000.0)}
    slow = {s.t: s for s in simulate(PotScenario(tau_s=15.0, noise_c=0.0), 2000.0)}
    at = crossing(list(fast.values()), F225)
    rate_c_per_s = (fast[at + 5].pot_c - fast[at - 5].pot_c) / 10.0
    lag_c = fast[at].sensed_c - slow[at].sensed_c
    # On an accelerating climb a first-order probe lags by the recent (slightly lower) rate times tau.
    assert lag_c == pytest.approx(rate_c_per_s * (15.0 - 0.5), rel=0.3)
    assert fast[at].pot_c - fast[at].sensed_c < 0.1


def test_noise_is_gaussian_clipped_and_quantised() -> None:
    samples = trace(PotScenario(kind="water", noise_c=0.3, noise_clip_c=0.5, resolution_c=0.25), 1800.0)
    readings = [s.reading_c for s in samples if s.reading_c is not None]
    assert len(readings) == len(samples)
    errors = [r - s.sensed_c for r, s in zip(readings, samples, strict=True)]
    assert all(abs(e) <= 0.5 + 0.125 + 1e-9 for e in errors)
    assert statistics.pstdev(errors) == pytest.approx(0.3 * 0.9, rel=0.2)  # clipping trims the tails
    assert all(r / 0.25 == round(r / 0.25) for r in readings)


def test_offset_makes_a_probe_read_high_by_that_much() -> None:
    samples = trace(PotScenario(kind="water", water_boil_c=98.5, offset_c=2.0 * DEG_F), 1800.0)
    plateau = [s.reading_c for s in samples if s.t >= 1200.0 and s.reading_c is not None]
    assert statistics.mean(plateau) == pytest.approx(98.5 + 2.0 * DEG_F, abs=0.03)
    assert all(s.sensed_c - s.pot_c == pytest.approx(2.0 * DEG_F, abs=1e-6) for s in samples if s.t >= 1200)


def test_samples_come_every_interval() -> None:
    samples = trace(PotScenario(interval_s=5.0), 600.0)
    assert [s.t for s in samples] == [5.0 * i for i in range(120)]


def test_dropouts_leave_gaps_and_change_nothing_else() -> None:
    plain = trace(PotScenario(), 1200.0)
    gappy = trace(PotScenario(dropouts=((600.0, 45.0), (900.0, 5.0))), 1200.0)
    times = {s.t for s in gappy}
    assert not any(600.0 <= t < 645.0 or 900.0 <= t < 905.0 for t in times)
    assert {599.0, 645.0, 899.0, 905.0} <= times
    assert [s for s in plain if s.t in times] == gappy


def test_spikes_and_bursts_are_wild_far_from_truth_and_flagged() -> None:
    samples = trace(PotScenario(spikes_at=(300.0, 900.0), bursts_at=(1200.0,)), 1500.0)
    wild = [s for s in samples if s.wild]
    assert [s.t for s in wild] == [300.0, 900.0, 1200.0, 1201.0, 1202.0]
    for s in wild:
        assert s.reading_c is not None
        assert abs(s.reading_c - s.pot_c) >= 8.0 * DEG_F
        assert -80.0 * DEG_F - 1e-9 <= s.reading_c - s.pot_c <= 150.0 * DEG_F + 1e-9
    burst = [s.reading_c for s in wild[2:]]
    assert len(set(burst)) == 3  # independent values, not one stuck number
    tame = [s for s in samples if not s.wild]
    assert all(s.reading_c is not None and abs(s.reading_c - s.sensed_c) <= 0.55 + 1e-9 for s in tame)


def test_every_wild_value_is_at_least_8f_from_truth_and_spread_over_the_range() -> None:
    scenario = PotScenario(kind="braise", bursts_per_hour=600.0, resolution_c=0.25)
    offsets_f = [(s.reading_c - s.pot_c) * 9.0 / 5.0 for s in simulate(scenario, 7200.0) if s.wild and s.reading_c]
    assert len(offsets_f) > 2000  # enough that a value inside +-8 °F would turn up
    assert all(abs(d) >= 8.0 for d in offsets_f)
    assert min(offsets_f) < -70.0 and max(offsets_f) > 140.0
    below = sum(d < 0 for d in offsets_f) / len(offsets_f)
    assert below == pytest.approx(72.0 / 214.0, abs=0.05)  # uniform over -80..-8 and +8..+150 °F


def test_faults_read_none() -> None:
    samples = trace(PotScenario(faults_at=(500.0, 700.5)), 1000.0)
    faulty = [s.t for s in samples if s.reading_c is None]
    assert faulty == [500.0, 701.0]  # the first sample at or after each time
    assert not any(s.wild for s in samples)


def test_random_trouble_comes_at_about_its_rate() -> None:
    scenario = PotScenario(kind="braise", spikes_per_hour=60.0, faults_per_hour=30.0, dropouts_per_hour=6.0)
    samples = trace(scenario, 4 * 3600.0)
    spikes = sum(s.wild for s in samples)
    faults = sum(s.reading_c is None for s in samples)
    missing = 4 * 3600 - len(samples)
    assert 160 <= spikes <= 320
    assert 80 <= faults <= 160
    assert 24 * 20 * 0.3 <= missing <= 24 * 120 * 2.0


def test_a_probe_on_the_counter_reads_towards_the_kitchen_and_back() -> None:
    samples = trace(PotScenario(tau_s=3.0, removed=((900.0, 120.0),)), 1200.0)
    out = [s for s in samples if 900.0 < s.t < 1020.0]
    assert all(s.phase == "removed" and s.pot_c == PotScenario().ambient_c for s in out)
    assert all(b.sensed_c < a.sensed_c for a, b in itertools.pairwise(out))
    assert out[-1].sensed_c < out[0].sensed_c - 20.0
    back = next(s for s in samples if s.t == 1050.0)
    assert back.phase == "caramel"
    assert back.sensed_c == pytest.approx(back.pot_c, abs=0.5)


def test_same_seed_same_trace_other_seed_other_trace() -> None:
    scenario = PotScenario(kind="rillons", braise_s=1800.0, spikes_per_hour=20.0, dropouts_per_hour=4.0)
    assert trace(scenario) == trace(scenario)
    assert trace(scenario) != trace(PotScenario(kind="rillons", braise_s=1800.0, seed=2))


def test_simulate_is_fast_enough_for_the_benchmark() -> None:
    started = time.perf_counter()
    samples = trace(PotScenario(kind="braise"), 3600.0)
    elapsed = time.perf_counter() - started
    assert len(samples) == 3600
    assert elapsed < 1.0  # measured ~0.05 s; generous for a loaded CI runner


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        PotScenario(kind="soup")
    with pytest.raises(ValueError, match="interval_s"):
        PotScenario(interval_s=0.0)


# --- the sim:// URL and the live driver -----------------------------------------------------------------


def test_url_options_become_a_scenario() -> None:
    scenario = scenario_from_query(
        {
            "kind": "caramel",
            "seed": "7",
            "boil": "209F",
            "offset": "2F",
            "braise": "1h30min",
            "interval": "5s",
            "tau": "15",
            "noise": "0.1C",
            "spikes_per_hour": "2",
            "speed": "20",
        }
    )
    assert scenario.kind == "caramel"
    assert scenario.seed == 7
    assert scenario.water_boil_c == pytest.approx(f_to_c(209.0))
    assert scenario.offset_c == pytest.approx(2.0 * DEG_F)  # an offset is a difference: no 32
    assert scenario.braise_s == 5400.0
    assert scenario.interval_s == 5.0
    assert scenario.tau_s == 15.0
    assert scenario.noise_c == 0.1
    assert scenario.spikes_per_hour == 2.0
    assert scenario_from_query({}).kind == "rillons"
    assert scenario_from_query({"boil": "98.5 °C"}).water_boil_c == 98.5


@pytest.mark.parametrize(
    ("query", "option"),
    [
        ("speed=0", "speed"),
        ("speed=fast", "speed"),
        ("kind=soup", "kind"),
        ("seed=1.5", "seed"),
        ("boil=98.5", "boil"),
        ("boil=300C", "boil"),
        ("offset=2", "offset"),
        ("braise=2", "braise"),
        ("braise=2 fortnights", "braise"),
        ("interval=-1", "interval"),
        ("interval=0", "interval"),
        ("tau=slow", "tau"),
        ("noise=-1", "noise"),
        ("spikes_per_hour=lots", "spikes_per_hour"),
        ("colour=red", "colour"),
    ],
)
def test_bad_url_options_name_the_option(query: str, option: str) -> None:
    with pytest.raises(ProbeUrlError, match=option):
        from_url("pot", parse_probe_url(f"sim://?{query}"), time.monotonic)


def test_the_registry_opens_sim_urls() -> None:
    probe = open_probe("pot", "sim://?speed=20")
    assert isinstance(probe, SimulatedProbe)
    assert probe.probe_id == "pot"
    assert probe.speed == 20.0
    assert probe.scenario.kind == "rillons"


def test_a_live_pot_always_comes_off_the_heat_in_the_end() -> None:
    assert SimulatedProbe("pot", PotScenario(kind="water")).scenario.off_heat_at_s == 3600.0
    assert SimulatedProbe("pot", PotScenario(kind="braise")).scenario.off_heat_at_s is not None
    assert SimulatedProbe("pot", PotScenario(off_heat_at_s=60.0)).scenario.off_heat_at_s == 60.0


def test_a_braise_longer_than_the_cap_runs_its_whole_length() -> None:
    """A 24 h braise (the soak's cook) is not cut to 12 h: it comes off the heat when its time is up."""
    day = SimulatedProbe("pot", PotScenario(kind="braise", braise_s=86400.0)).scenario
    assert day.off_heat_at_s == 86400.0
    assert SimulatedProbe("pot", PotScenario(kind="braise")).scenario.off_heat_at_s == 12 * 3600.0
    assert SimulatedProbe("pot", PotScenario(kind="caramel", braise_s=86400.0)).scenario.off_heat_at_s == 12 * 3600.0


async def first_events(probe: SimulatedProbe, count: int, timeout_s: float = 10.0) -> list[ProbeEvent]:
    got: list[ProbeEvent] = []
    async with asyncio.timeout(timeout_s), aclosing(probe.events()) as events:
        async for event in events:
            got.append(event)
            if len(got) >= count:
                break
    return got


async def test_events_yield_a_notice_then_readings_stamped_by_the_injected_clock() -> None:
    ticks = itertools.count(1000)
    probe = from_url("pot", parse_probe_url("sim://?speed=1000&kind=caramel"), lambda: float(next(ticks)))
    events = await first_events(probe, 8)
    notice, readings = events[0], events[1:]
    assert isinstance(notice, ProbeNotice)
    assert "caramel" in notice.message and "1000" in notice.message
    assert all(isinstance(r, Reading) for r in readings)
    stamps = [r.at for r in readings if isinstance(r, Reading)]
    assert stamps == sorted(stamps) and stamps[0] > notice.at
    for r in readings:
        assert isinstance(r, Reading)
        assert (r.probe, r.channel, r.fault, r.live) == ("pot", "", None, True)
        assert r.celsius is not None and r.celsius == float(r.raw)
        assert 15.0 <= r.celsius <= 110.0


@pytest.mark.parametrize(
    ("speed", "min_gap_s"),
    [(20.0, 1.0 / 20.0), (5000.0, 0.02)],  # x5000 would be 5000 a second: skip to one per 20 ms
)
async def test_events_are_paced_by_speed_and_never_faster_than_fifty_a_second(speed: float, min_gap_s: float) -> None:
    loop = asyncio.get_running_loop()
    probe = from_url("pot", parse_probe_url(f"sim://?speed={speed:g}&kind=water"), time.monotonic)
    started = loop.time()
    events = await first_events(probe, 1 + 6)
    elapsed = loop.time() - started
    assert len(events) == 7
    assert elapsed >= 5 * min_gap_s * 0.8


async def test_sim_time_runs_speed_times_faster_than_real_time() -> None:
    # Water at x10000: the 3-4 minutes it takes to come to the boil pass in a few hundredths of a second.
    probe = from_url("pot", parse_probe_url("sim://?speed=10000&kind=water&boil=98.5C"), time.monotonic)
    async with asyncio.timeout(5.0), aclosing(probe.events()) as events:
        async for event in events:
            if isinstance(event, Reading) and event.celsius is not None and event.celsius >= 98.0:
                break


async def test_live_faults_and_device_formatting() -> None:
    scenario = PotScenario(kind="water", faults_at=(2.0,), resolution_c=0.0625)
    events = await first_events(SimulatedProbe("pot", scenario, speed=50.0), 1 + 4)
    readings = [e for e in events if isinstance(e, Reading)]
    fault = readings[2]
    assert (fault.celsius, fault.fault, fault.raw) == (None, "simulated fault", "nan")
    good = readings[3]
    assert good.celsius is not None
    assert len(good.raw.split(".")[1]) == 4  # a DS18B20 prints sixteenths
    assert good.celsius * 16 == round(good.celsius * 16)


# --- the cook at the caramel: off the heat after the alarm ------------------------------------------------


def test_the_cook_takes_the_caramel_off_the_heat_after_its_alarm() -> None:
    target = f_to_c(225.0)
    trace = list(simulate(PotScenario(kind="caramel", take_off_at_c=target, take_off_after_s=20.0), 2400.0))
    reached = next(s.t for s in trace if s.pot_c >= target)
    top = max(trace, key=lambda s: s.pot_c)
    assert reached < top.t <= reached + 21.0
    assert c_to_f(top.pot_c) < 228.0  # never near the 230 °F overshoot
    assert c_to_f(trace[-1].pot_c) < 200.0  # then it cools


def test_told_of_the_acknowledgement_the_cook_takes_it_off_at_once() -> None:
    target = f_to_c(225.0)
    hand = CookHand()
    samples = simulate(PotScenario(kind="caramel", take_off_at_c=target, take_off_after_s=60.0), 2400.0, hand)
    reached = None
    peak_after = -1.0
    for sample in samples:
        if reached is None and sample.pot_c >= target:
            reached = sample.t
            hand.off_heat = True
        if reached is not None:
            peak_after = max(peak_after, sample.pot_c)
            if sample.t > reached + 30.0:
                break
    assert reached is not None
    assert peak_after - target < 0.1  # off the heat within a second: no 60 s of climbing on


def test_a_live_caramel_comes_off_at_its_alarm_not_when_it_burns() -> None:
    assert SimulatedProbe("pot", PotScenario(kind="rillons")).scenario.take_off_at_c == pytest.approx(f_to_c(225.0))
    assert SimulatedProbe("pot", PotScenario(kind="braise")).scenario.take_off_at_c is None
    assert PotScenario(kind="caramel").take_off_at_c is None  # simulate() alone keeps the old physics


async def test_a_live_pot_follows_a_change_of_speed_without_a_jump_in_sim_time() -> None:
    loop = asyncio.get_running_loop()
    probe = from_url("pot", parse_probe_url("sim://?speed=5000&kind=water"), time.monotonic)
    arrivals: list[float] = []
    async with asyncio.timeout(10.0), aclosing(probe.events()) as events:
        async for event in events:
            if not isinstance(event, Reading):
                continue
            arrivals.append(loop.time())
            if len(arrivals) == 3:
                probe.set_speed(20.0)  # from now on a reading every 1/20 s
            if len(arrivals) == 8:
                break
    slow_gaps = [b - a for a, b in itertools.pairwise(arrivals[4:])]
    assert min(slow_gaps) >= 0.04, slow_gaps  # paced at the new speed (a few ms of timer slack)
