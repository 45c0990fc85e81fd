"""History: every cook recorded in SQLite, resumed after a power cut, served and exported.

Wiring (``potwatch run``)::

    path = history_path(state, config.storage.path)
    recorder = HistoryRecorder(path, retention_days=...)
    Service(..., parts=[recorder], restore=restorer(recorder), history=HistoryReader(path))

``restorer`` rebuilds an unfinished cook before the hub exists; the recorder
then writes everything the hub applies and emits; the reader, which needs
only the path, reads past cooks back for the API. See docs/history.md.
"""

from __future__ import annotations

from pathlib import Path

from service.history.reader import HistoryReader
from service.history.recorder import HistoryRecorder
from service.history.restore import restorer


def history_path(state_dir: Path, configured: str) -> Path:
    """``[storage] path``: relative to the state directory unless absolute."""
    path = Path(configured).expanduser()
    return path if path.is_absolute() else state_dir / path


__all__ = ["HistoryReader", "HistoryRecorder", "history_path", "restorer"]
