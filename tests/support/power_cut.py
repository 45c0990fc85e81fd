"""A real ``potwatch run`` on a pty thermometer, killed and restarted: the power-cut tests' kitchen.

Shared by tests/e2e/test_power_cut.py (a kill mid-braise and mid-reduction)
and test_power_cut_damaged.py (a kill, then a damaged file).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

BRAISE = """\
name = "braise-test"
title = "A short braise (2 s grace), then the caramel"

[[steps]]
kind = "hold"
name = "braise"
low = "185F"
high = "205F"
duration = "10min"
grace = "2s"

[[steps]]
kind = "reach"
name = "caramel"
target = "225F"
"""
MISSING_AT_MOST_S = 5.0


@pytest.fixture
def kitchen(tmp_path: Path) -> Iterator[tuple[PtyDevice, Thermometer]]:
    with PtyDevice() as device, Thermometer(device, 70.0) as thermometer:
        yield device, thermometer


def service_for(tmp_path: Path, device: PtyDevice, profile: str) -> ServiceProcess:
    profiles = tmp_path / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "braise-test.toml").write_text(BRAISE)
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'profile_dirs = ["{profiles}"]\n\n[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        f'stale_after = "5s"\n\n[cook]\nprofile = "{profile}"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


def status(svc: ServiceProcess) -> dict[str, Any]:
    body: dict[str, Any] = svc.get("/api/status")
    return body


def cook_of(svc: ServiceProcess) -> dict[str, Any]:
    cook: dict[str, Any] | None = status(svc)["cook"]
    assert cook is not None
    return cook


def alerts(svc: ServiceProcess, kind: str) -> list[dict[str, Any]]:
    return [a for a in status(svc)["alerts"] if a["kind"] == kind]


def until(svc: ServiceProcess, what: str, check: Any, timeout: float = 30.0) -> Any:
    return wait_until(lambda: check(status(svc)), timeout, f"{what}\n{svc.log()}", every=0.1)


def kill_and_check_the_file(svc: ServiceProcess, tmp_path: Path, *, flowing: bool = True) -> None:
    """SIGKILL while readings flow; then the file must be sound and nearly complete.

    ``flowing=False``: the probe is silent at the kill (lost, on purpose): the file must still be sound.
    """
    assert svc.proc is not None
    if flowing:
        probe = status(svc)["probes"][0]
        assert probe["state"] == "ok" and probe["age_s"] < 1.0  # readings are flowing right up to the kill
    os.killpg(svc.proc.pid, signal.SIGKILL)
    killed_at = time.time()
    svc.proc.wait(10)
    db = tmp_path / "state" / "potwatch.db"
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        last_wall = conn.execute("SELECT max(wall) FROM readings").fetchone()[0]
    if not flowing:
        return
    missing = killed_at - last_wall
    print(f"\nreadings missing after kill -9: the last {missing:.2f} s")
    assert missing <= MISSING_AT_MOST_S


def restart(svc: ServiceProcess, cook_id: str) -> float:
    """Start again; return the seconds until /api/status shows the cook resumed."""
    started = time.monotonic()
    svc.start()
    until(svc, f"cook {cook_id} resumed", lambda s: s["cook"] is not None and s["cook"]["id"] == cook_id, 30)
    took = time.monotonic() - started
    print(f"resume time after kill -9 (process start to the cook on /api/status): {took:.2f} s")
    return took
