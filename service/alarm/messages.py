"""The words an alarm channel carries: what happened, the temperature, the time, and what to do.

A push is read on a locked screen and a voice is heard across the kitchen,
with hands in a pot: each message says everything at once, in the unit the
cook chose (``[alarm] unit``). The page's own tables (``service/runtime/words.py``)
give the headline and the action, so a push never says something the page
does not. Spoken words spell their unit ("225 degrees"): espeak-ng reads
"°F" as "degree F" at best.

Pure: the part gathers the facts (``AlertFacts``) from the kitchen at the
moment of each send, so a repeat says the temperature of now, not of the
first send.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.alarm.channel import AlarmMessage
from service.core.events import AlertKind, AlertLevel
from service.core.units import c_to_f, format_duration
from service.runtime.words import ALERT_ACTIONS, ALERT_TITLES

PROBE_KINDS = frozenset({AlertKind.PROBE_LOST, AlertKind.PROBE_FAULT, AlertKind.PROBE_RESTORED})


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What the kitchen knows about an alert when it is worded."""

    alert_id: str
    kind: str
    level: AlertLevel
    step: str | None  # the step's name ("caramel"), None outside a cook
    probe: str  # the probe as the cook named it ("Caramel pot", "probe pot")
    message: str  # the tracker's own sentence, the fallback for a kind without a rule below
    celsius: float | None = None  # the pot now (the tracker's level), else the alert's reading
    target_c: float | None = None
    overshoot_c: float | None = None
    low_c: float | None = None
    high_c: float | None = None
    eta_s: float | None = None  # trusted ETA to the target, None when the tracker gives none
    since_s: float = 0.0  # how long ago the alert was raised


@dataclass(frozen=True, slots=True)
class Worded:
    title: str
    body: str
    spoken: str


class Units:
    """Temperatures as the cook reads them and as the voice says them."""

    def __init__(self, unit: str) -> None:
        self.f = unit.upper() != "C"
        self.sign = "°F" if self.f else "°C"

    def _value(self, c: float) -> float:
        return c_to_f(c) if self.f else c

    def target(self, c: float) -> str:
        """A target: whole °F ("225 °F"), tenths of °C ("107.2 °C")."""
        return f"{self._value(c):.0f} {self.sign}" if self.f else f"{c:.1f} {self.sign}"

    def reading(self, c: float) -> str:
        return f"{self._value(c):.1f} {self.sign}"

    def delta(self, dc: float) -> str:
        return f"{dc * 1.8:.0f} °F" if self.f else f"{dc:.1f} °C"

    def spoken(self, c: float) -> str:
        """ "225 degrees", "107.2 degrees": a voice has no degree sign."""
        value = self._value(c)
        text = f"{value:.0f}" if self.f else f"{value:.1f}".removesuffix(".0")
        return f"{text} degrees"


def _subject(facts: AlertFacts) -> str:
    if facts.kind in PROBE_KINDS or not facts.step:
        return facts.probe[:1].upper() + facts.probe[1:]
    return facts.step[:1].upper() + facts.step[1:]


def _spoken_seconds(seconds: float) -> str:
    """ "80 seconds", "3 minutes", "1 hour 5 minutes": rounded as a cook would say it."""
    whole = round(seconds)
    if whole < 120:
        return f"{whole} seconds"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    hour_words = "1 hour" if hours == 1 else f"{hours} hours"
    return f"{hour_words} {minutes} minutes" if minutes else hour_words


