"""Is a serial stream noise? Counted in bytes over the recent stream, so its short lines can be doubted.

A wrong baud rate or a noisy cable delivers random bytes. Cut at their random
line ends, nearly every piece is binary junk, but now and then one is a lone
digit (``9``): a perfectly well-formed number line, and a perfectly wrong
temperature. Judged line by line it passes every decoder; judged with the
bytes around it, it is plainly part of noise. So each framed line is weighed:

* **noise**: bytes that no device at the right baud sends — a line that is not
  text (invalid UTF-8, control characters), a line over the length cap, the
  cut-off piece dropped when the port opened, when it is not text either;
* **good**: the bytes of lines that decoded (a reading, a fault, a protocol
  line such as a CSV header or a TC4 acknowledgement);
* neither: printable text that is not the format (a banner, a sketch's
  ``Requesting temperatures...DONE``): a device talking at the right baud,
  which says nothing about noise either way.

While the recent stream holds more noise bytes than good ones, its lines are
*suspect*: not readings, and counted as garbage, so the driver's garbage fault
fires as it does for a stream with no readable line at all. "Recent" is the
last ``WINDOW_LINES`` weighed lines and never more than ``WINDOW_S`` seconds:
a real probe whose port opened on a bootloader's babble reads again once the
babble is that far behind (5 s at 1 Hz, sooner for a faster device), while a
random stream always has its own junk right beside each lucky digit.

Pure: no I/O, no clock; the time is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 5.0
WINDOW_LINES = 16


@dataclass(slots=True)
class NoiseMeter:
    """Noise and good bytes over the recent stream; ``noisy`` when noise outweighs the good."""

    window_s: float = WINDOW_S
    window_lines: int = WINDOW_LINES
    noise: int = 0
    good: int = 0
    _recent: deque[tuple[float, int, int]] = field(default_factory=deque)

    def weigh(self, at: float, noise: int, good: int) -> None:
        """One line (or dropped piece) that arrived at ``at``: its noise and good bytes."""
        if noise == 0 and good == 0:
            return
        recent = self._recent
        recent.append((at, noise, good))
        self.noise += noise
        self.good += good
        while len(recent) > self.window_lines:
            self._forget()
        self.expire(at)

    def expire(self, now: float) -> None:
        """Forget what arrived more than ``window_s`` before ``now``."""
        recent = self._recent
        while recent and now - recent[0][0] > self.window_s:
            self._forget()

    def noisy(self, now: float) -> bool:
        """Does noise outweigh the good bytes in the recent stream?"""
        self.expire(now)
        return self.noise > self.good

    def describe(self) -> str:
        """The evidence, for a notice: how much of the recent stream was noise."""
        total = self.noise + self.good
        return f"{self.noise} of the last {total} bytes are noise"

    def _forget(self) -> None:
        _, noise, good = self._recent.popleft()
        self.noise -= noise
        self.good -= good
