"""The heat controller: ``step(state, event, params) -> (state, outputs)``, one decision per event.

Everything that moves the heater lives in this function, in this order: take
the event in, ask the safety gate what holds, let the step's law (or the
cook's override) propose, hold the proposal to the relay's minimum on and off
times, and pass it through :func:`service.core.heat.safety.guard`, which a
safety condition always wins, at once. Then the duty cycle, the dead-man period
for the plug's own timer, and the check that the plug does what it was told.

A step with ``heat = "off"`` is commanded *off*, not left alone: with a dead-man
timer armed, "no command" would mean "off in a minute" anyway, and a plug left
on by the step before, with nobody watching it, is what this module exists to
prevent. The cook who wants the heat on in such a step forces it on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from service.core.heat import laws, safety
from service.core.heat.events import (
    FORCED_OFF,
    WORDS,
    ActuatorReport,
    Decision,
    HeatEvent,
    HeatOutput,
    HeatStep,
    MismatchCleared,
    Override,
    OverrideMode,
    ProbeHealthChanged,
    ProbeLevel,
    Reason,
    Reported,
    StateMismatch,
    StepChanged,
    StepKind,
)
from service.core.heat.params import HeatParams
from service.core.units import c_to_f

# The dead-man timer is never armed for less than this: a plug's timer has a resolution of about a second.
MIN_DEADMAN_S = 1.0


@dataclass(frozen=True, slots=True)
class HeatState:
    at: float | None = None
    facts: safety.Facts = field(default_factory=safety.Facts)
    mode: OverrideMode = OverrideMode.AUTO
    # forced off at the start because the history was damaged and could not say what the cook last
    # said (``restarted_mode``); the cook's next override, whatever it is, ends it
    in_doubt: bool = False
    on: bool = False
    switched_at: float | None = None  # the last time the command changed
    on_since: float | None = None
    law: laws.LawState = field(default_factory=laws.LawState)
    latched: Reason | None = None
    reported: Reported = Reported.UNKNOWN
    mismatch_since: float | None = None
    mismatch_alerted: bool = False
    heard_since_switch: bool = True  # a report came after the last change of command: it can confirm it
    agree_since: float | None = None  # an alerted mismatch: since when the plug has agreed again
    switches: tuple[tuple[float, bool], ...] = ()  # (at, on) from the duty window's start on
    dropped: int = 0  # events refused: time going backwards, a level that is no number


def restarted_mode(recorded: OverrideMode | None, *, trusted: bool = True) -> OverrideMode:
    """The mode a controller starts in after a restart, given the cook's last recorded override.

    A forced off is kept: the cook said off, and a restart (systemd, a power cut, a
    kill) is no word of theirs; only "auto" or "on" ends it, as before the restart.
    A forced on is not: heat that comes back by itself, nobody having looked since
    the power went, is what the safety gate exists to prevent. It falls back to
    "auto", where the step's law and every safety condition decide, as a fresh start
    always did. Nothing recorded (a first start, a history from before overrides
    were kept, a new heater id) is "auto" too.

    ``trusted`` false: the history was damaged at this start (rows or log frames
    lost, a file that could not be read at all), so the newest override it still
    holds may not be the cook's last word: a forced off may have been on the lost
    page. Off, then, whatever it holds: a cook who forced the heat off and then had
    a power cut that damaged the file must not find the heat back on by itself.
    The controller says why (``HeatState.in_doubt``) until the cook hands control
    back.
    """
    if not trusted or recorded is OverrideMode.FORCE_OFF:
        return OverrideMode.FORCE_OFF
    return OverrideMode.AUTO


def _take(state: HeatState, event: HeatEvent, params: HeatParams) -> HeatState:
    """The event folded into what the controller knows."""
    facts = state.facts
    if isinstance(event, ProbeLevel):
        kept = tuple(p for p in facts.recent if event.at - p[0] <= params.rate_span_s)
        recent = (*kept, (event.at, event.level_c))
        rate = event.rate_c_per_s
        t0, v0 = recent[0]
        if event.at - t0 >= 0.5 * params.rate_span_s:
            # the tracker's rate is smoothed over ~20 s: it lags a turn (the pot starting to boil) by as
            # much, and the anticipation would carry the lag; a short difference follows the turn
            rate = (event.level_c - v0) / (event.at - t0)
        facts = replace(
            facts, level_c=event.level_c, level_at=event.at, rate=rate, recent=recent, anticipate=event.anticipate
        )
        return replace(state, facts=facts)
    if isinstance(event, ProbeHealthChanged):
        return replace(state, facts=replace(facts, health=event.health))
    if isinstance(event, StepChanged):
        old, new = facts.step, event.step
        law = state.law if old is not None and new is not None and old.key == new.key else laws.LawState()
        latched = None if old is None and new is not None else state.latched  # a new cook starts clean
        return replace(state, facts=replace(facts, step=new), law=law, latched=latched)
    if isinstance(event, ActuatorReport):
        facts = replace(facts, link_up=event.link_up, online=event.online)
        return replace(state, facts=facts, reported=event.reported, heard_since_switch=True)
    if isinstance(event, Override):
        # handing control back (or forcing on, which also takes the token) is the cook's word
        # that they have looked: it clears a latch; the conditions themselves still hold the heat off
        latched = state.latched if event.mode is OverrideMode.FORCE_OFF else None
        return replace(state, mode=event.mode, latched=latched, in_doubt=False)
    return state


def _refused(state: HeatState, event: HeatEvent) -> bool:
    if not math.isfinite(event.at) or (state.at is not None and event.at < state.at):
        return True
    if isinstance(event, ProbeLevel):
        return not (math.isfinite(event.level_c) and math.isfinite(event.rate_c_per_s))
    return False


def _propose(state: HeatState, at: float, params: HeatParams) -> tuple[bool, Reason, laws.LawState]:
    """What the cook's hand or the step's law asks for, before the relay's care and the gate."""
    facts, law = state.facts, state.law
    if state.mode is OverrideMode.FORCE_OFF:
        return False, Reason.HISTORY_DAMAGED if state.in_doubt else Reason.OVERRIDE_OFF, law
    step = facts.step
    if step is None or facts.level_c is None:
        return False, Reason.NO_COOK if step is None else Reason.NO_READING, law  # the gate holds it off too
    if state.mode is OverrideMode.FORCE_ON:
        return True, Reason.OVERRIDE_ON, law
    if step.heat_off:
        return False, Reason.STEP_HEAT_OFF, law
    return laws.want(step, law, facts, state.on, at, params)


