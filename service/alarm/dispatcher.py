"""When each alarm channel speaks: routing, repeats until acknowledged, escalation, de-duplication.

Pure, like the tracker: it is told what happened (an alert raised, acked or
cleared, a cook ended) and what time it is, and answers what to send to
which channel kind and what to silence. No clock, no I/O, so every rule is
a table test with a hand clock (tests/alarm/test_dispatcher.py).

The rules (docs/alarm.md):

- **Routes.** An alert reaches the kinds its level's route names, among the
  kinds configured. Only push, buzzer and voice are sent from here; the page
  and MQTT carry every alert through the hub whatever a route says.
- **Repeats.** A critical alert repeats until acknowledged: push every
  ``push_every``, voice every ``voice_every``; the buzzer is started once (its
  pattern runs until silenced) and once more, escalated, on escalation.
  Warnings and info are sent once.
- **Escalation.** Nobody answered a critical alert within ``escalate_after``:
  the ``escalate_to`` kinds join if they were not routed, and every later
  message carries ``escalated`` (push priority rises).
- **Silence.** An acknowledgement (one id, or ``all``) ends the alert's sends
  and silences every channel at once; a cook that ends does the same for its
  alerts.
- **Flood control**, per *thread*: alerts of one kind on one probe in one step
  (``_key``). A thread sends at most one first message per ``same_kind_every``;
  one held back in the window is sent when the window ends if it is still
  active, and the count of those held back is folded into the next message.
  A critical alert raised while another of its thread is still unanswered is
  merged into that one (its count folded into the next repeat): a probe that
  flaps near the target rings one alarm, not fifty. A warning the tracker
  withdrew and raised again within ``rewarn_after`` of the last send is not
  sent again (target_approaching after approaching → heating → approaching);
  a probe lost again is news, and only the window holds it back.

Invariants (a hypothesis property checks them): nothing is sent for an alert
after its acknowledgement; two sends of one alert to one kind are never
closer than that kind's interval (push ``push_every``, voice ``voice_every``,
buzzer ``escalate_after``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from service.core.events import AlertLevel

KEEP_DONE = 500
PROBE_KINDS = frozenset({"probe_lost", "probe_fault", "probe_restored"})
"""A probe's trouble is flood-controlled by the window alone: lost again is news, with its count."""
DISPATCHED = ("push", "buzzer", "voice")
"""The kinds sent from here; "page" and "mqtt" in a route are carried by the hub."""


@dataclass(frozen=True, slots=True)
class Rules:
    routes: Mapping[str, frozenset[str]]  # level value → channel kinds
    push_every: float = 15.0
    voice_every: float = 30.0
    escalate_after: float = 60.0
    escalate_to: frozenset[str] = frozenset({"buzzer", "voice"})
    same_kind_every: float = 60.0  # one first message per thread per window
    rewarn_after: float = 600.0  # a withdrawn warning raised again within this of its send stays quiet

    def interval(self, kind: str) -> float:
        """The least time between two sends of one alert to ``kind``."""
        if kind == "push":
            return self.push_every
        if kind == "voice":
            return self.voice_every
        return self.escalate_after  # the buzzer: once, and once more on escalation


@dataclass(frozen=True, slots=True)
class AlertInfo:
    """What the dispatcher needs to know of an alert (the tracker's ``Alert``, without its words)."""

    id: str
    kind: str
    level: AlertLevel
    probe: str
    cook_id: str | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Send:
    alert_id: str
    channel: str  # a channel kind: "push", "buzzer", "voice"
    repeat: int  # 0: this kind's first message for the alert
    escalated: bool
    folded: int = 0  # alerts of the same thread held back or merged since the last message


@dataclass(frozen=True, slots=True)
class Silence:
    """Cancel what is still on its way for these alerts; with ``quiet``, stop every channel now.

    ``quiet`` is False while another critical alert is still unanswered: the
    buzzer's pattern and the voice's turn are that alarm's as much as this
    one's, and the buzzer is started once, so quieting it would leave the other
    alarm without it until an escalation.
    """

    alert_ids: tuple[str, ...]
    quiet: bool = True