def word(facts: AlertFacts, unit: str = "F") -> Worded:
    """Title, body and spoken words for one alert (in ``unit``, "F" or "C")."""
    u = Units(unit)
    kind = facts.kind
    who = _subject(facts)
    lead = ALERT_TITLES.get(kind, kind).capitalize()
    action = ALERT_ACTIONS.get(kind, "")
    now = facts.celsius
    at = f" at {u.reading(now)}" if now is not None else ""
    said_at = f" at {u.spoken(now)}" if now is not None else ""
    ago = f", {format_duration(facts.since_s)} ago" if facts.since_s >= 1.0 else ""
    target, over = facts.target_c, facts.overshoot_c

    if kind == AlertKind.TARGET_REACHED and target is not None:
        title = f"{who} at {u.target(target)}"
        body = f"{lead}: {who.lower()}{at} (target {u.target(target)}){ago}. {action}"
        spoken = f"{who} at {u.spoken(target)}. {action}"
    elif kind == AlertKind.TARGET_OVERSHOOT and over is not None:
        past = f", {u.delta(now - target)} past the target" if now is not None and target is not None else ""
        title = f"{who} past {u.target(over)}"
        body = f"{lead}: {who.lower()}{at}{past}{ago}. {action}"
        spoken = f"{who} past {u.spoken(over)}. {action}"
    elif kind == AlertKind.TARGET_APPROACHING and target is not None:
        eta = facts.eta_s
        when = f" in about {format_duration(eta)}" if eta is not None else " soon"
        said_when = f" in about {_spoken_seconds(eta)}" if eta is not None else " soon"
        title = f"{who}: {u.target(target)}{when}"
        body = f"{lead}: {who.lower()}{at}, {u.target(target)}{when}. {action}"
        spoken = f"{who}{said_at}. {u.spoken(target)}{said_when}. {action}"
    elif kind in (AlertKind.HOLD_TOO_HOT, AlertKind.HOLD_TOO_COLD, AlertKind.HOLD_REACHED):
        window = ""
        if facts.low_c is not None and facts.high_c is not None:
            window = f" (window {u.target(facts.low_c)}–{u.target(facts.high_c)})"
        state = ALERT_TITLES[kind].lower()
        title = f"{who} {state}"
        body = f"{who}{at}{window}{ago}. {action}"
        spoken = f"{who} {state}{said_at}. {action}"
    elif kind in PROBE_KINDS:
        title = f"{who}: {ALERT_TITLES[kind].lower()}"
        body = f"{facts.message}{ago}. {action}"
        spoken = f"{ALERT_TITLES[kind].capitalize()}: {who.lower()}. {action}"
    else:  # hold_done, or a kind without its facts (a reach alert outside a cook)
        title = f"{who}: {ALERT_TITLES.get(kind, kind).lower()}"
        body = f"{facts.message}. {action}".strip()
        spoken = f"{who}: {ALERT_TITLES.get(kind, kind).lower()}. {action}".strip()
    return Worded(title, body.replace("..", "."), spoken)


def alarm_message(
    facts: AlertFacts,
    unit: str = "F",
    *,
    repeat: int = 0,
    escalated: bool = False,
    folded: int = 0,
    ack_url: str | None = None,
    ack_token: str | None = None,
) -> AlarmMessage:
    """The message one send carries: the words, plus what the dispatcher decided (repeat, escalation, folding)."""
    worded = word(facts, unit)
    body = worded.body
    if folded:
        body += f" ({folded} more like it held back, not to flood you)"
    title = worded.title
    if repeat and facts.level is AlertLevel.CRITICAL:
        title = f"{title} — still not acknowledged"
    return AlarmMessage(
        alert_id=facts.alert_id,
        kind=facts.kind,
        level=facts.level,
        title=title,
        body=body,
        spoken=worded.spoken,
        repeat=repeat,
        escalated=escalated,
        ack_url=ack_url,
        ack_token=ack_token,
    )


def self_test_message(alert_id: str, unit: str = "F") -> AlarmMessage:
    """The self-test: said as a test, so that nobody runs to the stove."""
    u = Units(unit)
    return AlarmMessage(
        alert_id=alert_id,
        kind="test",
        level=AlertLevel.CRITICAL,
        title="potwatch: a test of the alarm",
        body=f"A test of the alarm: nothing is wrong. The caramel alarm would say: caramel at {u.target(107.22)}.",
        spoken="This is a potwatch test. Nothing is wrong.",
        test=True,
    )
