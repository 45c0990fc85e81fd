"""What the hub did while recording was paused, kept outside the history's filesystem until it can be written.

A paused recorder (disk full, a card remounted read-only) keeps the hub's
steps in memory and writes them when the file takes writes again. A stop or
a kill before that lost them all: the cook stopped meanwhile came back as
running, the alerts raised and acknowledged meanwhile were never recorded. So
at every failed flush the backlog is also saved here, in the runtime
directory (``$RUNTIME_DIRECTORY``, systemd's ``RuntimeDirectory=``, else
``/dev/shm``): memory the kernel keeps across a crash or a kill of the
process, on another filesystem than the full or read-only one. The next
start writes it into the file before the restore reads it, so the resume
sees what happened during the pause. A power cut empties it (it is RAM);
docs/history.md says so.

The file is a pickle of plain tuples, lists, numbers, strings and bytes (and
the rows' ``Kind``, an int enum): the loader refuses any other class.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from service.history.codec import Kind

log = logging.getLogger(__name__)


def runtime_dir() -> Path:
    """Where the spill lives: a RAM filesystem that outlives the process, not the machine."""
    configured = os.environ.get("RUNTIME_DIRECTORY")
    if configured:
        return Path(configured.split(":")[0])
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else Path(os.environ.get("TMPDIR", "/tmp"))


class _PlainOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("service.history.codec", "Kind"):
            return Kind  # an event row's kind: an int with a name
        raise pickle.UnpicklingError(f"a spilled backlog may not refer to {module}.{name}")


class Spill:
    """The backlog of one history file, named after the file's full path (two services never share one)."""

    def __init__(self, db: Path, folder: Path | None = None) -> None:
        tag = hashlib.sha256(str(db.absolute()).encode()).hexdigest()[:16]
        self.path = (folder or runtime_dir()) / f"potwatch-{db.name}-{tag}.unwritten"

    def save(self, units: list[Any]) -> None:
        """Replace the spill with ``units`` (atomically: a kill mid-save leaves the previous one)."""
        temporary = self.path.with_name(self.path.name + ".new")
        try:
            with temporary.open("wb") as fh:
                pickle.dump(units, fh, protocol=5)
            temporary.replace(self.path)
        except OSError as exc:
            log.warning("history: cannot keep the unwritten steps in %s: %s", self.path, exc)

    def load(self) -> list[Any]:
        """The units a paused run left, or [] (none, or unreadable: logged)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("history: cannot read %s: %s", self.path, exc)
            return []
        try:
            units = _PlainOnly(io.BytesIO(data)).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            log.error("history: %s is unreadable (%s); the steps it held are lost", self.path, exc)
            return []
        return units if isinstance(units, list) else []

    def clear(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("history: cannot remove %s: %s", self.path, exc)
