"""The soak's short mode, as CI runs it: three sim hours at ×100 against a real potwatch and Mosquitto.

``bench/soak.py`` judges its own criteria (memory, events, latency) and exits 1 when one fails;
this test runs it from outside, as a user would, and reads the verdicts it wrote. The full day
is ``python -m bench.soak`` (docs/benchmarks.md), not part of the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.parts import require_binary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.real_part("mosquitto")

CRITERIA = {
    "SSE ids contiguous",
    "MQTT readings",
    "history rows",
    "MQTT count",
    "potwatch's counters",
    "memory",
    "latency reading → SSE",
    "latency reading → MQTT",
    "cpu per reading",
}


def test_three_sim_hours_pass_every_soak_criterion(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Pass: every criterion holds: VmRSS grows ≤ 4 MiB after warm-up; every phone's SSE ids run
    1, 2, 3… with no gap; MQTT and the history carry exactly the phones' readings, in order; the
    subscriber counts what potwatch logs having published; no drop counted by potwatch; the last
    half's latency and CPU per reading as the first half's (bounds in bench/soak.py)."""
    require_binary("mosquitto")
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--short", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.exists(), f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    result = json.loads(out.read_text())
    verdicts = {v["name"]: v for v in result["verdicts"]}
    assert set(verdicts) == CRITERIA, sorted(verdicts)
    failed = [f"{name}: {v['detail']}" for name, v in verdicts.items() if not v["passed"]]
    assert not failed, "\n".join(failed) + f"\n{done.stdout}"
    assert done.returncode == 0, done.stdout + done.stderr
    # it soaked what it says: four probes at 50 readings a real second for ~108 s, to three phones
    assert result["readings"] > 8000 and result["phones"] == 3
    assert result["sse_events"] > result["readings"] and result["mqtt_published"] > result["readings"]
    for key in ("rss_growth_mib", "cpu_ms_per_reading_first", "cpu_ms_per_reading_last"):
        record_property(f"soak_{key}", round(result[key], 3))
    for path in ("reading → SSE", "reading → MQTT"):
        record_property(f"soak_{path}_last_p99_ms", round(result[path]["last_p99_ms"], 1))
