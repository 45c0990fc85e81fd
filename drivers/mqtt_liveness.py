"""Is the broker still there? A dead link noticed within 1.5 × the keepalive, as the broker notices us.

paho's own keepalive (2.2) sends its PINGREQ a keepalive after the last byte
received, then waits a whole keepalive more for the answer, and looks only
when its loop wakes: a link that dies silently (the Wi-Fi gone, a NAT's entry
dropped) is noticed a little *after* twice the keepalive. The broker, on its
side, gives up after 1.5 × and publishes our will. So the link asks itself:
after half a keepalive with nothing from the broker it sends a request the
broker must answer (an UNSUBSCRIBE of a topic filter nobody uses: the broker
answers UNSUBACK, nothing is published, no other client sees a thing), and
when a whole keepalive passes after that with still nothing, the link is
dead. That is within 1.5 × the keepalive of the last word from the broker,
plus the watch's own tick; paho's check stays as a second line.

Pure: the times are handed in (seconds, any monotonic clock); the link calls
``heard`` whenever the broker's bytes arrive, and ``check`` from its watch
(both on the event loop now; the lock is kept, cheap, for any caller).
"""

from __future__ import annotations

import threading
from enum import Enum


class Verdict(Enum):
    ALIVE = "alive"
    ASK = "ask"  # send the broker something it must answer, now
    DEAD = "dead"  # close the connection: the broker has not answered


class Liveness:
    """Last word from the broker, and the question outstanding, for one connection."""

    def __init__(self, keepalive: float, now: float) -> None:
        self.keepalive = keepalive
        self._lock = threading.Lock()  # cheap; the link calls both from the event loop
        self._heard_at = now
        self._asked_at: float | None = None

    def heard(self, now: float) -> None:
        """The broker sent something: the link is alive, any question is answered."""
        with self._lock:
            self._heard_at = max(self._heard_at, now)
            self._asked_at = None

    def check(self, now: float) -> Verdict:
        with self._lock:
            if self._asked_at is not None:
                return Verdict.DEAD if now - self._asked_at >= self.keepalive else Verdict.ALIVE
            if now - self._heard_at >= self.keepalive / 2:
                self._asked_at = now
                return Verdict.ASK
            return Verdict.ALIVE

    def silent_for(self, now: float) -> float:
        with self._lock:
            return now - self._heard_at
