"""The restaurant-line benchmark (bench/scale.py): a small line passes, and its judge fails what it must."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.scale_judge import Route, judge, match

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_line_loses_nothing_and_every_phone_sees_every_event() -> None:
    """Pass: 20 probes (10 MQTT through a real Mosquitto, 10 simulated), 5 cooks, 2 phones for 10 s on
    a real ``potwatch run`` pinned to one core: every MQTT reading published in the window reached
    the MQTT subscriber and both phones, no phone skipped a bus event, the hub dropped nothing."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--probes", "20", "--cooks", "5", "--phones", "2", "--seconds", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["passed"], result["reasons"]
    assert (result["mqtt_probes"], result["sim_probes"], result["cooks"]) == (10, 10, 5)
    # ten MQTT probes at 1 Hz for ten seconds, give or take the window's edges
    assert 90 <= result["published"] <= 110
    assert result["mqtt"]["n"] == result["published"]
    assert result["sse"]["n"] == 2 * result["published"]
    assert result["sim_readings_per_phone"] > 0
    assert result["phone_id_gaps"] == 0 and result["hub_dropped"] == 0
    assert result["cpu_us_per_event"] > 0 and result["vm_hwm_mib"] >= result["vm_rss_mib"] > 0


SENT = {("m0000", 150.0): 10.0, ("m0000", 150.01): 11.0, ("m0001", 150.0): 10.5}
ALL = {key: at + 0.004 for key, at in SENT.items()}


def _verdict(phone_arrivals: dict[tuple[str, float], float], phone_ids: list[int]) -> bool:
    window = (9.0, 12.0)
    return judge(
        mqtt=match(SENT, window, ALL),
        phones=[match(SENT, window, ALL), match(SENT, window, phone_arrivals)],
        phone_ids=[[5, 6, 7, 8], phone_ids],
        hub_dropped=0,
        published=len(SENT),
    ).passed


def test_the_judge_fails_one_reading_lost_or_one_event_skipped_by_one_phone() -> None:
    """Pass: the same run passes whole, and fails with one reading missing at one phone, one id
    skipped, or one event sent twice."""
    assert _verdict(ALL, [5, 6, 7, 8])
    assert not _verdict({k: v for k, v in ALL.items() if k != ("m0000", 150.01)}, [5, 6, 7, 8])
    assert not _verdict(ALL, [5, 6, 8])
    assert not _verdict(ALL, [5, 6, 6, 7, 8])  # an event sent twice


def test_a_reading_over_a_second_is_late_and_one_outside_the_window_is_not_counted() -> None:
    route = match(SENT, (10.2, 12.0), {**ALL, ("m0000", 150.01): 12.5})
    assert isinstance(route, Route)
    assert (len(route.latencies_ms), route.lost, route.late) == (2, 0, 1)
