"""The reach step (the caramel): heating → approaching → reached → overshoot.

Everything that decides when the caramel alarm rings lives in this file.

``target_reached`` needs two consecutive levels at the target, less a margin
``m``. The level is already a median (see filters.py), so one wild value
cannot make it; the second level makes a lone value after a gap or a dropout
unable to either, and costs at most one sample of delay. That sample is 30 s at
a slow Wi-Fi gateway (5 °F on the final climb), so one level is enough when the
time-to-target fitted before it had already put the crossing in the past: the
climb itself vouches for the value. ``m`` is three
standard errors of the level, so a pot that is truly at the target is not
held back by noise, capped so that the pot can never be more than 1 °F below
the target when it fires: m ≤ 1 °F − 3σ, and never more than 0.5 °F.

With the probe's time constant τ known (``lag``), the level that decides is the
*pot's*: a first-order probe obeys τ·dy/dt = x − y, so the pot is at
``x = y + τ·y'``. ``y'`` is the slope of a straight line through the last
``LAG_RATE_WINDOW_S`` of accepted samples, carried on to now where the newer
half of them shows it slowing (fully) or steepening (only beyond noise), and
capped by the syrup curve's own rate, or taken from it where the two agree
(``_pot_level``): a pot turned down is
never taken for one still climbing. σ of the pot's level is the probe's own
scatter about that line (pooled, not the track's prediction error, which a slow
gateway's change of pace inflates), plus τ times the slope's standard error,
which widens the margin: noise that the compensation amplifies makes the alarm
later, never earlier; the pot's level rings only ``PROOF_SIGMAS`` clear of the
false-alarm band.
Without a lag, the probe's own level decides, as it always did.

``target_approaching`` waits until the syrup is on its boil (the estimator's
knee): a pot heating up to a plateau 5 °F below the target is not "nearly
there", however fast it climbs. It fires once per approach, and goes back to
heating only if the pot truly falls (3 °F below its best since the warning, and
falling): an ETA that grows is not a retreat.

After the target the step watches the pot come off the heat: once its level
has fallen 1 °F below its best since the alarm, it is *cooling* (a probe lost
then blinds no alarm that could still be needed), and with ``end = "cooled"``
two levels 5 °F below the target, on the way down from it, end the step. The
5 °F between the alarm's line and that one is the hysteresis: noise at the
target, or a pot that pauses, cannot end a step that is still on the heat.
"""

from __future__ import annotations

import math
from enum import StrEnum

from service.core.estimate import MODEL_ERROR, EtaEstimator
from service.core.events import AlertKind, AlertLevel
from service.core.filters import Track
from service.core.lines import SlidingLines
from service.core.profile import ReachEnd, ReachStep
from service.core.steps.base import NO_SIGNALS, ClearAlert, RaiseAlert, Signal, StepView
from service.core.units import c_to_f, format_duration

FALSE_ALARM_BAND_C = 1.0 / 1.8
MARGIN_MIN_C = 0.1 / 1.8
MARGIN_MAX_C = 0.5 / 1.8
RETREAT_HYSTERESIS_C = 3.0 / 1.8
LAG_RATE_WINDOW_S = 20.0
LAG_RATE_MIN_SAMPLES = 4
# The pot's (compensated) level rings only when it is this many standard errors clear of the
# false-alarm band: a noisy slope times a long lag is a noisy level, tested on hundreds of samples.
PROOF_SIGMAS = 5.0
LEVEL_READINGS_TO_TRUST = 3  # a median of this many readings is one a lone wild reading cannot move
AGREE_SIGMAS = 2.0  # the line's slope and the syrup curve's agree within this many of its errors
ACCEL_SIGMAS = 3.0  # a steepening is carried on to now only beyond this many of its own errors
NOISE_ALPHA = 0.05  # the pooled noise forgets over ~20 lines
NOISE_FLOOR_C = 0.005  # a digital probe's finest steps, and a noise-free simulation's
SETTLE_LAGS = 4.0  # a probe put into the pot has settled onto it after this many time constants
RESEED_QUIET_S = 30.0
# A re-seeded track that starts within this of the level before it is the same pot changing pace
# (a heat-up stopping on its boil), not another pot: its boil is not looked for afresh. A probe
# moved, to the counter or another pot, jumps by tens of degrees.
PACE_CHANGE_C = 5.0 / 1.8
FORESEEN_SLACK_S = 1.0
COOLED_BELOW_C = 5.0 / 1.8  # two falling levels this far below the target: off the heat, the step is done
COOLING_DROP_C = 1.0 / 1.8  # this far below its best since the alarm: the pot is cooling


