"""What each cook of this run looked like: readings, stages and alerts, in memory.

The chart on the page and the CSV export read this. It is bounded: a long
braise at 1 Hz keeps its whole curve (``MAX_POINTS`` at full rate, then every
other point), while the SQLite history keeps everything on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_POINTS = 20000
MAX_COOKS = 20


@dataclass
class CookLog:
    cook_id: str
    profile: str
    probe: str
    started_at: float
    points: list[tuple[float, float | None]] = field(default_factory=list)
    stages: list[tuple[float, str, str]] = field(default_factory=list)  # (at, step, stage)
    alerts: list[tuple[float, str, str]] = field(default_factory=list)  # (at, alert id, kind)
    ended_at: float | None = None
    outcome: str | None = None
    _stride: int = 1
    _skipped: int = 0

    def add_point(self, at: float, celsius: float | None) -> None:
        self._skipped += 1
        if self._skipped < self._stride:
            return
        self._skipped = 0
        self.points.append((at, celsius))
        if len(self.points) >= MAX_POINTS:
            # thin evenly and keep going at half the rate: the shape survives
            self.points = self.points[::2]
            self._stride *= 2

    def thinned(self, most: int) -> list[tuple[float, float | None]]:
        step = max(1, len(self.points) // most)
        return self.points[::step]


class CookLogs:
    def __init__(self) -> None:
        self.logs: dict[str, CookLog] = {}

    def start(self, cook_id: str, profile: str, probe: str, at: float) -> CookLog:
        log = self.logs[cook_id] = CookLog(cook_id, profile, probe, at)
        if len(self.logs) > MAX_COOKS:
            oldest = next(iter(self.logs))
            del self.logs[oldest]
        return log

    def get(self, cook_id: str) -> CookLog | None:
        return self.logs.get(cook_id)
