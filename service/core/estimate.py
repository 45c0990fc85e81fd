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

What is not known in advance about the syrup in front of us, and how each is
taken from the cook's own data (all of it feeds the ETA only: targets move only
with a configured or measured calibration):

* where water boils today: the calibration in force (a boil test, a barometer,
  an altitude), unless the syrup began to boil *below* it, which no syrup can
  do: then a little below that knee (an unconfigured altitude, a probe that
  reads low). A lower boil also shrinks the rise itself (ebullioscopy goes as
  the square of the absolute boiling point), and the transform allows for it;
* how far this syrup's boiling-point rise departs from sucrose's (wine acids,
  glycerol): where the rise is proportional to the molality, its reciprocal —
  the water per unit of solute — falls linearly in time at constant heat,
  whatever the proportionality factor, so a scale factor on the rise only
  rescales the fitted quantity and the slope absorbs it. The curve itself
  takes the middle way between thermodynamics (Norrish) and the candy table,
  which disagree by up to 20 % in local slope where the curve is flat, and
  the uncertainty says so (``MODEL_ERROR``);
* the burner's effective rate: the fitted slope itself, over a recent window
  (75 s, or a slow gateway's last five readings).

Nothing is fitted while the pot is still heating to its boil: the plateau is
found by the knee in the rate of rise (``EtaEstimator._knee``), and the fit
starts after it.

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

from service.core.lines import fit_line

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
MIN_SAMPLES = 5  # a slow gateway's window keeps its last five readings, however old
MIN_SPAN_S = 20.0
MAX_ETA_S = 3600.0
SIGNIFICANCE = 3.0  # the slope must be this many standard errors from zero
REBUILD_EVERY = 512
REBUILD_SHIFT_C = 0.05  # a re-fitted boiling point this far from the one in use re-maps the window
MODEL_ERROR = 0.10  # relative: burner wander and syrups that are not sucrose (tuning seeds)
MODEL_FLOOR_S = 2.0

# Where water boils today, when the calibration in force cannot be right: the syrup's boil
# began below it (altitude, or a probe reading low). A red-wine syrup starts at 25–40 % sugar,
# so its boil begins this far above water's.
KNEE_RISE_C = 0.9  # a 30–35 % syrup's rise (~0.75 °C), and what it climbs before the knee is seen
# The knee between heating and boiling (EtaEstimator._knee).
BOILS_ABOVE_C = 90.0  # water boils above this in any kitchen people cook in (10,000 ft: 193 °F)
KNEE_FORGET_BELOW_C = 5.0  # a syrup this far below that has left its boil (or is another pot)
KNEE_RATE_S = 10.0
KNEE_RATE_MIN_SAMPLES = 3
KNEE_SETTLE_S = 5.0
KNEE_SETTLE_LAGS = 3.0
KNEE_READ_AFTER_S = 30.0
KNEE_BELOW_PRIOR_MAX_C = 7.0  # ~7,000 ft below the default: a lower "knee" is no boil of water
KNEE_PEAK_MIN_C_PER_S = 0.05  # 5.4 °F/min: a heat-up at least this fast was seen
KNEE_RATIO = 0.5
CALM_FOR_S = 30.0
CALM_C_PER_S = 0.035  # 3.8 °F/min: a syrup early on its plateau climbs slower; a slow heat-up faster
ACCELERATING = 1.3  # the rate grew by this much ...
ACCELERATING_FOR_S = 30.0  # ... over this long: a heat-up never does that at a steady flame


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
# Below that, thermodynamics and the candy table disagree by up to 0.2 °C where the curve is
# flat, which is 20 % in the curve's local slope and so in the ETA; real syrups (wine, invert
# sugar) differ from both by as much. The estimator takes the middle way between the two.
TABLE_SHARE = 0.5


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
        share = max(TABLE_SHARE, min(max((target - BLEND_FROM_C) / (BLEND_TO_C - BLEND_FROM_C), 0.0), 1.0))
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


def _rise_scale(water_boils_c: float) -> float:
    """How much smaller a syrup's rise is where water boils lower: ebullioscopy goes as T_b²."""
    return ((water_boils_c + 273.15) / 373.15) ** 2


class FitWindow:
    """A weighted straight line of the transformed temperature against time, as running sums."""

    __slots__ = ("_n_dropped", "_s", "_st", "_stt", "_stx", "_sx", "_sxx", "_t0", "points")

    def __init__(self) -> None:
        self.points: deque[tuple[float, float, float, float]] = deque()  # (t - t0, x, weight, celsius)
        self._t0 = 0.0
        self._n_dropped = 0
        self._s = self._st = self._stt = self._sx = self._stx = self._sxx = 0.0

    def clear(self) -> None:
        self.points.clear()
        self._n_dropped = 0
        self._s = self._st = self._stt = self._sx = self._stx = self._sxx = 0.0

    def push(self, t: float, x: float, w: float, c: float) -> None:
        points = self.points
        if not points:
            self._t0 = t
        # times relative to the window's first point keep t*t small and exact
        t -= self._t0
        points.append((t, x, w, c))
        self._s += w
        self._st += w * t
        self._stt += w * t * t
        self._sx += w * x
        self._stx += w * t * x
        self._sxx += w * x * x
        horizon = t - WINDOW_S
        while len(points) > MIN_SAMPLES and points[0][0] < horizon:
            ot, ox, ow, _ = points.popleft()
            self._s -= ow
            self._st -= ow * ot
            self._stt -= ow * ot * ot
            self._sx -= ow * ox
            self._stx -= ow * ot * ox
            self._sxx -= ow * ox * ox
            self._n_dropped += 1
        if self._n_dropped >= REBUILD_EVERY:
            self._resum()

    def _resum(self) -> None:
        """Running sums drift as points come and go; add them up again exactly."""
        self._n_dropped = 0
        self._s = self._st = self._stt = self._sx = self._stx = self._sxx = 0.0
        shift = self.points[0][0]
        self._t0 += shift
        self.points = deque((t - shift, x, w, c) for t, x, w, c in self.points)
        for t, x, w, _ in self.points:
            self._s += w
            self._st += w * t
            self._stt += w * t * t
            self._sx += w * x
            self._stx += w * t * x
            self._sxx += w * x * x

    def rebuild(self, transform: Callable[[float], tuple[float, float] | None]) -> None:
        """The same readings through a new transform (a new boiling point)."""
        old = list(self.points)
        origin = self._t0
        self.clear()
        for t, _, _, c in old:
            got = transform(c)
            if got is not None:
                self.push(origin + t, got[0], got[1], c)

    def line(self) -> tuple[float, float, float, float, float, int, float] | None:
        """(tbar, xbar, slope, var_unit, stt, n, s) of the weighted fit, or None."""
        points = self.points
        n = len(points)
        if n < MIN_SAMPLES or points[-1][0] - points[0][0] < MIN_SPAN_S:
            return None
        s = self._s
        tbar = self._st / s
        xbar = self._sx / s
        stt = self._stt - s * tbar * tbar
        if stt <= 0.0:
            return None
        slope = (self._stx - s * tbar * xbar) / stt
        sse = max(self._sxx - s * xbar * xbar - slope * slope * stt, 0.0)
        # weights are relative, so the residual variance is estimated from the fit
        return tbar + self._t0, xbar, slope, sse / (n - 2), stt, n, s


class EtaEstimator:
    """Time to a target from a straight line in a space where the climb is straight.

    The transform makes the quantity rise about linearly at constant heat:
    minus the water ratio for syrup, the temperature itself otherwise. Each
    sample is weighted by the inverse of its variance in that space, so the
    flat (noisy) part of the boiling-point curve counts for little.
    """

    __slots__ = (
        "_calm_since",
        "_fit_from",
        "_heat",
        "_knee_c",
        "_knee_read_at",
        "_rates",
        "_window",
        "boiling",
        "boiling_since",
        "calibrated",
        "fit_offset_c",
        "fit_scale",
        "lag_s",
        "offset_c",
        "peak_rate",
        "syrup",
    )

    def __init__(self, *, syrup: bool, offset_c: float = 0.0, calibrated: bool = False, lag_s: float = 0.0) -> None:
        self.syrup = syrup
        self.lag_s = lag_s
        self._fit_from = -math.inf
        self._knee_read_at = -math.inf
        self.offset_c = offset_c  # the calibration in force: the prior for where water boils
        self.calibrated = calibrated
        # the boiling point the transform uses, as fitted (feeds the ETA, never a target)
        self.fit_offset_c = offset_c
        self.fit_scale = _rise_scale(100.0 + offset_c)
        self._window = FitWindow()
        self._knee_c = math.inf
        self._rates: deque[tuple[float, float]] = deque()  # (t, rate) above BOILS_ABOVE_C, for acceleration
        self._heat: deque[tuple[float, float]] = deque()  # the last KNEE_RATE_S of samples before the boil
        # a syrup is fitted only once it is on its boil: before, it is just heating
        self.boiling = not syrup
        self.boiling_since = -math.inf  # when the knee was seen (a pot that is no syrup: always)
        self.peak_rate = 0.0
        self._calm_since: float | None = None

    @property
    def water_boils_c(self) -> float:
        return 100.0 + self.fit_offset_c

    def transform(self, c: float) -> tuple[float, float] | None:
        """(value, weight) of a temperature in the fitted space, or None."""
        if not self.syrup:
            return c, 1.0
        # the rise over water's boil, as it would be at sea level (the curve is a sea-level one)
        got = water_ratio(100.0 + (c - 100.0 - self.fit_offset_c) / self.fit_scale)
        if got is None:
            return None
        ratio, slope = got
        # d(ratio)/dT at this temperature: the sea-level curve's slope, over the rise's scale
        return -ratio, (self.fit_scale / slope) ** 2

    def set_calibration(self, offset_c: float, calibrated: bool) -> None:
        """A new calibration: a new prior; what the pot did so far still counts."""
        self.offset_c = offset_c
        self.calibrated = calibrated
        self._use_boil(self._boils_from(100.0 + offset_c))

    def add(self, t: float, c: float) -> None:
        """An accepted sample (the track's: wild ones never reach here)."""
        if self.syrup and self.boiling and c < BOILS_ABOVE_C - KNEE_FORGET_BELOW_C:
            self.restart()  # far below any boil: off the heat and cooled, or another pot
        if not self.boiling:
            if not self._knee(t, c):
                return
            self.boiling = True
            self.boiling_since = t
            self._window.clear()
            if self.syrup:
                # the probe is still catching up with the knee it just showed: what it reads
                # for a few time constants is its own lag, not the syrup's curve (nor its boil)
                self._fit_from = t + KNEE_SETTLE_S + KNEE_SETTLE_LAGS * self.lag_s
                self._knee_read_at = t + KNEE_READ_AFTER_S + KNEE_SETTLE_LAGS * self.lag_s
        if t < self._fit_from:
            return
        if self.syrup and self._knee_c == math.inf and t >= self._knee_read_at:
            # where the syrup sits early on its boil, once even a lagging probe (with no lag
            # configured) has caught up with it: a probe 15 s behind is 0.2 °C short by then
            self._knee_c = c
            self._use_boil(self._boils_from(100.0 + self.offset_c))
        got = self.transform(c)
        if got is None:
            return  # off the table (below the boil the fit assumes, or burnt): no line through it
        self._window.push(t, got[0], got[1], c)

    def restart(self) -> None:
        """A new pot under the probe (the track started again): find its boil afresh."""
        if not self.syrup:
            return
        self.boiling = False
        self.boiling_since = -math.inf
        self.peak_rate = 0.0
        self._calm_since = None
        self._rates.clear()
        self._heat.clear()
        self._knee_c = math.inf
        self._window.clear()
        self._use_boil(100.0 + self.offset_c)

    def _boils_from(self, calibrated_c: float) -> float:
        """Where water boils for the ETA: the calibration, unless the syrup began to boil below it.

        A syrup always boils above water; one whose boil began below where water
        boils by default (an unconfigured altitude, a probe reading low) says where
        water really boils: a little below that knee. A configured or measured
        calibration is believed over a knee, and so is a knee too low to be any
        kitchen's boil (a braise at a simmer is not a syrup on its boil).
        """
        if self.calibrated or not calibrated_c - KNEE_BELOW_PRIOR_MAX_C <= self._knee_c < calibrated_c:
            return calibrated_c
        return self._knee_c - KNEE_RISE_C

    def _use_boil(self, water_c: float) -> None:
        offset = water_c - 100.0
        if abs(offset - self.fit_offset_c) >= REBUILD_SHIFT_C:
            self.fit_offset_c = offset
            self.fit_scale = _rise_scale(water_c)
            self._window.rebuild(self.transform)

    def _knee(self, t: float, c: float) -> bool:
        """Is the syrup on its boil? The rate of rise falls sharply where heating becomes boiling.

        The heat-up to the boil climbs at tens of °F a minute, and slows a little
        as the losses grow; on the plateau the syrup climbs a few °F a minute,
        faster and faster as the water goes. So the syrup is boiling when the
        rate fell to a fraction of its peak (we saw the heat-up), or when, above
        the coldest boil a kitchen has, it has been climbing faster and faster
        for half a minute (the probe went into a syrup already climbing), or no
        heat-up was ever seen and the pot has been up there for half a minute
        (a pot already on its plateau). The rate is a straight line through the
        last ``KNEE_RATE_S`` of samples: the track's own smoothed rate lags a
        sharp knee by half a minute, long enough for a syrup that began to boil
        5 °F below the target to pass it unwarned.
        """
        heat = self._heat
        heat.append((t, c))
        # 10 s of samples, but a slow gateway's last three
        while len(heat) > KNEE_RATE_MIN_SAMPLES and t - heat[0][0] > KNEE_RATE_S:
            heat.popleft()
        line = fit_line(heat)
        if line is None:
            return False
        rate = line[0]
        if rate > self.peak_rate:
            self.peak_rate = rate
        if c < BOILS_ABOVE_C:
            self._calm_since = None
            self._rates.clear()
            return False
        rates = self._rates
        rates.append((t, rate))
        while t - rates[0][0] > ACCELERATING_FOR_S:
            rates.popleft()
        if self._calm_since is None:
            self._calm_since = t
        then_t, then_rate = rates[0]
        if t - then_t >= ACCELERATING_FOR_S - 1.0 and then_rate > 0.0 and rate >= ACCELERATING * then_rate:
            return True
        if self.peak_rate >= KNEE_PEAK_MIN_C_PER_S:
            return rate <= KNEE_RATIO * self.peak_rate
        # no heat-up faster than a syrup's own climb was seen: only a pot that barely moves is on its
        # plateau (a slow heat-up climbs steadily at a few °F a minute all the way to it)
        if rate > CALM_C_PER_S:
            self._calm_since = t
        return t - self._calm_since >= CALM_FOR_S

    def rate_at(self, c: float) -> float | None:
        """The climb's rate (°C/s) at temperature ``c`` by the fitted line, or None.

        On the syrup curve this follows the acceleration that a straight line on
        temperature lags behind: the water leaves steadily, the temperature does not.
        """
        line = self._window.line()
        got = self.transform(c)
        if line is None or got is None:
            return None
        slope = line[2]
        if slope <= 0.0:
            return None
        return slope * math.sqrt(got[1]) if self.syrup else slope

    def eta(self, target_c: float, now: float) -> tuple[float, float] | None:
        """Seconds until ``target_c`` from ``now`` and its standard error, or None."""
        if not self.boiling:
            return None
        line = self._window.line()
        if line is None:
            return None
        got = self.transform(target_c)
        if got is None:
            return None
        tbar, xbar, slope, var_unit, stt, _, s = line
        if slope <= 0.0:
            return None
        var_slope = var_unit / stt
        if slope < SIGNIFICANCE * math.sqrt(var_slope):
            return None
        d = now - tbar
        x_now = xbar + slope * d
        eta = (got[0] - x_now) / slope
        if eta <= 0.0:
            return 0.0, 0.0
        if eta > MAX_ETA_S:
            return None
        var_x_now = var_unit * (1.0 / s + d * d / stt)
        var_eta = (var_x_now + eta * eta * var_slope + 2.0 * eta * d * var_slope) / (slope * slope)
        # The heat under a pot is never quite constant, and the syrup never quite sucrose:
        # what the fit's own scatter cannot show, measured on the tuning corpus.
        model = MODEL_ERROR * eta
        sigma = math.sqrt(max(var_eta, 0.0) + model * model + MODEL_FLOOR_S * MODEL_FLOOR_S)
        return eta, sigma
