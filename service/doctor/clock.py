"""Whether the clock is right: asked of systemd (``timedatectl show``), and looked at directly.

The tracker does not need the wall clock (it runs on a monotonic one), but
the history's times, the self-signed certificate and every push over TLS do:
a Pi has no battery clock and boots with the time it last saved, so a wrong
date makes ntfy.sh or Pushover refuse the connection. A machine that cannot be
asked (no systemd, a container) is "unknown", not a failure.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime

from service.doctor.report import Finding

TIMEDATECTL = ("timedatectl", "show")
TIMEOUT_S = 5.0
EARLIEST = datetime(2025, 1, 1, tzinfo=UTC)
"""Before this, the clock is certainly wrong (this version did not exist yet)."""

Run = Callable[..., "subprocess.CompletedProcess[str]"]


def parse_show(text: str) -> dict[str, str]:
    """``timedatectl show``'s ``Key=value`` lines."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def check_clock(run: Run = subprocess.run, now: float | None = None) -> list[Finding]:
    findings = _synced(run)
    wall = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    if wall < EARLIEST:
        findings.append(
            Finding(
                "clock",
                "FAIL",
                f"the clock says {wall:%Y-%m-%d %H:%M} UTC, which cannot be right",
                "connect the Pi to the network and let it sync (sudo timedatectl set-ntp true); push over TLS "
                "fails until then",
            )
        )
    return findings


def _synced(run: Run) -> list[Finding]:
    try:
        done = run(list(TIMEDATECTL), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError:
        return [Finding("clock", "info", "unknown: timedatectl is not installed here (no systemd?)")]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Finding("clock", "info", f"unknown: timedatectl did not answer ({exc})")]
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        return [Finding("clock", "info", f"unknown: timedatectl failed: {why[0] if why else done.returncode}")]
    show = parse_show(done.stdout)
    synced, ntp = show.get("NTPSynchronized"), show.get("NTP")
    if synced == "yes":
        return [Finding("clock", "ok", "synchronised (timedatectl: NTPSynchronized=yes)")]
    if synced is None:
        return [Finding("clock", "info", "unknown: timedatectl show says nothing of NTPSynchronized")]
    if ntp == "no":
        return [
            Finding(
                "clock",
                "warn",
                "not synchronised, and network time is off (NTP=no)",
                "sudo timedatectl set-ntp true",
            )
        ]
    return [
        Finding(
            "clock",
            "warn",
            "not synchronised yet (NTPSynchronized=no)",
            "is the network up? timedatectl timesync-status says which server it tries",
        )
    ]
