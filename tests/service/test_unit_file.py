"""``systemd/potwatch.service``: systemd accepts it, its exposure stays "OK", and its rules let the service run.

``systemd-analyze verify`` checks that every program the unit starts exists,
so it runs on a copy whose ``/opt/potwatch/.venv/bin/potwatch`` (where the
installer puts it) is this test run's own ``potwatch``; nothing else changes.
``systemd-analyze security --offline=yes`` scores the file itself, without a
running systemd. And ``MemoryDenyWriteExecute=yes`` is only kept because the
service runs under the kernel's own form of that rule (``PR_SET_MDWE``, the
one systemd uses where the kernel has it): a real ``potwatch run`` serving
HTTPS with its self-signed certificate, which is where native code is loaded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.parts import require_binary
from tests.support.service import POTWATCH, ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "potwatch.service"
INSTALLED = "/opt/potwatch/.venv/bin/potwatch"
EXPOSURE_GOAL = 3.0
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def unit_for_this_machine(tmp_path: Path) -> Path:
    here = Path(sys.executable).parent / "potwatch"
    assert here.exists(), f"{here}: the test venv has no potwatch command (scripts/setup-venv test installs it)"
    text = UNIT.read_text()
    assert INSTALLED in text, "the unit must start the installer's venv's potwatch"
    copy = tmp_path / "potwatch.service"
    copy.write_text(text.replace(INSTALLED, str(here)))
    return copy


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze", "systemd")
    done = subprocess.run([analyze, "verify", str(unit_for_this_machine(tmp_path))], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == "", done.stdout + done.stderr


def test_the_exposure_stays_ok(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze", "systemd")
    done = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for potwatch\.service: (\d+\.\d+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found[1]) <= EXPOSURE_GOAL and found[2] == "OK", found[0]


WRITE_AND_RUN = "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)"


def test_the_service_runs_where_memory_may_not_be_both_written_and_run(tmp_path: Path) -> None:
    # the rule is in force in a program started this way: a writable, executable mapping is refused
    refused = subprocess.run(
        [sys.executable, "-c", _EXEC_UNDER_MDWE, sys.executable, "-c", WRITE_AND_RUN], capture_output=True, text=True
    )
    if "no PR_SET_MDWE" in refused.stderr:
        why = "this kernel has no PR_SET_MDWE (Linux 6.3 or later): cannot check MemoryDenyWriteExecute=yes"
        pytest.fail(why) if os.environ.get("CI", "").lower() in ("1", "true", "yes") else pytest.skip(why)
    assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stderr
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[server]\ntls = "self-signed"\n\n[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?kind=caramel"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    service = ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port(), scheme="https")
    service.command = [sys.executable, "-c", _EXEC_UNDER_MDWE, *POTWATCH]
    service.start()
    try:
        assert service.get("/api/status")["cook"]["profile"] == "caramel"
    finally:
        service.stop()
    assert service.proc is not None and service.proc.returncode == 0, service.log()


# ServiceProcess starts its command itself: this small program sets the rule, then becomes the service
_EXEC_UNDER_MDWE = (
    "import ctypes, os, sys\n"
    f"if ctypes.CDLL(None).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0: sys.exit('no PR_SET_MDWE')\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)
