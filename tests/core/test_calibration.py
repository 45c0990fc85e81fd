"""Boiling-water calibration: measure the plateau, shift every target by it."""

from __future__ import annotations

import random

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import CalibrationMeasured, Sample, SetCalibration, StartCook
from service.core.profile import BoilStep, Profile
from service.core.units import c_to_f, f_to_c
from tests.core.traces import CARAMEL, run, syrup_curve

BOIL = Profile("boil", "boil", (BoilStep("boil", steady_s=60.0, band_c=0.4),))


def test_boil_step_measures_the_plateau() -> None:
    rng = random.Random(1)
    heat = [(float(t), 150.0 + 0.5 * t) for t in range(0, 115)]  # up to ~207 °F
    plateau = [(float(t), 208.6 + rng.gauss(0.0, 0.1)) for t in range(115, 300)]  # water boils at 208.6 here
    result = run(heat + plateau, BOIL)
    measured = [o for o in result.outputs if isinstance(o, CalibrationMeasured)]
    assert len(measured) == 1
    assert abs(c_to_f(measured[0].boil_c) - 208.6) < 0.2
    # a steady minute after the plateau began (the step's own rule: 95 % of it, so 172 s); it once
    # came later only because the level ran ~1.4 °F past the plateau at the knee
    assert 172.0 <= measured[0].at <= 190.0
    assert result.kitchen.probes["pot"].boil_c == measured[0].boil_c
    assert result.kitchen.cooks["c1"].outcome == "done"


def test_no_calibration_while_still_heating() -> None:
    heat = [(float(t), 150.0 + 0.2 * t) for t in range(0, 300)]  # still rising at 210 °F
    result = run(heat, BOIL)
    assert not [o for o in result.outputs if isinstance(o, CalibrationMeasured)]


def test_a_probe_reading_two_degrees_high_fires_at_the_shifted_target() -> None:
    trace, t_cross = syrup_curve(rate_at_target=5.0)
    high = [(t, f + 2.0) for t, f in trace if f is not None]  # reads 2 °F high; boils at "214 °F"
    plain = run(high)
    calibrated = run(high, boil_c=f_to_c(214.0))
    early = plain.first_alert_at("target_reached")
    right = calibrated.first_alert_at("target_reached")
    assert early is not None and right is not None
    assert early < t_cross - 5.0  # uncalibrated: fires on a pot that is 2 °F short
    assert abs(right - t_cross) <= 1.0
    view = calibrated.kitchen.cook_snapshot(calibrated.kitchen.cooks["c1"], right)
    assert abs(c_to_f(view.progress.target_c) - 227.0) < 0.01
    assert abs(view.calibration_offset_c * 1.8 - 2.0) < 0.01


def test_setting_a_calibration_mid_cook_shifts_the_running_step() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(0.0, CARAMEL, "pot"))
    kitchen.handle(Sample(0.0, "pot", "", 100.0))
    kitchen.handle(SetCalibration(1.0, "pot", f_to_c(209.0)))  # altitude: water boils at 209 °F
    view = kitchen.cook_snapshot(kitchen.cooks["c1"], 1.0)
    assert abs(c_to_f(view.progress.target_c) - 222.0) < 0.01
