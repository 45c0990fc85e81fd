"""Snapshots of the kitchen, so a resume replays minutes of events, not weeks.

A resume replays the whole time line since the service last started with
nothing to resume (restore.py). On a Pi that runs for weeks with a probe
reporting every second, that is millions of events: about a second per day of
readings here, several on a Pi. So every ``CHECKPOINT_EVERY_S`` the recorder
pickles the kitchen (a few KiB, well under a millisecond) between two hub
steps, and a resume starts from the newest snapshot of its time line and
replays only what came after. Exactness is unchanged: the snapshot is the
kitchen as it was after the event it is filed under.

A snapshot is only trusted from the same potwatch version (another one may
have other classes; it replays from the start instead), and it is unpickled
with an allow-list: classes of ``service.core`` and a deque, nothing that can
run code. The file lives in the service's own state directory either way.
"""

from __future__ import annotations

import io
import pickle
import zlib
from collections import deque
from typing import Any

from service.core.cook import Kitchen

CHECKPOINT_EVERY_S = 600.0
_SAFE_BUILTINS = {"set", "frozenset", "complex", "slice"}


class _CoreOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "deque":
            return deque
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if module.startswith("service.core.") and not name.startswith("_"):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"a kitchen snapshot may not refer to {module}.{name}")


def dump(kitchen: Kitchen) -> bytes:
    return zlib.compress(pickle.dumps(kitchen, protocol=5), 6)


def load(blob: bytes) -> Kitchen:
    """The kitchen in a snapshot; raises pickle.UnpicklingError (or zlib.error) for anything else."""
    found = _CoreOnly(io.BytesIO(zlib.decompress(blob))).load()
    if not isinstance(found, Kitchen):
        raise pickle.UnpicklingError(f"a kitchen snapshot holds a {type(found).__name__}")
    return found
