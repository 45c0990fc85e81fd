"""A process's CPU time and memory from ``/proc``: the figures other load on the machine distorts least.

A shared bench helper (any bench may use it): CPU time is what the process
itself spent, in every thread, user and system, whatever else ran beside it;
wall-clock latency on a shared machine is not.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of ``pid`` so far (``/proc/<pid>/stat`` utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> dict[str, float]:
    """``VmRSS`` (resident now) and ``VmHWM`` (the most it was ever resident), in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def threads(pid: int) -> int:
    """How many threads ``pid`` runs now."""
    return len(os.listdir(f"/proc/{pid}/task"))


def cpu_wait_seconds(pid: int) -> float:
    """Time ``pid``'s threads spent runnable but waiting for a CPU (``schedstat``): how much others held us up.

    High on a shared machine: the latencies then measure the queue for the
    core as much as the service.
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total / 1e9