Action = Send | Silence


@dataclass(slots=True)
class _Track:
    info: AlertInfo
    raised_at: float
    routed: set[str]
    state: str = "live"  # live | held | merged | done
    escalated: bool = False
    buzzer_escalated: bool = False
    last: dict[str, float] = field(default_factory=dict)
    sends: dict[str, int] = field(default_factory=dict)
    folded: int = 0  # merged followers not yet told
    followers: list[str] = field(default_factory=list)
    due: float = 0.0  # held: when the window lets it go

    @property
    def critical(self) -> bool:
        return self.info.level is AlertLevel.CRITICAL


@dataclass(slots=True)
class _Thread:
    last_sent: float | None = None
    held: int = 0  # alerts of this thread not sent since the last message
    leader: str | None = None  # the unanswered critical alert the others merge into
    candidate: str | None = None  # the held alert that goes when the window ends
    withdrawn: bool = False  # the tracker withdrew one of its warnings


Key = tuple[str, str, str, str]


def _key(info: AlertInfo) -> Key:
    return (info.cook_id or "", info.step or "", info.probe, info.kind)


@dataclass(slots=True)
class DispatchStats:
    held: int = 0  # held back by the window (sent later, or folded)
    merged: int = 0  # critical alerts merged into an unanswered one of their thread
    repeated_warning: int = 0  # a withdrawn warning raised again, not sent twice


