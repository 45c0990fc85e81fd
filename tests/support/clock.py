"""Clocks a test moves instead of waiting for real time to pass.

Two kinds, for the two ways time is read:

* ``HandClock``: the service's ``Clock`` (``service.runtime.clock``) standing
  still until the test moves it (``clock.t += 1.0``), for the hub, the app,
  the history and the MQTT publisher;
* ``OffsetClock``: a driver's ``monotonic`` callable that follows real time
  but can be pushed ahead, for a driver that must keep running on its own
  while the test skips "30 s of garbage" at once.
"""

from __future__ import annotations

import time

from service.runtime.clock import Clock

# Every hand clock of a test run shares this one wall-clock origin, set about
# now: the history's retention compares stored wall times with the real clock,
# and a clock made for a "restart" at ``t + 100`` must read 100 s later on the
# wall too, not a few microseconds more or less.
EPOCH = time.time() - 1000.0


class HandClock(Clock):
    """Time that moves only when the test moves it: ``t`` is the monotonic time line.

    ``jump`` moves the wall clock alone, as an NTP sync after boot does, so a
    test can check that nothing is ordered by the wall clock.
    """

    def __init__(self, t: float = 1000.0) -> None:
        super().__init__()
        self.t = t
        self.jump = 0.0

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> float:
        return EPOCH + self.t + self.jump


class OffsetClock:
    """Monotonic time that a test can push forward, to reach "30 s of garbage" at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
