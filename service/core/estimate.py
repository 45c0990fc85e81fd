"""Time to target for a pot of syrup, with how far to trust it.

Sugar syrup does not climb in a straight line. While it boils, the heat goes
into driving water off, and at a constant flame the water leaves at a nearly
constant rate; the temperature is just the boiling point of whatever is left,
which sits near 100 °C for a long time and then shoots up as the syrup passes
70 % sugar. So the estimate works in *water per unit of sugar*: each accepted
temperature is turned into the water content it implies (through the
boiling-point table below), a weighted straight line is fitted to that over
the last minute or so, and the time left is when the line reaches the target's
water content. A straight line on temperature, by contrast, overestimates the
time left by 1.5–4× at 218–220 °F.

Below the boil (or for targets below it) the plain ``linear`` model fits
temperature directly. ``eta`` is None whenever the fit cannot be trusted: too
few samples, too short a span, still heating to the boil, or a slope that is
not clearly rising.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from functools import cache

# Boiling point of sucrose syrup at sea level (°C) against its sugar mass
# fraction: candy-making tables (50 % → 102, 60 % → 103, 70 % → 105.6,
# 75 % → 107.8, 80 % → 111, 85 % → 115.5, 90 % → 122), with the dilute end
# from ebullioscopy and the top end from the hard-crack stage (~99 % at 150 °C).
SUGAR_FRACTION = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)
SYRUP_BOILS_C = (100.0, 100.4, 101.1, 102.0, 103.0, 105.6, 107.8, 111.0, 115.5, 122.0, 132.0, 140.0, 150.0)
# Below this the syrup is too dilute for its boiling point to say anything
# (the table is flat there): the pot is still heating to the boil.
SYRUP_MIN_C = 100.5

WINDOW_S = 75.0
MIN_SAMPLES = 5
MIN_SPAN_S = 20.0
MAX_ETA_S = 3600.0
SIGNIFICANCE = 3.0  # the slope must be this many standard errors from zero
REBUILD_EVERY = 512


GRID_STEP_C = 0.05


def _pchip_slopes(xs: tuple[float, ...], ys: tuple[float, ...]) -> list[float]:
    """Fritsch–Carlson slopes: a smooth interpolant that never overshoots the table."""
    n = len(xs)
    h = [xs[i + 1] - xs[i] for i in range(n - 1)]
    delta = [(ys[i + 1] - ys[i]) / h[i] for i in range(n - 1)]
    slopes = [delta[0]] + [0.0] * (n - 2) + [delta[-1]]
    for i in range(1, n - 1):
        if delta[i - 1] * delta[i] > 0:
            w1, w2 = 2 * h[i] + h[i - 1], h[i] + 2 * h[i - 1]
            slopes[i] = (w1 + w2) / (w1 / delta[i - 1] + w2 / delta[i])
    return slopes


def _boil_at(x: float, slopes: list[float]) -> float:
    xs, ys = SUGAR_FRACTION, SYRUP_BOILS_C
    i = min(max(bisect_right(xs, x) - 1, 0), len(xs) - 2)
    h = xs[i + 1] - xs[i]
    u = (x - xs[i]) / h
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    return h00 * ys[i] + h10 * h * slopes[i] + h01 * ys[i + 1] + h11 * h * slopes[i + 1]


def _norrish_boil_c(x: float) -> float:
    """Boiling point of a sucrose solution of mass fraction ``x`` from thermodynamics.

    Water activity by Norrish's equation (K = 6.47 for sucrose), then
    Clausius–Clapeyron for the temperature at which that water boils at one
    atmosphere. Within 0.2 °C of the candy table up to 80 % sugar, and smooth,
    so its slope (which sets the ETA) follows the physics between the rows.
    """
    ns, nw = x / 342.3, (1.0 - x) / 18.015
    xs = ns / (ns + nw)
    activity = (1.0 - xs) * math.exp(-6.47 * xs * xs)
    return 1.0 / (1.0 / 373.15 + 8.314 / 40700.0 * math.log(activity)) - 273.15


# Norrish's fit is made for solutions up to ~80 %; above it the candy table
# (hard ball, crack stages) is the better guide. Blend between the two.
BLEND_FROM_C, BLEND_TO_C = 109.0, 113.0


def _invert(boil: Callable[[float], float], target_c: float) -> float:
    lo, hi = 1e-6, SUGAR_FRACTION[-1]
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if boil(mid) < target_c:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@cache
def _sugar_grid() -> tuple[float, ...]:
    """Sugar fraction every GRID_STEP_C from SYRUP_MIN_C, computed once on first use.

    A piecewise-linear table would give the boiling curve kinks at every row,
    and the local slope would be off by ±30 % between rows; a smooth curve's
    slope follows the physics.
    """
    slopes = _pchip_slopes(SUGAR_FRACTION, SYRUP_BOILS_C)
    grid = []
    steps = int((SYRUP_BOILS_C[-1] - SYRUP_MIN_C) / GRID_STEP_C) + 1
    for k in range(steps):
        target = SYRUP_MIN_C + k * GRID_STEP_C
        share = min(max((target - BLEND_FROM_C) / (BLEND_TO_C - BLEND_FROM_C), 0.0), 1.0)
        x = 0.0
        if share < 1.0:
            x += (1.0 - share) * _invert(_norrish_boil_c, target)
        if share > 0.0:
            x += share * _invert(lambda f: _boil_at(f, slopes), target)
        grid.append(x)
    return tuple(grid)


def water_ratio(boil_c: float) -> tuple[float, float] | None:
    """Water per unit sugar at this (sea-level) boiling point, and d(ratio)/dT.

    None below ``SYRUP_MIN_C`` or above the table, where the model says nothing.
    """
    grid = _sugar_grid()
    pos = (boil_c - SYRUP_MIN_C) / GRID_STEP_C
    if pos < 0.0 or pos >= len(grid) - 1:
        return None
    i = int(pos)
    x0 = grid[i]
    dx_dt = (grid[i + 1] - x0) / GRID_STEP_C
    x = x0 + (pos - i) * GRID_STEP_C * dx_dt
    return (1.0 - x) / x, -dx_dt / (x * x)


class EtaEstimator:
    """A weighted straight-line fit of the transformed temperature against time.

    The transform makes the quantity rise about linearly at constant heat:
    minus the water ratio for syrup, the temperature itself otherwise. Each
    sample is weighted by the inverse of its variance in that space, so the
    flat (noisy) part of the boiling-point curve counts for little.
    """

    __slots__ = (
        "_n_dropped",
        "_points",
        "_s",
        "_st",
        "_stt",
        "_stx",
        "_sx",
        "_sxx",
        "_t0",
        "offset_c",
        "syrup",
    )

    def __init__(self, *, syrup: bool, offset_c: float = 0.0) -> None:
        self.syrup = syrup
        self.offset_c = offset_c
        self._points: deque[tuple[float, float, float]] = deque()
        self._n_dropped = 0
        self._t0 = 0.0
        self._s = self._st = self._stt = self._sx = self._stx = self._sxx = 0.0

    def transform(self, c: float) -> tuple[float, float] | None:
        """(value, weight) of a temperature in the fitted space, or None."""
        if not self.syrup:
            return c, 1.0
        got = water_ratio(c - self.offset_c)
        if got is None:
            return None
        ratio, slope = got
        return -ratio, 1.0 / (slope * slope)

    def add(self, t: float, c: float) -> None:
        got = self.transform(c)
        if got is None:
            # heating to the boil, or past the table: what came before no longer fits
            if self._points:
                self.reset()
            return
        x, w = got
        points = self._points
        if not points:
            self._t0 = t
        # times relative to the window's first point keep t*t small and exact
        t -= self._t0
        points.append((t, x, w))
        self._s += w
        self._st += w * t
        self._stt += w * t * t
        self._sx += w * x
        self._stx += w * t * x
        self._sxx += w * x * x
        horizon = t - WINDOW_S
        while len(points) > MIN_SAMPLES and points[0][0] < horizon:
            ot, ox, ow = points.popleft()
            self._s -= ow
            self._st -= ow * ot
            self._stt -= ow * ot * ot
            self._sx -= ow * ox
            self._stx -= ow * ot * ox
            self._sxx -= ow * ox * ox
            self._n_dropped += 1
        if self._n_dropped >= REBUILD_EVERY:
            self._rebuild()

    def reset(self) -> None:
        self._points.clear()
        self._n_dropped = 0
        self._s = self._st = self._stt = self._sx = self._stx = self._sxx = 0.0

    def _rebuild(self) -> None:
        """Running sums drift as points come and go; start them again exactly."""
        points = list(self._points)
        origin = self._t0 + points[0][0]
        shift = points[0][0]
        self.reset()
        self._t0 = origin
        for t_old, x, w in points:
            t = t_old - shift
            self._points.append((t, x, w))
            self._s += w
            self._st += w * t
            self._stt += w * t * t
            self._sx += w * x
            self._stx += w * t * x
            self._sxx += w * x * x

    def eta(self, target_c: float, now: float) -> tuple[float, float] | None:
        """Seconds until ``target_c`` from ``now`` and its standard error, or None."""
        points = self._points
        n = len(points)
        if n < MIN_SAMPLES or points[-1][0] - points[0][0] < MIN_SPAN_S:
            return None
        got = self.transform(target_c)
        if got is None:
            return None
        x_target = got[0]
        now -= self._t0
        s = self._s
        tbar = self._st / s
        xbar = self._sx / s
        stt = self._stt - s * tbar * tbar
        if stt <= 0.0:
            return None
        slope = (self._stx - s * tbar * xbar) / stt
        if slope <= 0.0:
            return None
        sse = max(self._sxx - s * xbar * xbar - slope * slope * stt, 0.0)
        # weights are relative, so the residual variance is estimated from the fit
        var_unit = sse / (n - 2)
        var_slope = var_unit / stt
        if slope < SIGNIFICANCE * math.sqrt(var_slope):
            return None
        d = now - tbar
        x_now = xbar + slope * d
        eta = (x_target - x_now) / slope
        if eta <= 0.0:
            return 0.0, 0.0
        if eta > MAX_ETA_S:
            return None
        var_x_now = var_unit * (1.0 / s + d * d / stt)
        var_eta = (var_x_now + eta * eta * var_slope + 2.0 * eta * d * var_slope) / (slope * slope)
        # The heat under the pot is never quite constant: at least 5 % + 2 s.
        sigma = max(math.sqrt(max(var_eta, 0.0)), 0.05 * eta + 2.0)
        return eta, sigma
