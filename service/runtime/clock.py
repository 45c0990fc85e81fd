"""The one clock of a running potwatch, injected everywhere time is read.

``monotonic()`` is the tracker's time line (never jumps when the Pi syncs its
clock after boot); ``wall()`` is only for showing people and stamping rows.
The demo runs on a ``ScaledClock``: its monotonic time runs ``speed`` times
faster, so the simulated pot, the stale timeouts, the hold timer and the ETA
all agree with each other, only sooner.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Real time. ``offset`` moves the monotonic line: a resumed cook continues on
    the time line it was recorded on (see the history), not this boot's."""

    speed = 1.0

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def wall(self) -> float:
        return time.time()

    def wall_at(self, at: float) -> float:
        """The wall-clock time (epoch seconds) of a monotonic ``at``."""
        return self.wall() - (self.monotonic() - at) / self.speed

    def iso(self, at: float) -> str:
        return iso_utc(self.wall_at(at))

    def real_seconds(self, seconds: float) -> float:
        """How long to sleep (real time) for ``seconds`` of this clock to pass."""
        return seconds / self.speed


class ScaledClock(Clock):
    def __init__(self, speed: float, offset: float = 0.0) -> None:
        super().__init__(offset)
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = time.monotonic()

    def monotonic(self) -> float:
        now = time.monotonic()
        return self._origin + (now - self._origin) * self.speed + self.offset

    def set_speed(self, speed: float) -> None:
        """Run at another speed from now on, without a jump: the demo slows near the target so
        that the warning, the countdown and the alarm can be seen. (``wall_at`` of a moment
        before the change is then approximate: the demo's history is a demo's.)"""
        if speed <= 0:
            raise ValueError("speed must be positive")
        now = time.monotonic()
        line = self._origin + (now - self._origin) * self.speed + self.offset
        self._origin = now
        self.offset = line - now
        self.speed = speed


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
