"""The whole heat loop in one real ``potwatch run``: rillons cooked on a simulated pot through its own plug.

Nothing is doubled. A real Mosquitto; a ``sim://rillons`` pot carrying its own
emulated Tasmota plug on that broker (drivers/sim_plug.py), whose relay alone
heats the pot with 1.8 kW; a ``[[heaters]]`` entry driving that plug through
the broker with the controller's defaults (30 s minimum on and off times, a
60 s dead-man period, the hysteresis law, no lead, no carryover); the rillons
profile, 2 h held at 185–205 °F and then the caramel reached at 225 °F. It is
judged afterwards from outside, on the history file (``readings``,
``heater_log``, ``stages``, ``alerts``), as the issue asks: the braise held in
its window for a simulated 2 h, with no exit after the first entry and the
relay switching no more often than its minimum times; the caramel's heat off
within one sample of the target.

Speed 60: every ``sim://`` probe at one speed puts the whole kitchen on the
pot's pace (the tracker, the hold timer, the controller's minimum times and
timeouts, the plug's pulse all count the same seconds), so 2 h 20 min of pot
time take about 2.5 real minutes. At 60× the driver gives out every second
1 s sample (never two readings less than 20 ms apart): a reading every 2 s of
hub time, which is the "one sample" of the caramel's criterion.

``braise=2h15min``: the rillons scenario moves the probe into the caramel pot
``braise`` after the pot's start, whatever the cook's timer says, and with a
plug attached the plug heats whichever pot the probe is in. The profile's 2 h
count from the first entry into the window (about 7 min in at 1.8 kW), so with
the scenario's default of 2 h the probe would leave the braise some 7 min
before the hold is done, and the hold would fail by the scenario's move, not
by the heat. 2 h 15 min leaves the hold done first; the caramel's reach then
heats the braise pot (it boils at 212 °F, topped up, and never reaches 225 °F)
until the probe moves into the caramel, already at 70 °C, which the same plug
then heats to its target.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.figures import FigureRecorder
from tests.support.net import free_port
from tests.support.service import ServiceProcess, serving
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker"]

SPEED = 60.0
BRAISE_SIM = "2h15min"  # see the module docstring
BRAISE_SIM_S = 8100.0
PLUG_TOPIC = "simplug"
LOW_F, HIGH_F, TARGET_F = 185.0, 205.0, 225.0
HOLD_S = 7200.0
MIN_RUN_S = 30.0  # the controller's default min_on and min_off, on the hub's clock
# The sim's noise is gaussian, clipped at ±noise_clip_c (0.55 °C by default): a pot inside the window
# can read up to this far outside it, and nothing else may.
NOISE_MARGIN_F = 0.55 * 1.8
# A command row is stamped when it was handed to the link, a second read of the hub's clock in the turn
# that decided it: allowed 10 real ms later, 0.6 s of hub time at 60× (measured: a few ms of hub time).
STAMP_S = 0.010 * SPEED
# The relay's own moments are seen only through its reports, stamped on arrival: command → broker → plug →
# broker → potwatch, typically 1 real ms, at times 15, and up to 95 when the machine is busy (a stall of the
# event loop: 0.06, 0.9 and 5.7 s of hub time at 60×). Allowed: 100 real ms, 6 s of hub time, for each
# report after its command, and so off a run measured between two reports. A relay switching more often
# than commanded (a dead-man cut, a toggle) is caught by the reports' sequence, which must be the commands'.
REPORT_WITHIN_S = 0.100 * SPEED
SAMPLE_S = 2.0  # hub seconds between two readings at 60× (every second 1 s sample)
RUN_TIMEOUT_S = 400.0  # real seconds for the whole cook: ~140 expected


@dataclass(frozen=True)
class Change:
    """The relay (or the command) became ``on`` at hub time ``at``."""

    at: float
    on: bool


def changes(rows: list[tuple[float, int]]) -> list[Change]:
    """Where the relay (or the command) changed: repeats (re-arming ONs, a report's two topics) collapsed."""
    out: list[Change] = []
    for at, on in rows:
        if not out or out[-1].on != bool(on):
            out.append(Change(at, bool(on)))
    return out


def runs(switches: list[Change]) -> list[tuple[bool, float, float]]:
    """(on, start, length) of every run closed by a switch at each end: not the power-up's off, nor the last."""
    return [(a.on, a.at, b.at - a.at) for a, b in itertools.pairwise(switches[1:])]


def rillons_service(tmp_path: Path, broker: Broker) -> ServiceProcess:
    """The one config: the pot with its own plug on ``broker``, the heater on that plug, the rillons cook."""
    server = f"{broker.host}:{broker.port}"
    probe = f"sim://rillons?speed={SPEED:g}&braise={BRAISE_SIM}&plug=mqtt://{server}/{PLUG_TOPIC}"
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "{probe}"\n\n'
        f'[[heaters]]\nid = "hob"\nurl = "mqtt://{server}/{PLUG_TOPIC}?kind=tasmota"\nprobe = "pot"\n\n'
        '[cook]\nprofile = "rillons"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


@pytest.mark.real_part("mosquitto")
def test_rillons_braise_held_and_caramel_off_at_target_through_the_pots_own_plug(
    tmp_path: Path, mosquitto: Broker, figure: FigureRecorder
) -> None:
    """Pass, on the history file of one real run at 60×:

    * braise: from the first reading inside 185–205 °F to the hold's end, every reading is inside the window
      widened by the probe's noise clip (±0.99 °F) and none of the hold's too-hot/too-cold alerts came; the
      hold completes (``hold_done``, the caramel step starts) before the scenario moves the probe;
    * relay: every on and off run between two switches lasts ≥ 30 s of hub time as commanded (less 10 real
      ms of stamping), and as the plug reported its relay (less the reports' latency, ≤ 6 s of hub time); the
      plug switched only when commanded, each report within 6 s of its command, so its own dead-man timer
      never cut in;
    * caramel: the heat is commanded off no later than one sample (2 s of hub time, plus the stamping) after
      the first reading ≥ 225 °F, before a second sample is read; it stays off; ``target_reached`` is raised;
    * sanity at this speed: a reading every 2 s of hub time (within 10 %), no gap the heater's 15 s stale
      timeout could see, no probe or heater alert, the caramel climbing a pot's few °F a minute.
    """
    service = rillons_service(tmp_path, mosquitto)
    with serving(service):
        ended = wait_until(
            lambda: next((c for c in service.get("/api/cooks") if not c["running"]), None),
            RUN_TIMEOUT_S,
            lambda: f"the rillons cook to end\n{service.log()[-3000:]}",
            every=1.0,
        )
    assert ended["profile"] == "rillons" and ended["outcome"] == "done", ended
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "potwatch.db")) as db:
        readings = [
            (at, c * 9.0 / 5.0 + 32.0)
            for at, c in db.execute("SELECT at, celsius FROM readings WHERE celsius IS NOT NULL ORDER BY seq")
        ]
        stages = {f"{s}/{g}": at for s, g, at in db.execute("SELECT step, stage, at FROM stages ORDER BY rowid")}
        alerts = [(k, at) for k, at in db.execute("SELECT kind, at FROM alerts ORDER BY at")]
        log = db.execute("SELECT at, what, on_, sent, detail FROM heater_log WHERE heater = 'hob' ORDER BY rowid")
        heater_rows = log.fetchall()
    power_up = (heater_rows[0][0], 0)  # the plug's relay starts off, and potwatch's first word is off too
    sent = [(at, on) for at, what, on, ok, _ in heater_rows if what == "command" and ok == 1]
    commands = changes([power_up, *sent])
    reports = changes(
        [power_up, *((at, on) for at, what, on, _, _ in heater_rows if what == "state" and on is not None)]
    )
    reasons = {detail for _, what, _, _, detail in heater_rows if what == "command"}
    kinds = {k for k, _ in alerts}

    # ---- the figures first, so that a failing run still shows them
    assert readings, "no readings in the history"
    start = readings[0][0]  # the pot's t = 0, in hub time
    assert "braise/done" in stages and "caramel/heating" in stages, (stages, service.log()[-3000:])
    hold_done = stages["braise/done"]
    first_in = next(at for at, f in readings if LOW_F <= f <= HIGH_F)
    hold = [(at, f) for at, f in readings if first_in <= at <= hold_done]
    inside_s = sum(b - a for (a, f), (b, _) in itertools.pairwise(hold) if LOW_F <= f <= HIGH_F)
    inside_pct = 100.0 * inside_s / (hold[-1][0] - hold[0][0])
    figure("braise_time_in_window", inside_pct, "%", "100 % (readings within the noise clip of the window)")
    figure("braise_held", hold_done - first_in, "s hub", f"≥ {HOLD_S:g} s")
    lowest, highest = min(f for _, f in hold), max(f for _, f in hold)
    figure("braise_lowest_reading", lowest, "°F", f"≥ {LOW_F - NOISE_MARGIN_F:.2f} °F")
    figure("braise_highest_reading", highest, "°F", f"≤ {HIGH_F + NOISE_MARGIN_F:.2f} °F")
    commanded_runs, relay_runs = runs(commands), runs(reports)
    for name, measured, slack in (("commanded", commanded_runs, STAMP_S), ("relay", relay_runs, REPORT_WITHIN_S)):
        for on in (True, False):
            shortest = min(length for o, _, length in measured if o is on)
            figure(f"shortest_{name}_{'on' if on else 'off'}_run", shortest, "s hub", f"≥ {MIN_RUN_S - slack:g} s")
    figure("relay_switches", len(reports) - 1, "", "as commanded")
    latency = max(r.at - c.at for c, r in zip(commands[1:], reports[1:], strict=False))
    figure("report_after_command_longest", latency, "s hub", f"≤ {REPORT_WITHIN_S:g} s")

    first_at_target = next(i for i, (at, f) in enumerate(readings) if at > hold_done and f >= TARGET_F)
    target_at = readings[first_at_target][0]
    off = next(c for c in commands if c.at > hold_done and not c.on)
    lag = off.at - target_at
    figure("caramel_off_after_first_reading_at_target", lag, "s hub", f"≤ {SAMPLE_S:g} s (one sample) + stamping")
    peak = max(f for at, f in readings if at >= off.at)
    figure("caramel_peak_after_off", peak, "°F", "(measured; the issue sets no bound)")
    at_off = next(f for at, f in reversed(readings) if at <= off.at)
    figure("caramel_reading_at_off", at_off, "°F", "(measured)")
    climb = [(at, f) for at, f in readings if target_at - 120.0 <= at <= target_at]
    rate_f_per_min = (climb[-1][1] - climb[0][1]) / (climb[-1][0] - climb[0][0]) * 60.0
    figure("caramel_climb_last_2_min", rate_f_per_min, "°F/min", "a pot's: 1–30 °F/min")
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(readings)]
    figure("reading_interval_median", statistics.median(gaps), "s hub", f"{SAMPLE_S:g} s ± 10 %")
    figure("reading_gap_longest", max(gaps), "s hub", "< 15 s (the heater's stale_after)")

    # ---- sanity at this speed
    assert abs(statistics.median(gaps) - SAMPLE_S) <= 0.1 * SAMPLE_S, statistics.median(gaps)
    assert max(gaps) < 15.0, max(gaps)
    assert not kinds & {"probe_lost", "probe_fault", "heater_mismatch"}, alerts
    assert not {r for r in reasons if "stale" in r or "lost" in r or "link" in r or "max" in r}, reasons
    assert 1.0 <= rate_f_per_min <= 30.0, rate_f_per_min

    # ---- the braise
    assert hold_done < start + BRAISE_SIM_S, "the scenario moved the probe before the hold was done"
    assert hold_done - first_in >= HOLD_S - 1.0, (first_in, hold_done)
    outside = [(at, f) for at, f in hold if not LOW_F - NOISE_MARGIN_F <= f <= HIGH_F + NOISE_MARGIN_F]
    assert outside == [], outside[:10]
    assert not kinds & {"hold_too_hot", "hold_too_cold"}, alerts
    assert "hold_done" in kinds, alerts
    assert stages["caramel/heating"] >= hold_done

    # ---- the relay's minimum times, as commanded and at the plug
    short = [r for r in commanded_runs if r[2] < MIN_RUN_S - STAMP_S]
    assert short == [], short
    short = [r for r in relay_runs if r[2] < MIN_RUN_S - REPORT_WITHIN_S]
    assert short == [], short
    assert [c.on for c in reports] == [c.on for c in commands], (commands, reports)
    late = [(c, r) for c, r in zip(commands, reports, strict=True) if not 0.0 <= r.at - c.at <= REPORT_WITHIN_S]
    assert late == [], late

    # ---- the caramel
    assert "target_reached" in kinds, alerts
    assert lag <= SAMPLE_S + STAMP_S, lag
    assert off.at < readings[first_at_target + 2][0], "a second sample was read with the heat still on"
    assert commands[-1] == off, commands[-3:]  # and it stayed off
    assert reports[-1].on is False and reports[-1].at >= off.at