class ReachStage(StrEnum):
    HEATING = "heating"
    APPROACHING = "approaching"
    REACHED = "reached"
    OVERSHOOT = "overshoot"


def _slope(got: tuple[float, float, float, int] | None, noise_c: float) -> tuple[float, float] | None:
    """A line's slope (°C/s) and its standard error, or None with too few points."""
    if got is None or got[3] < LAG_RATE_MIN_SAMPLES:
        return None
    slope, sse, spread, n = got
    # a handful of residuals says little about the noise: never trust less than the track's own
    var = max(sse / (n - 2), noise_c * noise_c)
    return slope, math.sqrt(var / spread)


def fire_margin(sigma_level: float) -> float:
    three = 3.0 * sigma_level
    return max(0.0, min(max(three, MARGIN_MIN_C), MARGIN_MAX_C, FALSE_ALARM_BAND_C - three))


class ReachMachine:
    __slots__ = (
        "_base",
        "_eta",
        "_eta_at",
        "_last_level",
        "_noise_var",
        "_peak_after_target",
        "_peak_since_warning",
        "_pot",
        "_recent",
        "_track_reseeds",
        "_track_since",
        "cooling",
        "done",
        "estimator",
        "lag_s",
        "params",
        "stage",
    )

    def __init__(
        self, params: ReachStep, offset_c: float = 0.0, *, lag_s: float | None = None, calibrated: bool = False
    ) -> None:
        self._base = params
        self.params = params.shifted(offset_c)
        self.stage = ReachStage.HEATING
        self.done = False
        self.lag_s = lag_s or 0.0
        self.estimator = EtaEstimator(
            syrup=params.uses_syrup_model(0.0), offset_c=offset_c, calibrated=calibrated, lag_s=self.lag_s
        )
        self._eta: tuple[float, float] | None = None
        self._eta_at = 0.0
        self._pot: float | None = None
        self._peak_since_warning = -math.inf
        self._peak_after_target = -math.inf
        self.cooling = False
        self._recent = SlidingLines()
        self._noise_var: float | None = None
        self._track_reseeds = 0
        self._track_since = -math.inf
        self._last_level: float | None = None

    def carry_on_from(self, before: ReachMachine) -> None:
        """Go on from the reach step just before, on the same pot: its boil is already found.

        A cook may advance from one reach to the next on a syrup still on the heat
        (soft ball at 220 °F, then the caramel at 225). Started afresh, this step
        would look for a boil the syrup passed long ago: until its calm or
        accelerating rule found it, half a minute or more, the probe's bare reading
        decided, and a 25 s probe at 8 °F/min rang with the syrup 3.7 °F past the
        target. So the boil, its fit and the probe's recent slope carry on; the
        warning and the target are this step's own.

        Afresh, as before, when the model differs from the step before's (a target
        below the boil after one above it), or when that step saw the pot cooling
        off the heat: a reheated syrup's boil is to be found again, and a window
        holding the cooling would ring later than a fresh one. A step that ended in
        an overshoot stopped updating its slope there: that slope does not carry.
        """
        if before.estimator.syrup != self.estimator.syrup or before.cooling:
            return
        fresh = self.estimator
        self.estimator = before.estimator
        self.estimator.lag_s = fresh.lag_s
        self.estimator.set_calibration(fresh.offset_c, fresh.calibrated)
        self._track_reseeds = before._track_reseeds
        self._track_since = before._track_since
        self._last_level = before._last_level
        if before.stage is not ReachStage.OVERSHOOT:
            self._recent = before._recent
            self._noise_var = before._noise_var

    def past_the_knee(self, at: float) -> bool:
        """On its boil long enough that a rate carried on is the boil's climb, not the heat-up's.

        Before, a syrup still heats onto its boil, or its probe is still catching up
        with the knee: the heat-up's slope carried on puts the pot past a knee no
        line can see yet (tens of °F a minute stopping dead on the plateau). The
        pot's level (``_pot_level``) and a heater's anticipation (service/core/heat)
        both wait for this. A pot that is no syrup is always past it.
        """
        return self.estimator.boiling and at - self.estimator.boiling_since >= self._settle_s()

    def _settle_s(self) -> float:
        """How long a probe takes to settle onto its pot (put in, or past a knee): 4 τ, never under 20 s."""
        return max(SETTLE_LAGS * self.lag_s, LAG_RATE_WINDOW_S)

    def recalibrate(self, offset_c: float, calibrated: bool = True) -> None:
        self.params = self._base.shifted(offset_c)
        self.estimator.set_calibration(offset_c, calibrated)
        self._eta = None

    def on_sample(self, at: float, value: float, track: Track, max_gap_s: float) -> tuple[Signal, ...]:
        p = self.params
        if track.reseeds != self._track_reseeds:
            # the probe went into another pot (or came back): its boil is to be found again,
            # its slope measured afresh, and a warning is not withdrawn for the jump
            self._track_reseeds = track.reseeds
            self._track_since = at
            self._recent.clear()
            last, level = self._last_level, track.level
            if last is None or level is None or abs(level - last) > PACE_CHANGE_C:
                self.estimator.restart()
            # else the same pot changing pace: a heat-up of tens of °F a minute stopping dead on its
            # boil leaves the track's prediction behind, and its readings re-seed it where the pot
            # is; restarted, the estimator lost the heat-up it needs to see that knee, and found the
            # boil only tens of seconds later (by its calm or accelerating rule)
        self._last_level = track.level
        self.estimator.add(at, value)
        stage = self.stage
        if stage in (ReachStage.REACHED, ReachStage.OVERSHOOT):
            self._after_target(track)
            if stage is ReachStage.OVERSHOOT or self.done:
                self._eta = None
                return NO_SIGNALS
        # Did the fit made at the previous sample put the crossing before now (give or take a second)?
        previous = self._eta
        foreseen = previous is not None and at - self._eta_at >= previous[0] - FORESEEN_SLACK_S
        # a forecast, not an ETA that already said "now" (that would vouch for every later level)
        forecast = foreseen and previous is not None and previous[0] > 0.0
        self._eta = self._pot_eta(at) if stage is not ReachStage.REACHED else None
        self._eta_at = at
        level = track.level
        if level is None or not track.settled:
            return NO_SIGNALS
        # a re-seeded track's first level belongs to another pot: it confirms nothing
        prev = track.prev_level
        pot = self._pot_level(at, value, track, max_gap_s)
        pot_prev = self._pot if prev is not None else None
        self._pot = pot[0] if pot is not None else None
        alarm_level = self._pot if self._pot is not None else level

        probe_m = fire_margin(track.sigma_level)
        pot_m = fire_margin(pot[1]) if pot is not None else 0.0

        # A level of fewer than three readings (a slow gateway's) is a median of two: their mean, which
        # one wild reading moves half-way, and into two levels in a row. The newest reading must then be
        # at the line as well, read as the level is (the pot's: carried on by the same τ times the rate).
        thin = track.level_n < LEVEL_READINGS_TO_TRUST

        def at_least(threshold_c: float, *, allow_foreseen: bool) -> bool:
            """Two levels past the line: the probe's own, or the pot's where it is proven."""
            line = threshold_c - probe_m
            read_ok = not thin or value >= line
            if prev is not None and level >= line and (prev >= line or allow_foreseen) and read_ok:
                return True
            if pot is None or pot_prev is None:
                return False
            x, sigma = pot
            # the pot's level must be past the line *and* provably not 1 °F short, twice (or once,
            # on a slow gateway, when the climb had forecast the crossing for now)
            line = max(threshold_c - pot_m, threshold_c - FALSE_ALARM_BAND_C + PROOF_SIGMAS * sigma)
            read_ok = not thin or value + (x - level) >= threshold_c - pot_m
            return x >= line and (pot_prev >= line or (allow_foreseen and forecast)) and read_ok

        if prev is not None:
            if at_least(p.overshoot_at_c, allow_foreseen=False):
                return self._to_overshoot(alarm_level)
            # Two levels at the target; or one, when the climb so far said the pot
            # would be there by now (a slow gateway's or a dropout's first sample past it).
            if stage is not ReachStage.REACHED and at_least(p.target_c, allow_foreseen=foreseen):
                return self._to_reached(alarm_level)
        # The warning reads the probe's own level (and the pot's ETA): the pot's level is
        # noisier by τ times the slope's noise, and a warning must not flap with it.
        if stage is ReachStage.HEATING:
            if self._approaching(level, prev, value):
                self.stage = ReachStage.APPROACHING
                self._peak_since_warning = level
                return (RaiseAlert(AlertKind.TARGET_APPROACHING, AlertLevel.WARNING, self._warning(level)),)
        elif stage is ReachStage.APPROACHING:
            if at - self._track_since < RESEED_QUIET_S:
                self._peak_since_warning = level  # a new track: its own best is where it starts
            self._peak_since_warning = max(self._peak_since_warning, level)
            if self._retreated(at, level, track.rate):
                # pulled off the heat: the warning no longer holds
                self.stage = ReachStage.HEATING
                return (ClearAlert(AlertKind.TARGET_APPROACHING),)
        return NO_SIGNALS

    def _after_target(self, track: Track) -> None:
        """Past the alarm: is the pot off the heat yet (cooling), and is the step over?"""
        level, prev = track.level, track.prev_level
        if level is None or not track.settled:
            return
        self._peak_after_target = max(self._peak_after_target, level)
        # the level is a median: 1 °F down from its best is no noise, and a pot still on
        # the heat past its target only climbs, so this needs no rate (which lags a turn)
        self.cooling = level <= self._peak_after_target - COOLING_DROP_C
        if self.params.end is not ReachEnd.COOLED or prev is None:
            return
        line = self.params.target_c - COOLED_BELOW_C
        if level <= line and prev <= line:
            self.done = True

    def acknowledged(self) -> None:
        """The cook acknowledged this step's alarm: with ``end = "ack"`` that ends the step."""
        if self.params.end is ReachEnd.ACK and self.stage in (ReachStage.REACHED, ReachStage.OVERSHOOT):
            self.done = True

    def _pot_eta(self, at: float) -> tuple[float, float] | None:
        """When the pot (not the lagging probe) gets to the target: the probe follows τ later."""
        eta = self.estimator.eta(self.params.target_c, at)
        if eta is None or not self.lag_s:
            return eta
        return max(eta[0] - self.lag_s, 0.0), eta[1]

    def _pot_level(self, at: float, value: float, track: Track, max_gap_s: float) -> tuple[float, float] | None:
        """The pot's level and its standard error, with a known lag; None without one.

        The probe's slope starts from a line through the last 20 s (or the last
        four samples of a slow gateway), whose slope is the probe's of half a
        window ago, and one through the newer half of them. Where the newer is
        the lower (the heat turned down: the probe keeps rising a while and the
        longer line lags that stop), the slope is carried on to now, and the gap
        counts as uncertainty, so a stall cannot be taken for a pot still
        climbing. Where it is the higher (a syrup's climb steepens as it
        thickens), only what noise cannot explain is carried on. The syrup
        curve's own rate then caps it, or replaces it where the two agree.
        Its σ is the probe's own scatter about its line (``_noise``), τ times
        the slope's error, and τ times the slowdown.
        """
        lag = self.lag_s
        level = track.level
        if not lag or level is None:
            return None
        recent = self._recent
        if len(recent) and at - recent.newest() > max_gap_s:
            recent.clear()  # after an outage the old slope says nothing about now
        recent.append(at, value)
        # 20 s of samples, but never fewer than a line needs (a slow gateway's last few)
        while len(recent) > LAG_RATE_MIN_SAMPLES and at - recent.oldest() > LAG_RATE_WINDOW_S:
            recent.popleft()
        # a probe just put in the pot is still settling onto it, and a line through that
        # curve would overstate the pot's climb: its own level decides until it has settled
        if at - self._track_since < self._settle_s():
            return None
        got = recent.whole()
        noise = self._noise(got, track.sigma)
        if not self.past_the_knee(at):
            return None  # like a probe just put in, the knee settles first
        whole = _slope(got, noise)
        if whole is None:
            return None  # not yet known: the probe's own level decides, later but never early
        rate, rate_sigma = whole
        line_sigma = rate_sigma
        half = _slope(recent.newer(), noise)
        turning = max(rate - half[0], 0.0) if half is not None else 0.0  # how far the slope fell: uncertainty
        slowing = turning > 0.0
        if half is not None and slowing:
            # slowing down (the heat turned down): the slope now is lower still than the newer
            # half's, whose middle is a quarter of the window back; noise makes this later, not earlier
            rate = max(2.0 * half[0] - rate, 0.0)
        elif half is not None:
            # speeding up (a syrup's climb steepens as it thickens): the slope now is higher than the
            # line's, whose middle is half a window back, by twice the halves' difference; only the
            # part of that difference that noise cannot explain is carried on, so noise rarely adds
            gain = 2.0 * (half[0] - rate)
            doubt = 2.0 * math.sqrt(max(half[1] ** 2 - rate_sigma**2, 0.0))
            rate += max(gain - ACCEL_SIGMAS * doubt, 0.0)
        model = self.estimator.rate_at(level) if self._eta is not None else None
        if model is not None and (model < rate or (not slowing and model - rate <= AGREE_SIGMAS * line_sigma)):
            # the syrup curve's rate where it is the lower (it never overstates a climb the line
            # saw), and where the line cannot tell it from its own (the curve knows the steepening;
            # a pot that stopped is soon many σ off it)
            rate = model
        elif model is not None:
            # The climb has fallen off the syrup's curve by more than the line's noise and the curve's
            # own error: the heat was turned down, and a line that still holds some of the climb
            # before it overstates the pot; how far it fell counts as uncertainty, like a slowdown.
            fallen = model - rate - AGREE_SIGMAS * line_sigma - MODEL_ERROR * model
            turning = max(turning, fallen)
        sigma = track.sigma_level * noise / track.sigma if track.sigma > 0.0 else track.sigma_level
        return level + lag * rate, math.sqrt(sigma * sigma + (lag * rate_sigma) ** 2 + (lag * turning) ** 2)

    def _noise(self, got: tuple[float, float, float, int] | None, track_sigma: float) -> float:
        """The probe's own noise: the scatter about the recent line, pooled over many windows.

        The track's sigma is what its prediction missed by, and on a slow gateway
        (10-30 s between readings) that is mostly the climb's change of pace, not
        noise; taken for noise it made the pot's level look five times less
        certain than it was. Never more than the track's, never less than its floor.
        """
        if got is not None and got[3] > 2:
            var = got[1] / (got[3] - 2)
            pooled = self._noise_var
            self._noise_var = var if pooled is None else pooled + NOISE_ALPHA * (var - pooled)
        if self._noise_var is None:
            return track_sigma
        return min(track_sigma, max(math.sqrt(self._noise_var), NOISE_FLOOR_C))

    def _warning(self, level: float) -> str:
        p = self.params
        eta = self._eta
        if eta is not None and eta[0] < 1.0:
            when = "any moment now"
        elif eta is not None:
            when = f"in about {format_duration(eta[0])}"
        else:
            when = f"{c_to_f(p.target_c) - c_to_f(level):.0f} °F to go"
        return f"{p.name}: {c_to_f(level):.1f} °F, {c_to_f(p.target_c):.0f} °F {when}"

    def _approaching(self, level: float, prev: float | None, reading: float) -> bool:
        p = self.params
        if not self.estimator.boiling:
            return False  # still heating onto the plateau: not "nearly there", however fast
        near = p.target_c - p.approach_margin_c
        if level >= near and prev is not None and prev >= near:
            return True
        eta = self._eta
        # Within the floor by what was read, not only by the level: a heat-up stopping on its boil
        # leaves the track's rate behind for seconds, and the median carried on by it runs past the
        # plateau (by up to three of the readings' scatter, which a coarse probe's steps inflate).
        floor = p.target_c - p.approach_floor_c
        return eta is not None and eta[0] <= p.approach_lead_s and min(level, reading) >= floor

    def _retreated(self, at: float, level: float, rate: float) -> bool:
        """A pot off the heat cools along its track; a probe lifted out jumps to a new one
        (the counter's temperature) and says nothing about the pot: the warning stands
        until the new track has shown for a while that it is falling."""
        p = self.params
        if at - self._track_since < RESEED_QUIET_S:
            return False
        if level >= p.target_c - p.approach_margin_c - RETREAT_HYSTERESIS_C:
            return False
        return level < self._peak_since_warning - RETREAT_HYSTERESIS_C and rate < 0.0

    def _to_reached(self, level: float) -> tuple[Signal, ...]:
        self.stage = ReachStage.REACHED
        self._eta = None
        p = self.params
        return (
            ClearAlert(AlertKind.TARGET_APPROACHING),
            RaiseAlert(
                AlertKind.TARGET_REACHED,
                AlertLevel.CRITICAL,
                f"{p.name}: {c_to_f(p.target_c):.0f} °F reached ({c_to_f(level):.1f} °F) — take it off the heat",
            ),
        )

    def _to_overshoot(self, level: float) -> tuple[Signal, ...]:
        signals: tuple[Signal, ...] = ()
        if self.stage is not ReachStage.REACHED:
            signals = self._to_reached(level)
        self.stage = ReachStage.OVERSHOOT
        p = self.params
        return (
            *signals,
            RaiseAlert(
                AlertKind.TARGET_OVERSHOOT,
                AlertLevel.CRITICAL,
                f"{p.name}: past {c_to_f(p.overshoot_at_c):.0f} °F ({c_to_f(level):.1f} °F) — take it off the heat now",
            ),
        )

    def on_tick(self, at: float) -> tuple[Signal, ...]:
        return NO_SIGNALS

    def next_deadline(self) -> float | None:
        return None

    def view(self, at: float, track: Track | None) -> StepView:
        p = self.params
        level = track.level if track is not None else None
        eta_s = eta_sigma_s = None
        eta = self._eta
        if eta is not None and track is not None:
            # the fit was made at the last sample; time has passed since
            eta_s = round(max(eta[0] - (at - track.last_t), 0.0), 1)
            eta_sigma_s = round(eta[1], 1)
        syrup = self.estimator.syrup
        sugar_stage = next_sugar_stage = next_eta = None
        stages = p.sugar_stages
        if stages and level is not None:
            current = None
            upcoming = None
            for stage in stages:
                if stage.from_c <= level:
                    current = stage
                elif upcoming is None:
                    upcoming = stage
            sugar_stage = current.name if current else None
            next_sugar_stage = upcoming.name if upcoming else None
            nxt = self.estimator.eta(upcoming.from_c, at) if upcoming else None
            next_eta = round(nxt[0], 1) if nxt else None
        return StepView(
            target_c=p.target_c,
            overshoot_c=p.overshoot_at_c,
            eta_s=eta_s,
            eta_sigma_s=eta_sigma_s,
            lag_s=self.lag_s or None,
            pot_c=self._pot if self.lag_s else None,
            on_boil=self.estimator.boiling if syrup else None,
            eta_water_boils_c=round(self.estimator.water_boils_c, 2) if syrup and self.estimator.boiling else None,
            sugar_stage=sugar_stage,
            next_sugar_stage=next_sugar_stage,
            next_sugar_stage_eta_s=next_eta,
            step_end=p.end.value,
            cooling=self.cooling,
        )
