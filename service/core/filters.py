"""From raw samples to a level the alarms can trust: gate, smooth, rate of rise.

A kitchen probe lies in three ways: noise (a fraction of a degree), wild
samples (a spike, or a burst of up to three from an induction hob) and lag.
The track answers each once, so every step machine can use its ``level``
without caring how it was made:

* gate: a sample far from where the pot should be now (last level plus rate
  times the time since) is a suspect and never moves the level. Four suspects
  in a row that agree with each other are the new truth (the probe moved to
  another pot), so a burst of three can never take over the track.
* level: the median of the last few accepted samples, each moved forward by
  the rate to "now" so the median does not lag a climbing pot. With seven
  samples, three outliers that slipped through the gate cannot move it. It
  may not run ahead of the newest two readings by more than three of their
  noise: the rate lags a knee, and the median carried on by it ran degrees
  past anything read. The gate predicts from the median carried on, so that
  ceiling changes only what is reported, and only ever lowers it.
* rate: a linear regression with exponentially fading weights (time constant
  ``RATE_TAU_S``), kept as running sums re-centred on every sample: O(1) per
  sample whatever the sampling interval, so replay stays fast.

A probe pulled out of the pot reads the counter's temperature; the track
follows it (four agreeing suspects), but remembers where the pot was heading.
When the probe goes back in, the first sample that agrees with that memory
restores the pot's track at once, so an alert is not held back by the gate.

What no probe can do is *jump*. A probe is a first-order lag: in Δt it moves
towards what surrounds it by at most ``(x − y)(1 − e^(−Δt/τ))``, and nothing in
a kitchen is colder than ``ENV_MIN_C`` or hotter than ``ENV_MAX_C``. A sample
farther from the one before than that (195 °F → 5 °F in 0.1 s) is *faulty*:
not a suspect, so it can never start a new track, and so are the samples that
follow it, however well they agree with each other, until one is back on the
pot's track, one jumps away again (it is judged afresh), or the stream pauses
long enough (``SETTLE_LAGS`` τ) that anything is possible again. A probe truly
moved, to the counter or another pot, moves at its own pace, and is followed as
before. τ is the fastest the probe could be: a third of its configured ``lag``
(a lag may be overstated), and never less than ``FASTEST_LAG_S``; so with no
lag configured only a fast stream (a few samples a second) can show a jump.
"""

from __future__ import annotations

import math
from collections import deque

# Degrees Celsius and seconds throughout.
GATE_MIN_C = 2.0 / 1.8  # a sample this close to the prediction is never a suspect
GATE_SIGMAS = 6.0
RATE_SLACK_C_PER_S = 0.25 / 1.8  # how far the rate may change unseen, per second
RATE_TAU_S = 20.0
LEVEL_SAMPLES = 7
LEVEL_WINDOW_S = 10.0
SUSPECTS_TO_RESEED = 4  # one more than the longest induction burst we must ignore
MEMORY_DROP_C = 10.0 / 1.8  # a re-seed this far below means the probe left the pot
MEMORY_KEEP_S = 900.0
MEMORY_TOL_MAX_C = 8.0
# A probe going back in climbs through its own lag for a few seconds: keep the
# memory that long, so each step of that climb can restore the track again.
MEMORY_SETTLE_S = 10.0
SIGMA_START_C = 0.15
SIGMA_MIN_C = 0.02
SIGMA_ALPHA = 0.05
# The level may run ahead of the newest two readings by no more than this many of their noise.
KNEE_SIGMAS = 3.0
# What a probe can reach, and how fast (see the module docstring).
ENV_MIN_C = -50.0  # colder than a freezer or an ice bath: the drivers' own floor
ENV_MAX_C = 550.0  # hotter than any oven, pan or oil: the drivers' own ceiling
FASTEST_LAG_S = 0.1  # a bare fine-gauge thermocouple plunged into liquid; every other probe is slower
LAG_OVERSTATED = 3.0  # a configured lag may be up to this many times the probe's true τ
STAMP_JITTER_S = 0.02  # readings are stamped on arrival: their spacing is known only to this
SETTLE_LAGS = 5.0  # after this many τ without a sample, a probe may be anywhere