def _relay_care(state: HeatState, on: bool, reason: Reason, at: float, params: HeatParams) -> tuple[bool, Reason]:
    """The minimum on and off times; a forced off goes through at once."""
    if on == state.on or state.switched_at is None or reason in FORCED_OFF:
        return on, reason
    since = at - state.switched_at
    if state.on and since < params.min_on_s:
        return True, Reason.MIN_ON_TIME
    if not state.on and since < params.min_off_s:
        return False, Reason.MIN_OFF_TIME
    return on, reason


def step(state: HeatState, event: HeatEvent, params: HeatParams) -> tuple[HeatState, tuple[HeatOutput, ...]]:
    if _refused(state, event):
        return replace(state, dropped=state.dropped + 1), ()
    at = event.at
    first = state.at is None
    state = replace(_take(state, event, params), at=at)
    if first:
        state = replace(state, switches=((at, False),))
    held = safety.condition(state.facts, state.on_since if state.on else None, at, params)
    if held in safety.LATCHING:
        state = replace(state, latched=held)
    blocking = held if held is not None else state.latched
    if blocking is None:
        proposed, reason, law = _propose(state, at, params)
        state = replace(state, law=law)
    else:
        proposed, reason = False, blocking
    proposed, reason = _relay_care(state, proposed, reason, at, params)
    on, reason = safety.guard(proposed, reason, blocking)
    changed = on != state.on
    if changed:
        state = replace(
            state,
            on=on,
            switched_at=at,
            heard_since_switch=False,
            on_since=at if on else None,
            switches=(*state.switches, (at, on)),
        )
    state = replace(state, switches=_pruned(state.switches, at - params.duty_window_s))
    deadman = None
    if on:
        assert state.on_since is not None
        deadman = max(min(params.deadman_s, params.max_on_s - (at - state.on_since)), MIN_DEADMAN_S)
    latched = held is None and blocking is not None
    decision = Decision(
        at=at,
        on=on,
        reason=reason,
        words=_words(reason, state.facts.step, params, latched),
        duty=round(duty(state.switches, at, params.duty_window_s), 4),
        deadman_s=deadman,
        changed=changed,
        latched=latched,
    )
    state, alerts = _mismatch(state, at, changed, params)
    return state, (decision, *alerts)