class Dispatcher:
    def __init__(self, rules: Rules, kinds: Iterable[str]) -> None:
        self.rules = rules
        self.kinds = frozenset(kinds) & frozenset(DISPATCHED)
        self.stats = DispatchStats()
        self._tracks: dict[str, _Track] = {}
        self._threads: dict[Key, _Thread] = {}

    # ---- what happened -----------------------------------------------------------------

    def raised(self, info: AlertInfo, at: float) -> list[Action]:
        if info.id in self._tracks:
            return []  # told twice (a restart re-announces what was active)
        routed = set(self.rules.routes.get(info.level.value, frozenset())) & self.kinds
        critical = info.level is AlertLevel.CRITICAL
        if not routed and not critical:
            return []  # nothing of ours to say (an info alert: the page alone)
        track = _Track(info, at, routed)
        self._tracks[info.id] = track
        thread = self._threads.setdefault(_key(info), _Thread())
        if critical:
            leader = self._tracks.get(thread.leader or "")
            if leader is not None and leader.state == "live":
                track.state = "merged"
                leader.followers.append(info.id)
                leader.folded += 1
                self.stats.merged += 1
                return []
            thread.leader = info.id
            return self._first(track, thread, at)
        if thread.withdrawn and thread.last_sent is not None and at - thread.last_sent < self.rules.rewarn_after:
            track.state = "done"
            self.stats.repeated_warning += 1
            return []
        if thread.last_sent is not None and at - thread.last_sent < self.rules.same_kind_every:
            earlier = self._tracks.get(thread.candidate or "")
            if earlier is not None and earlier.state == "held":
                earlier.state = "done"  # superseded: only the newest of the window goes
            thread.held += 1
            thread.candidate = info.id
            track.state = "held"
            track.due = thread.last_sent + self.rules.same_kind_every
            self.stats.held += 1
            return []
        return self._first(track, thread, at)

    def acked(self, alert_id: str, at: float) -> list[Action]:
        """One alert (and those merged into it), or every one with ``"all"``: silence everything."""
        if alert_id == "all":
            ids = [i for i, t in self._tracks.items() if t.state != "done"]
        else:
            track = self._tracks.get(alert_id)
            ids = [alert_id, *(track.followers if track is not None else [])]
        for i in ids:
            self._end(i)
        self._forget()
        return [Silence(tuple(ids), quiet=not self._ringing())]

    def cleared(self, alert_id: str, at: float) -> list[Action]:
        """A warning's condition is over: it is not sent again; a critical alert still waits for its ack."""
        track = self._tracks.get(alert_id)
        if track is None or track.critical:
            return []
        thread = self._threads.get(_key(track.info))
        if thread is not None and track.state != "held" and track.info.kind not in PROBE_KINDS:
            thread.withdrawn = True
        self._end(alert_id)
        self._forget()
        return []

    def cook_ended(self, cook_id: str, at: float) -> list[Action]:
        """The cook is over: its alerts stop repeating, and whatever rings for them stops."""
        ids = [i for i, t in self._tracks.items() if t.info.cook_id == cook_id and t.state != "done"]
        ringing = any(self._tracks[i].critical and self._tracks[i].state == "live" for i in ids)
        for i in ids:
            self._end(i)
        self._forget()
        return [Silence(tuple(ids), quiet=not self._ringing())] if ringing else []

    def tick(self, at: float) -> list[Action]:
        """Time passes: repeats, escalations and held messages whose window ended."""
        out: list[Action] = []
        for track in list(self._tracks.values()):
            if track.state == "held" and at >= track.due:
                thread = self._threads[_key(track.info)]
                out += self._first(track, thread, at)
            elif track.state == "live" and track.critical:
                out += self._repeat(track, at)
        return out

    # ---- what to send --------------------------------------------------------------------

    def _first(self, track: _Track, thread: _Thread, at: float) -> list[Action]:
        folded = max(thread.held - (1 if track.state == "held" else 0), 0)
        thread.held = 0
        thread.candidate = None
        thread.last_sent = at
        track.state = "live"
        out: list[Action] = [self._send(track, kind, at, folded) for kind in sorted(track.routed)]
        if not track.critical:
            track.state = "done"  # a warning is said once
        return out

    def _repeat(self, track: _Track, at: float) -> list[Action]:
        rules = self.rules
        if not track.escalated and at - track.raised_at >= rules.escalate_after:
            track.escalated = True
            track.routed |= set(rules.escalate_to) & self.kinds
        out: list[Action] = []
        for kind in sorted(track.routed):
            last = track.last.get(kind)
            if last is None:
                due = True  # joined on escalation
                if kind == "buzzer":
                    track.buzzer_escalated = True
            elif kind == "buzzer":
                due = track.escalated and not track.buzzer_escalated and at - last >= rules.interval(kind)
                if due:
                    track.buzzer_escalated = True
            else:
                due = at - last >= rules.interval(kind)
            if due:
                out.append(self._send(track, kind, at, track.folded))
        if out:
            track.folded = 0
        return out

    def _send(self, track: _Track, kind: str, at: float, folded: int) -> Send:
        repeat = track.sends.get(kind, 0)
        track.sends[kind] = repeat + 1
        track.last[kind] = at
        return Send(track.info.id, kind, repeat, track.escalated, folded)

    # ---- bookkeeping ---------------------------------------------------------------------

    def _end(self, alert_id: str) -> None:
        track = self._tracks.get(alert_id)
        if track is not None:
            track.state = "done"

    def _forget(self) -> None:
        """Drop the oldest finished alerts past ``KEEP_DONE``: a long evening stays small.

        Finished ones are kept a while, not dropped at once: a warning said once
        is still to be recognised when the tracker withdraws it (``cleared``).
        """
        done = [i for i, t in self._tracks.items() if t.state == "done"]
        for alert_id in done[: max(len(done) - KEEP_DONE, 0)]:
            del self._tracks[alert_id]

    def _ringing(self) -> bool:
        """Is a critical alert still unanswered (so the channels' sound is still its own)?"""
        return any(t.critical and t.state == "live" for t in self._tracks.values())

    def followers(self, alert_id: str) -> list[str]:
        """The critical alerts merged into this one: acknowledged with it."""
        track = self._tracks.get(alert_id)
        return list(track.followers) if track is not None else []

    def active(self) -> list[str]:
        """Alerts that still have something to say (live, held or merged), oldest first."""
        return [i for i, t in self._tracks.items() if t.state != "done"]