class Track:
    """One probe channel's trusted view of the pot. Mutated in place: it is hot."""

    __slots__ = (
        "_mem",
        "_mem_until",
        "_model",
        "_raw",
        "_recent",
        "_s",
        "_st",
        "_stt",
        "_stv",
        "_suspects",
        "_sv",
        "accepted",
        "faulty",
        "jump",
        "last_t",
        "level",
        "level_n",
        "prev_level",
        "rate",
        "rejected",
        "reseeds",
        "settled",
        "sigma",
        "tau",
    )

    def __init__(self, lag_s: float | None = None) -> None:
        self.level: float | None = None
        self.level_n = 0  # readings in the level's median: with two, it is their mean, and one moves it half-way
        # The median carried on by the rate, before the ceiling (see ``_accept``): what the track
        # predicts with, so the ceiling changes nothing the track decides, only what it reports.
        self._model: float | None = None
        self.prev_level: float | None = None
        self.rate = 0.0
        self.sigma = SIGMA_START_C
        self.last_t = 0.0
        self.accepted = 0
        self.rejected = 0
        self.reseeds = 0  # how many times the track started again (a new pot, or the probe left it)
        # A brand-new track may have been seeded by a wild sample: it settles once
        # SUSPECTS_TO_RESEED samples agree, and nothing may fire on it before.
        self.settled = False
        self._recent: deque[tuple[float, float]] = deque(maxlen=LEVEL_SAMPLES)
        self._suspects: list[tuple[float, float]] = []
        self._mem: tuple[float, float, float] | None = None
        self._mem_until = math.inf
        self._s = self._st = self._stt = self._sv = self._stv = 0.0
        # The fastest this probe could follow its surroundings: what marks a jump.
        self.tau = max(FASTEST_LAG_S, (lag_s or 0.0) / LAG_OVERSTATED)
        self._raw: tuple[float, float] | None = None  # the sample before, faulty or not
        # The last sample was faulty (an impossible jump, or the stretch after one); ``jump``
        # is that jump: (t, value) before it and after it.
        self.faulty = False
        self.jump: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def sigma_level(self) -> float:
        """Standard error of ``level``: a median of n noisy samples."""
        n = len(self._recent)
        if n >= 3:
            return 1.2533 * self.sigma / math.sqrt(n)
        return self.sigma / math.sqrt(max(n, 1))

    def feed(self, t: float, v: float, max_gap_s: float = math.inf) -> bool:
        """Take one sample; True when it was accepted and ``level`` moved.

        False and ``faulty`` set: the sample is no temperature at all (a jump no
        probe can make, or the stretch after one), and says nothing about the pot.

        ``max_gap_s`` is the probe's stale timeout: after a longer silence (an
        outage) the samples before it are not moved forward into the level. A
        climb extrapolated across the silence is a temperature nobody read, and
        it would ring the caramel's alarm on the first reading back.
        """
        before = self._raw
        self._raw = (t, v)
        level = self._model
        if level is None:
            self.faulty = False
            self._reseed([(t, v)], settled=False)
            return True
        dt = t - self.last_t
        if dt < 0.0:
            dt = 0.0
        drift = 0.0
        if dt > max_gap_s:
            # An outage: the climb before it predicts nothing after it (the pot may have
            # been taken off the heat, or kept climbing). The new sample is judged against
            # the last level, within as far as the old rate could have taken it either way,
            # and the rate is measured afresh: carried across, it held back a first reading
            # already past the target, and then moved the level on past what was read.
            drift = abs(self.rate) * dt
            self._recent.clear()
            self._s = self._st = self._stt = self._sv = self._stv = 0.0
            self.rate = 0.0
        residual = v - (level + self.rate * dt)
        tol = max(GATE_MIN_C, GATE_SIGMAS * self.sigma) + RATE_SLACK_C_PER_S * dt + drift
        in_gate = -tol <= residual <= tol
        # a step within the gate's floor is never a jump: the common case costs one comparison
        if (
            before is not None
            and (self.faulty or abs(v - before[1]) > GATE_MIN_C)
            and self._broken(before, t, v, in_gate)
        ):
            self.rejected += 1
            return False
        if in_gate:
            clipped = min(residual * residual, 9.0 * self.sigma * self.sigma)
            self.sigma = max(SIGMA_MIN_C, math.sqrt((1.0 - SIGMA_ALPHA) * self.sigma**2 + SIGMA_ALPHA * clipped))
            self._suspects.clear()
            self._accept(t, v)
            return True
        self.rejected += 1
        return self._suspect(t, v)

    # -- impossible jumps ---------------------------------------------------

    def _broken(self, before: tuple[float, float], t: float, v: float, in_gate: bool) -> bool:
        """Is this sample faulty: a jump from the one before, or still in the stretch after one?"""
        t0, v0 = before
        gap = t - t0
        if not self.settled:
            # a sample or two is no pot yet (a wild first pair would do): what leaps away from them
            # is a suspect, and four that agree are the pot, rather than faults for as long as the
            # wild pair stands, with the next wild value taken as the way back to it
            self.faulty = False
            return False
        if self.faulty:
            # back on the pot's track, jumped away again, or silent long enough to be anywhere
            if in_gate or gap > SETTLE_LAGS * self.tau or self._jumped(v0, v, gap):
                self.faulty = False
                return False
            return True
        if self._jumped(v0, v, gap):
            self.faulty = True
            self.jump = (before, (t, v))
            self._suspects.clear()  # what came before the jump and what comes after never agree
            return True
        return False

    def _jumped(self, v0: float, v: float, gap: float) -> bool:
        """Farther from ``v0`` than a probe of time constant ``tau`` can move in ``gap``?"""
        slack = max(GATE_MIN_C, GATE_SIGMAS * self.sigma)
        step = v - v0
        if -slack <= step <= slack or gap <= 0.0:
            return False  # near, or no time between them (one read of the port): nothing to judge
        reach = 1.0 - math.exp(-(gap + STAMP_JITTER_S) / self.tau)
        if step < 0.0:
            return -step > (v0 - ENV_MIN_C) * reach + slack
        return step > (ENV_MAX_C - v0) * reach + slack

    # -- accepted samples -------------------------------------------------

    def _accept(self, t: float, v: float) -> None:
        self.accepted += 1
        if not self.settled and len(self._recent) + 1 >= SUSPECTS_TO_RESEED:
            self.settled = True
        self._fit(t, v)
        recent = self._recent
        recent.append((t, v))
        rate = self.rate
        horizon = t - LEVEL_WINDOW_S
        moved = sorted(x + rate * (t - tx) for tx, x in recent if tx >= horizon)
        n = len(moved)
        mid = n // 2
        level = self._model = moved[mid] if n % 2 else 0.5 * (moved[mid - 1] + moved[mid])
        # The ceiling: the level runs ahead of the newest two readings by no more than their noise.
        # The rate lags a knee by seconds, and carried on it the median ran degrees past anything
        # read (a caramel alarm 3.5 °F short). The gate still judges by the model, so a knee it
        # misses re-seeds the track as before: the ceiling only ever lowers what is reported.
        top = max(v, recent[-2][1]) if n >= 3 and recent[-2][0] >= horizon else math.inf
        if level > top + KNEE_SIGMAS * SIGMA_MIN_C:
            level = min(level, top + KNEE_SIGMAS * max(SIGMA_MIN_C, self._scatter(horizon)))
        self.prev_level = self.level
        self.level = level
        self.level_n = n
        self.last_t = t

    def _scatter(self, horizon: float) -> float:
        """One reading's noise, from how far each recent one lies off the chord of its neighbours.

        Not ``sigma``: that is what the prediction missed by, and a rate that lags a
        knee (or a fast heat-up's start) inflates it to a degree or more. The chords
        see noise and the little curvature between three samples; their median, not
        the one chord that holds the knee itself.
        """
        pts = [p for p in self._recent if p[0] >= horizon]
        offs = sorted(
            abs(x1 - x0 - (x2 - x0) * (t1 - t0) / (t2 - t0))
            for (t0, x0), (t1, x1), (t2, x2) in zip(pts, pts[1:], pts[2:], strict=False)
            if t2 > t0
        )
        if not offs:
            return math.inf  # nothing to judge by: no ceiling
        # a median |deviation| is 0.674 σ; the chord of two noisy ends adds half their noise (×√1.5)
        return offs[len(offs) // 2] / (0.6745 * math.sqrt(1.5))

    def _fit(self, t: float, v: float) -> None:
        """Exponentially weighted regression of v on t, origin moved to ``t``."""
        s = self._s
        if s > 0.0:
            d = t - self.last_t
            decay = math.exp(-d / RATE_TAU_S) if d > 0.0 else 1.0
            s *= decay
            st = (self._st - d * self._s) * decay
            stt = (self._stt - 2.0 * d * self._st + d * d * self._s) * decay
            sv = self._sv * decay
            stv = (self._stv - d * self._sv) * decay
        else:
            st = stt = sv = stv = 0.0
        s += 1.0
        sv += v
        # the new point sits at the origin: it adds nothing to st, stt, stv
        den = stt - st * st / s
        if den > 1e-9:  # otherwise one point (or a long gap): keep the last rate
            self.rate = (stv - st * sv / s) / den
        self._s, self._st, self._stt, self._sv, self._stv = s, st, stt, sv, stv

    # -- suspects -----------------------------------------------------------

    def _suspect(self, t: float, v: float) -> bool:
        mem = self._mem
        if mem is not None and (t - mem[0] > MEMORY_KEEP_S or t > self._mem_until):
            self._mem = mem = None
        if mem is not None and self._model is not None and v > self._model + GATE_MIN_C:
            mt, mlevel, mrate = mem
            gap = t - mt
            tol = min(MEMORY_TOL_MAX_C, max(GATE_MIN_C, GATE_SIGMAS * self.sigma) + RATE_SLACK_C_PER_S * gap)
            if abs(v - (mlevel + mrate * gap)) <= tol:
                # agrees with where the pot was heading: the probe is back in it
                self._reseed([(t, v)], rate=mrate, settled=True)
                self._mem_until = min(self._mem_until, t + MEMORY_SETTLE_S)
                return True
        run = self._suspects
        if run:
            t0, v0 = run[0]
            tp, vp = run[-1]
            slope = (vp - v0) / (tp - t0) if tp > t0 else 0.0
            dt = t - tp
            tol = max(GATE_MIN_C, GATE_SIGMAS * self.sigma) + RATE_SLACK_C_PER_S * dt
            if abs(v - vp - slope * dt) > tol:
                run.clear()
        run.append((t, v))
        if len(run) >= SUSPECTS_TO_RESEED:
            old_level, old_t, old_rate, old_settled = self._model, self.last_t, self.rate, self.settled
            points = list(run)
            self._reseed(points, settled=True)
            # only a settled track was a pot: one seeded by a wild first sample is no memory to go back to
            level = self._model
            if old_level is not None and level is not None and level < old_level - MEMORY_DROP_C and old_settled:
                self._mem = (old_t, old_level, old_rate)
                self._mem_until = math.inf
            return True
        return False

    def _reseed(self, points: list[tuple[float, float]], *, settled: bool, rate: float = 0.0) -> None:
        """Start the track again from ``points``: the old level no longer holds."""
        self.reseeds += 1
        self.settled = settled
        self._suspects.clear()
        self._recent.clear()
        self._s = self._st = self._stt = self._sv = self._stv = 0.0
        self.rate = rate
        self.level = self._model = None
        self.level_n = 0
        t0, _ = points[0]
        self.last_t = t0
        # level is None here, so the first accepted point leaves prev_level None:
        # the level before a re-seed belongs to another pot and confirms nothing.
        for t, v in points:
            self._accept(t, v)