def _mismatch(
    state: HeatState, at: float, changed: bool, params: HeatParams
) -> tuple[HeatState, tuple[HeatOutput, ...]]:
    """The plug never is assumed to have obeyed: a report that disagrees past the grace is critical.

    With the link or the device down there is no report to judge (that is its own
    safety condition), so the clock stops without clearing an alert already raised.
    """
    facts = state.facts
    if not (facts.link_up and facts.online):
        return replace(state, mismatch_since=None, agree_since=None), ()
    expected = Reported.ON if state.on else Reported.OFF
    if state.reported is expected and not state.heard_since_switch:
        # what the plug said before the command changed: no proof it obeyed (a relay stuck on "agrees"
        # with every ON), nor that it did not; the mismatch's clock waits for its answer
        return replace(state, mismatch_since=None), ()
    if state.reported is expected:
        if not state.mismatch_alerted:
            return replace(state, mismatch_since=None), ()
        # cleared only once it has agreed for the grace, as it was raised: a lying plug's answer to an
        # older question, landing just after a new command, must not end the alert and start another
        agreed = state.agree_since if state.agree_since is not None else at
        if at - agreed < params.mismatch_grace_s:
            return replace(state, mismatch_since=None, agree_since=agreed), ()
        return replace(state, mismatch_since=None, mismatch_alerted=False, agree_since=None), (MismatchCleared(at),)
    since = at if state.mismatch_since is None or changed else state.mismatch_since
    state = replace(state, mismatch_since=since, agree_since=None)
    if at - since >= params.mismatch_grace_s and not state.mismatch_alerted:
        alert = StateMismatch(at, commanded_on=state.on, reported=state.reported, for_s=at - since)
        return replace(state, mismatch_alerted=True), (alert,)
    return state, ()


def _pruned(switches: tuple[tuple[float, bool], ...], start: float) -> tuple[tuple[float, bool], ...]:
    """Keep the switches inside the window, and the last one before it (it says how the window began)."""
    keep = 0
    for i, (t, _) in enumerate(switches):
        if t <= start:
            keep = i
    return switches[keep:]


def duty(switches: tuple[tuple[float, bool], ...], at: float, window_s: float) -> float:
    """The commanded on-fraction over the last ``window_s`` (or since the first event, if shorter)."""
    if not switches:
        return 0.0
    start = max(at - window_s, switches[0][0])
    if at <= start:
        return 1.0 if switches[-1][1] else 0.0
    on_s = 0.0
    for (t, on), nxt in zip(switches, (*switches[1:], (at, False)), strict=True):
        if on:
            on_s += max(min(nxt[0], at) - max(t, start), 0.0)
    return on_s / (at - start)


def _words(reason: Reason, step: HeatStep | None, params: HeatParams, latched: bool) -> str:
    words = WORDS[reason]
    if step is not None:
        if reason is Reason.HOLDING and step.low_c is not None and step.high_c is not None:
            words = f"holding {c_to_f(step.low_c):.0f}–{c_to_f(step.high_c):.0f} °F"
        elif reason in (Reason.HEATING_TO_TARGET, Reason.TARGET_REACHED) and step.target_c is not None:
            words = f"{words} ({c_to_f(step.target_c):.0f} °F)"
        elif reason is Reason.MAX_TEMPERATURE:
            words = f"{words} ({c_to_f(safety.hard_max_c(step, params)):.0f} °F)"
    if reason is Reason.MAX_ON_TIME:
        words = f"{words} ({params.max_on_s / 60.0:.0f} min)"
    if latched:
        words += ": hand control back to resume"
    return words


def next_deadline(state: HeatState, params: HeatParams) -> float | None:
    """When a tick could change the decision with no other event: the hub ticks then (or every second)."""
    if state.at is None:
        return None
    now = state.at
    times: list[float] = []
    if state.switched_at is not None:
        times.append(state.switched_at + (params.min_on_s if state.on else params.min_off_s))
    if state.on and state.on_since is not None:
        times.append(state.on_since + params.max_on_s)
    if state.facts.level_at is not None:
        times.append(state.facts.level_at + params.stale_after_s)
    if state.mismatch_since is not None and not state.mismatch_alerted:
        times.append(state.mismatch_since + params.mismatch_grace_s)
    if state.agree_since is not None:
        times.append(state.agree_since + params.mismatch_grace_s)
    law = state.law
    step_ = state.facts.step
    if law.cycle_start is not None and step_ is not None and step_.kind is StepKind.HOLD:
        times += [law.cycle_start + law.cycle_on_s, law.cycle_start + params.cycle_s]
    later = [t for t in times if t > now]
    return min(later) if later else None
