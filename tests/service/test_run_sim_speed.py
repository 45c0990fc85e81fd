"""``potwatch run`` with a sped-up ``sim://`` probe: the kitchen's clock runs at the simulation's pace.

Read on the real clock, a caramel simulated 60× fast climbed about 1,300 °F a
minute and never got an ETA. A real process, asked over its API: the rate is
a pot's (a few °F per minute) and an ETA comes. A config mixing that speed
with another is refused, one line, exit 2.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from service.cli import _heater_real_stale, sim_speed
from service.config import parse_config
from tests.support.net import free_port
from tests.support.service import POTWATCH, ServiceProcess
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def config(*urls: str) -> Any:
    return parse_config({"probes": [{"id": f"p{i}", "url": u} for i, u in enumerate(urls)]}, "test")


def test_one_speed_for_every_simulated_probe_or_a_reason() -> None:
    assert sim_speed(config("sim://?kind=caramel")) == (1.0, None)
    assert sim_speed(config("sim://?speed=60&kind=caramel", "sim://?speed=60&kind=braise")) == (60.0, None)
    speed, why = sim_speed(config("sim://?speed=60", "serial:///dev/ttyUSB0?baud=9600"))
    assert speed == 1.0 and why is not None
    assert "probes[0] at 60×" in why and "probes[1] at 1×" in why and "one clock" in why


def test_check_config_takes_sped_up_probes_sharing_one_speed(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.toml"
    path.write_text(
        '[[probes]]\nid = "pot"\nurl = "sim://?speed=20&kind=caramel"\n\n'
        '[[probes]]\nid = "oven"\nurl = "sim://?speed=20&kind=braise"\n'
    )
    done = subprocess.run([*POTWATCH, "check-config", str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == f"{path}: ok", done.stdout


def test_run_reads_a_sped_up_pot_on_its_own_clock(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.toml"
    path.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?speed=60&kind=caramel"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    with ServiceProcess(["run", "--config", str(path)], tmp_path / "service.log", free_port()) as svc:

        def estimated() -> dict[str, Any] | None:
            cook = svc.get("/api/status")["cook"]
            return cook if cook and cook.get("eta_s") is not None and cook.get("rate_f_per_min") else None

        cook = wait_until(estimated, 60, lambda: f"an ETA from the sped-up pot\n{svc.log()}", every=0.2)
    # a caramel on the stove climbs a few °F a minute; on the real clock this read ~1,300
    assert 0.0 < cook["rate_f_per_min"] < 30.0, cook


def test_run_refuses_two_clocks_in_one_config(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.toml"
    path.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?speed=60&kind=caramel"\n\n'
        '[[probes]]\nid = "oven"\nurl = "sim://?kind=braise"\n'
    )
    done = subprocess.run(
        [*POTWATCH, "run", "--config", str(path), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"{path}: probes: probes run at different speeds (probes[0] at 60×, probes[1] at 1×): "
        "the tracker has one clock. Drop speed= from the sim:// URLs, or give every probe the same "
        "sim:// speed"
    ]
    checked = subprocess.run(
        [*POTWATCH, "check-config", str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert checked.returncode == 2 and checked.stdout.splitlines() == lines  # check-config says so first


def test_a_heaters_stale_limit_is_widened_with_the_speed_unless_given() -> None:
    """At 60× a heater's 15 s default would be a quarter of a real second: one stall of the loop would latch
    a braise's heat off. Widened as the probes' are (half a real second); one the config gives is kept."""
    plug = "mqtt://127.0.0.1:1883/plug?kind=tasmota"
    heaters = [{"id": "hob", "url": plug, "probe": "p0"}, {"id": "ssr", "url": "gpio://17", "probe": "p0"}]
    heaters[1]["stale_after"] = "20s"
    given = parse_config({"probes": [{"id": "p0", "url": "sim://?speed=60"}], "heaters": heaters}, "test")
    widened = [_heater_real_stale(h, 60.0) for h in given.heaters]
    assert [h.stale_after for h in given.heaters] == [15.0, 20.0]
    assert [h.stale_after for h in widened] == [30.0, 20.0]
    assert _heater_real_stale(given.heaters[0], 2.0).stale_after == 15.0  # never below the default
