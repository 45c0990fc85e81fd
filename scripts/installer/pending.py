"""``/opt/potwatch/restart-pending``: a new version installed while the service runs an older one.

Written when a restart is put off because a cook is running; it names the
venv the service still runs, so that a further update before the restart
keeps that venv too. The next run of the installer between cooks (or with
``--now``) restarts the service and removes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import files
from .layout import Layout


@dataclass(frozen=True)
class Pending:
    why: str
    running: str  # the venv's folder name under venvs/


def read(layout: Layout) -> Pending | None:
    try:
        data = json.loads(layout.restart_pending.read_text())
        return Pending(str(data["why"]), str(data["running"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put_off(layout: Layout, why: str, running: Path | None) -> None:
    """Remember the restart; an earlier put-off restart's running venv is the one still running."""
    earlier = read(layout)
    name = earlier.running if earlier else (running.name if running else "")
    files.write(layout.restart_pending, (json.dumps({"why": why, "running": name}) + "\n").encode())


def done(layout: Layout) -> None:
    files.remove(layout.restart_pending)
