"""A least-squares straight line through a few (time, value) points, in one pass.

The knee of the boil and a lagging probe's slope both need the slope of the
last few seconds of readings, every sample: one pass of sums, with the time
origin at the first point so that the squares stay small and exact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


def fit_line(points: Iterable[tuple[float, float]]) -> tuple[float, float, float, int] | None:
    """(slope, sum of squared residuals, spread of time Σ(t − t̄)², n), or None below 3 points."""
    n = 0
    t0 = 0.0
    st = sv = stt = stv = svv = 0.0
    for t, v in points:
        if n == 0:
            t0 = t
        t -= t0
        n += 1
        st += t
        sv += v
        stt += t * t
        stv += t * v
        svv += v * v
    if n < 3:
        return None
    spread = stt - st * st / n
    if spread <= 0.0:
        return None
    cov = stv - st * sv / n
    slope = cov / spread
    sse = max(svv - sv * sv / n - slope * cov, 0.0)
    return slope, sse, spread, n


class LineSums:
    """Running sums of (t − origin, v) for a least-squares line."""

    __slots__ = ("n", "st", "stt", "stv", "sv", "svv")

    def __init__(self) -> None:
        self.n = 0
        self.st = self.sv = self.stt = self.stv = self.svv = 0.0

    def add(self, t: float, v: float, sign: float) -> None:
        self.n += 1 if sign > 0.0 else -1
        st, sv = sign * t, sign * v
        self.st += st
        self.sv += sv
        self.stt += st * t
        self.stv += st * v
        self.svv += sv * v

    def line(self, extra: LineSums | None = None) -> tuple[float, float, float, int] | None:
        n, st, sv, stt, stv, svv = self.n, self.st, self.sv, self.stt, self.stv, self.svv
        if extra is not None:
            n += extra.n
            st += extra.st
            sv += extra.sv
            stt += extra.stt
            stv += extra.stv
            svv += extra.svv
        if n < 3:
            return None
        spread = stt - st * st / n
        if spread <= 1e-9:
            return None
        cov = stv - st * sv / n
        slope = cov / spread
        return slope, max(svv - sv * sv / n - slope * cov, 0.0), spread, n


class SlidingLines:
    """The line through a sliding window of samples and the one through its newer half, O(1) a sample.

    ``whole()`` is ``fit_line`` of every point held; ``newer()`` is ``fit_line``
    of the newest ceil(n/2) of them. Running sums drift as points come and go,
    so they are added up again now and then.
    """

    __slots__ = ("_moves", "_newer", "_newer_sums", "_older", "_older_sums", "_origin")

    def __init__(self) -> None:
        self._older: deque[tuple[float, float]] = deque()
        self._newer: deque[tuple[float, float]] = deque()
        self._older_sums = LineSums()
        self._newer_sums = LineSums()
        self._origin = 0.0
        self._moves = 0

    def __len__(self) -> int:
        return len(self._older) + len(self._newer)

    def clear(self) -> None:
        self._older.clear()
        self._newer.clear()
        self._older_sums = LineSums()
        self._newer_sums = LineSums()
        self._moves = 0

    def oldest(self) -> float:
        return (self._older or self._newer)[0][0] + self._origin

    def newest(self) -> float:
        return self._newer[-1][0] + self._origin

    def append(self, t: float, v: float) -> None:
        if not self._older and not self._newer:
            self._origin = t
        t -= self._origin
        self._newer.append((t, v))
        self._newer_sums.add(t, v, 1.0)
        self._balance()

    def popleft(self) -> None:
        side, sums = (self._older, self._older_sums) if self._older else (self._newer, self._newer_sums)
        t, v = side.popleft()
        sums.add(t, v, -1.0)
        self._moves += 1
        self._balance()

    def _balance(self) -> None:
        older, newer = self._older, self._newer
        want = (len(older) + len(newer) + 1) // 2
        while len(newer) > want:
            t, v = newer.popleft()
            self._newer_sums.add(t, v, -1.0)
            older.append((t, v))
            self._older_sums.add(t, v, 1.0)
            self._moves += 1
        while len(newer) < want and older:
            t, v = older.pop()
            self._older_sums.add(t, v, -1.0)
            newer.appendleft((t, v))
            self._newer_sums.add(t, v, 1.0)
            self._moves += 1
        if self._moves >= REBUILD_AFTER_MOVES:
            self._rebuild()

    def _rebuild(self) -> None:
        self._moves = 0
        self._older_sums = LineSums()
        self._newer_sums = LineSums()
        for point in self._older:
            self._older_sums.add(*point, 1.0)
        for point in self._newer:
            self._newer_sums.add(*point, 1.0)

    def whole(self) -> tuple[float, float, float, int] | None:
        return self._older_sums.line(self._newer_sums)

    def newer(self) -> tuple[float, float, float, int] | None:
        return self._newer_sums.line()


REBUILD_AFTER_MOVES = 2048
