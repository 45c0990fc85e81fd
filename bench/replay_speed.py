"""End-to-end replay throughput: ``potwatch replay`` on a long simulated trace.

    .venv/bin/python -m bench.replay_speed [--cooks 100]

Writes a CSV of back-to-back simulated rillons-style cooks (braise heat-up,
then a caramel to past 225 °F, 1 Hz, with noise and occasional trouble), runs
the real console script on it (process start, CSV parsing, the tracker, JSON
output and all), pinned to one core where ``taskset`` exists, and prints
samples per second for the default output and for ``--every-sample``, with
and without a probe ``lag`` (the pot's level then costs two short line fits a
sample).

The profile is the candy ladder with its target moved past anything the
simulated pot reaches (it burns at 302 °F), so that every sample of every
cook takes the full path: gate, median, rate, the knee, the ETA fit and the
sugar stages (with the real candy profile the first cook reaches 300 °F and
the other 99 would run the cheap path after the alarm).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drivers.simulated import PotScenario, simulate


def write_trace(path: Path, cooks: int) -> int:
    rows = 0
    with path.open("w") as fh:
        fh.write("# back-to-back simulated caramel cooks\nt,temp_c\n")
        t0 = 0.0
        for seed in range(1, cooks + 1):
            scenario = PotScenario(
                kind="caramel",
                seed=seed,
                noise_c=0.1,
                spikes_per_hour=6.0,
                bursts_per_hour=3.0,
                faults_per_hour=2.0,
            )
            last = 0.0
            for s in simulate(scenario, 2400.0):
                cell = "" if s.reading_c is None else f"{s.reading_c:.2f}"
                fh.write(f"{t0 + s.t:.1f},{cell}\n")
                rows += 1
                last = s.t
            t0 += last + 1.0
    return rows


NEVER_PROFILE = (Path(__file__).resolve().parents[1] / "config" / "profiles" / "candy.toml").read_text()


def write_config(folder: Path, lag: str | None) -> Path:
    """A config whose probe has (or not) a lag, and a profile whose target no simulated cook reaches."""
    profiles = folder / "profiles"
    profiles.mkdir(exist_ok=True)
    text = NEVER_PROFILE.replace('name = "candy"', 'name = "never"', 1)
    text = text.replace('target = "300F"', 'target = "340F"').replace('overshoot = "310F"', 'overshoot = "350F"')
    (profiles / "never.toml").write_text(text)
    config = folder / f"potwatch-{lag or 'nolag'}.toml"
    lag_line = f'lag = "{lag}"\n' if lag else ""
    config.write_text(f'profile_dirs = ["profiles"]\n[[probes]]\nid = "pot"\nurl = "sim://"\n{lag_line}')
    return config


def timed(cmd: list[str]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cooks", type=int, default=100)
    args = parser.parse_args(argv)
    exe = str(Path(sys.executable).with_name("potwatch"))
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "long.csv"
        rows = write_trace(trace, args.cooks)
        size = os.path.getsize(trace)
        for lag in (None, "15s"):
            config = write_config(Path(tmp), lag)
            for label, extra in (("stages and alerts", []), ("--every-sample", ["--every-sample"])):
                cmd = [*pin, exe, "replay", str(trace), "--profile", "never", "--config", str(config), *extra]
                seconds = timed(cmd)
                rate = rows / seconds
                mb = size / 1e6
                which = f"lag {lag}" if lag else "no lag"
                print(
                    f"replay {label}, {which}: {rows} samples ({mb:.1f} MB) in {seconds:.2f} s = {rate:,.0f} samples/s"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
