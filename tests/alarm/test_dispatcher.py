"""The dispatcher's rules, one table each, on a hand clock; and a property over any sequence of events."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.alarm.dispatcher import Action, AlertInfo, Dispatcher, Rules, Send, Silence
from service.core.events import AlertLevel
from tests.support.clock import HandClock

ALL = ("push", "buzzer", "voice")
DEFAULT_ROUTES = {
    "info": frozenset({"page"}),
    "warning": frozenset({"page", "mqtt", "push"}),
    "critical": frozenset({"page", "mqtt", "push", "buzzer", "voice"}),
}
W, C, INFO = AlertLevel.WARNING, AlertLevel.CRITICAL, AlertLevel.INFO


def rules(**changes: object) -> Rules:
    return Rules(routes=changes.pop("routes", DEFAULT_ROUTES), **changes)  # type: ignore[arg-type]


def alert(alert_id: str, level: AlertLevel = C, kind: str = "target_reached", probe: str = "pot") -> AlertInfo:
    return AlertInfo(alert_id, kind, level, probe, cook_id="c1", step="caramel")


def sends(actions: list[Action]) -> list[tuple[str, str]]:
    return sorted((a.alert_id, a.channel) for a in actions if isinstance(a, Send))


class Run:
    """A dispatcher on a hand clock, ticked every second as the part ticks it, with every send kept."""

    def __init__(self, r: Rules | None = None, kinds: tuple[str, ...] = ALL) -> None:
        self.clock = HandClock(0.0)
        self.d = Dispatcher(r or rules(), kinds)
        self.log: list[tuple[float, Action]] = []

    def keep(self, actions: list[Action]) -> list[Action]:
        self.log += [(self.clock.t, a) for a in actions]
        return actions

    def raised(self, info: AlertInfo) -> list[Action]:
        return self.keep(self.d.raised(info, self.clock.t))

    def acked(self, alert_id: str) -> list[Action]:
        return self.keep(self.d.acked(alert_id, self.clock.t))

    def cleared(self, alert_id: str) -> list[Action]:
        return self.keep(self.d.cleared(alert_id, self.clock.t))

    def until(self, t: float, step: float = 1.0) -> None:
        while self.clock.t + step <= t + 1e-9:
            self.clock.t += step
            self.keep(self.d.tick(self.clock.t))

    def times(self, alert_id: str, channel: str) -> list[float]:
        return [t for t, a in self.log if isinstance(a, Send) and a.alert_id == alert_id and a.channel == channel]

    def sent(self, channel: str) -> list[Send]:
        return [a for _, a in self.log if isinstance(a, Send) and a.channel == channel]


@pytest.mark.parametrize(
    ("level", "routes", "kinds", "expected"),
    [
        (INFO, DEFAULT_ROUTES, ALL, []),
        (W, DEFAULT_ROUTES, ALL, ["push"]),
        (C, DEFAULT_ROUTES, ALL, ["buzzer", "push", "voice"]),
        (C, DEFAULT_ROUTES, ("push",), ["push"]),  # only what is configured
        (INFO, {**DEFAULT_ROUTES, "info": frozenset({"voice"})}, ALL, ["voice"]),
        (W, {**DEFAULT_ROUTES, "warning": frozenset({"page"})}, ALL, []),
        (C, {**DEFAULT_ROUTES, "critical": frozenset({"page", "mqtt"})}, ALL, []),
    ],
)
def test_a_level_reaches_the_kinds_its_route_names(
    level: AlertLevel, routes: dict[str, frozenset[str]], kinds: tuple[str, ...], expected: list[str]
) -> None:
    run = Run(rules(routes=routes), kinds)
    assert [k for _, k in sends(run.raised(alert("a1", level)))] == expected


def test_a_critical_alert_repeats_until_acknowledged_each_kind_on_its_own_pattern() -> None:
    run = Run(rules(escalate_after=600.0))
    run.raised(alert("a1"))
    run.until(100.0)
    assert run.times("a1", "push") == [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0]
    assert run.times("a1", "voice") == [0.0, 30.0, 60.0, 90.0]
    assert run.times("a1", "buzzer") == [0.0]  # its pattern runs until silenced
    assert [s.repeat for s in run.sent("push")] == list(range(7))
    run.acked("a1")
    run.until(300.0)
    assert run.times("a1", "push")[-1] == 90.0


@pytest.mark.parametrize(("every", "expected"), [(20.0, [0.0, 20.0, 40.0]), (45.0, [0.0, 45.0])])
def test_push_every_sets_the_repeat(every: float, expected: list[float]) -> None:
    run = Run(rules(push_every=every, escalate_after=600.0))
    run.raised(alert("a1"))
    run.until(59.0)
    assert run.times("a1", "push") == expected


def test_a_warning_is_said_once() -> None:
    run = Run()
    run.raised(alert("w1", W, "target_approaching"))
    run.until(300.0)
    assert run.times("w1", "push") == [0.0]


def test_nobody_answering_escalates_the_buzzer_and_voice_join_and_push_rises() -> None:
    routes = {**DEFAULT_ROUTES, "critical": frozenset({"page", "mqtt", "push"})}
    run = Run(rules(routes=routes, escalate_after=60.0, voice_every=30.0))
    run.raised(alert("a1"))
    run.until(59.0)
    assert run.times("a1", "buzzer") == run.times("a1", "voice") == []
    assert not any(s.escalated for s in run.sent("push"))
    run.until(61.0)
    assert run.times("a1", "buzzer") == [60.0]
    assert run.times("a1", "voice") == [60.0]
    assert all(s.escalated for s in run.sent("buzzer") + run.sent("voice"))
    run.until(100.0)
    assert [(s.repeat, s.escalated) for s in run.sent("push")] == [
        (0, False), (1, False), (2, False), (3, False), (4, True), (5, True), (6, True)
    ]  # fmt: skip
    assert run.times("a1", "voice") == [60.0, 90.0]
    assert run.times("a1", "buzzer") == [60.0]


def test_a_routed_buzzer_rings_once_more_escalated_on_escalation() -> None:
    run = Run(rules(escalate_after=60.0))
    run.raised(alert("a1"))
    run.until(200.0)
    assert [(t, s.escalated) for t, s in zip(run.times("a1", "buzzer"), run.sent("buzzer"), strict=True)] == [
        (0.0, False),
        (60.0, True),
    ]


@pytest.mark.parametrize("escalate_after", [30.0, 45.0, 120.0])
def test_escalation_comes_when_it_is_due_on_the_hand_clock(escalate_after: float) -> None:
    run = Run(rules(routes={**DEFAULT_ROUTES, "critical": frozenset({"push"})}, escalate_after=escalate_after))
    run.raised(alert("a1"))
    run.until(200.0, step=0.2)
    assert run.times("a1", "buzzer")[0] == pytest.approx(escalate_after, abs=0.21)


def test_no_escalation_for_an_alert_acknowledged_in_time() -> None:
    run = Run(rules(routes={**DEFAULT_ROUTES, "critical": frozenset({"push"})}))
    run.raised(alert("a1"))
    run.until(59.0)
    run.acked("a1")
    run.until(200.0)
    assert run.times("a1", "buzzer") == run.times("a1", "voice") == []


@pytest.mark.parametrize("how", ["one", "all"])
def test_an_acknowledgement_silences_everything_and_nothing_follows(how: str) -> None:
    run = Run()
    run.raised(alert("a1"))
    run.clock.t = 5.0
    run.raised(alert("a2", kind="target_overshoot"))
    run.until(20.0)
    actions = run.acked("a1" if how == "one" else "all")
    assert [a for a in actions if isinstance(a, Silence)]
    assert "a1" in actions[0].alert_ids  # type: ignore[union-attr]
    before = len(run.times("a1", "push"))
    run.until(200.0)
    assert len(run.times("a1", "push")) == before
    assert (len(run.times("a2", "push")) > 2) is (how == "one")  # the other one goes on until its own ack
    # and while it does, its buzzer and voice are not quieted for the one acknowledged
    assert [a.quiet for a in actions if isinstance(a, Silence)] == [how == "all"]


def test_a_cook_that_ends_stops_its_alerts_and_silences() -> None:
    run = Run()
    run.raised(alert("a1"))
    run.until(20.0)
    actions = run.keep(run.d.cook_ended("c1", run.clock.t))
    assert actions == [Silence(("a1",))]
    run.until(200.0)
    assert run.times("a1", "push") == [0.0, 15.0]
    assert run.keep(run.d.cook_ended("c1", run.clock.t)) == []  # nothing left ringing


def test_a_flapping_probe_sends_one_message_per_window_with_the_count_folded_in() -> None:
    """lost, restored, lost… every 2 s for 100 s (warnings): not fifty pushes."""
    run = Run(rules(same_kind_every=60.0))
    n = 0
    while run.clock.t < 100.0:
        n += 1
        run.raised(alert(f"l{n}", W, "probe_lost"))
        run.until(run.clock.t + 1.0)
        run.cleared(f"l{n}")
        run.raised(alert(f"r{n}", INFO, "probe_restored"))
        run.until(run.clock.t + 1.0)
    pushes = run.sent("push")
    assert n == 50
    assert len(pushes) == 2  # at 0 s, then the first lost after the window
    assert [t for t, a in run.log if isinstance(a, Send)] == [0.0, 60.0]
    assert pushes[1].folded == 29  # the 29 lost ones held back in between, said in the second message


def test_a_held_message_goes_when_the_window_ends_if_it_still_stands() -> None:
    run = Run(rules(same_kind_every=60.0))
    run.raised(alert("l1", W, "probe_lost"))
    run.clock.t = 10.0
    run.cleared("l1")
    run.raised(alert("l2", W, "probe_lost"))  # lost again within the window: held
    run.until(59.0)
    assert len(run.sent("push")) == 1
    run.until(61.0)
    assert [(s.alert_id, s.folded) for s in run.sent("push")] == [("l1", 0), ("l2", 0)]


def test_a_held_message_that_no_longer_stands_is_dropped_and_counted_into_the_next() -> None:
    run = Run(rules(same_kind_every=60.0, rewarn_after=0.0))
    run.raised(alert("l1", W, "probe_lost"))
    run.clock.t = 10.0
    run.raised(alert("l2", W, "probe_lost"))
    run.clock.t = 20.0
    run.cleared("l2")
    run.until(100.0)
    run.raised(alert("l3", W, "probe_lost"))
    assert [(s.alert_id, s.folded) for s in run.sent("push")] == [("l1", 0), ("l3", 1)]


def test_a_flapping_probe_near_the_target_rings_one_alarm_not_fifty() -> None:
    """Critical probe_lost raised again and again before anyone answers: merged into the first."""
    run = Run(rules(escalate_after=600.0))
    for n in range(50):
        run.raised(alert(f"l{n}", C, "probe_lost"))
        run.until(run.clock.t + 2.0)
    run.until(105.0)
    assert run.times("l0", "push") == [15.0 * i for i in range(8)]
    assert all(run.times(f"l{n}", "push") == [] for n in range(1, 50))
    assert sum(s.folded for s in run.sent("push")) == 49  # each told once, in the repeat after it
    actions = run.acked("l0")
    assert set(actions[0].alert_ids) == {f"l{n}" for n in range(50)}  # type: ignore[union-attr]
    run.until(400.0)
    assert len(run.sent("push")) == 8


def test_a_warning_the_tracker_withdrew_and_raised_again_is_not_pushed_twice() -> None:
    """target_approaching after approaching → heating → approaching."""
    run = Run(rules(rewarn_after=600.0))
    run.raised(alert("w1", W, "target_approaching"))
    run.clock.t = 90.0
    run.cleared("w1")
    run.clock.t = 150.0
    run.raised(alert("w2", W, "target_approaching"))
    run.until(400.0)
    assert [s.alert_id for s in run.sent("push")] == ["w1"]
    assert run.d.stats.repeated_warning == 1
    run.clock.t = 700.0  # a new approach, long after
    run.raised(alert("w3", W, "target_approaching"))
    assert [s.alert_id for s in run.sent("push")] == ["w1", "w3"]


def test_a_warning_of_another_step_or_probe_is_its_own_thread() -> None:
    run = Run()
    run.raised(alert("w1", W, "probe_lost", probe="pot"))
    run.raised(alert("w2", W, "probe_lost", probe="oven"))
    run.raised(AlertInfo("w3", "probe_lost", W, "pot", cook_id="c1", step="braise"))
    assert [s.alert_id for s in run.sent("push")] == ["w1", "w2", "w3"]


# ---- the property -------------------------------------------------------------------------

events = st.lists(
    st.one_of(
        st.tuples(
            st.just("raise"),
            st.sampled_from([INFO, W, C]),
            st.sampled_from(["probe_lost", "target_reached", "target_approaching"]),
            st.sampled_from(["pot", "oven"]),
        ),
        st.tuples(st.just("ack"), st.integers(0, 30), st.booleans()),
        st.tuples(st.just("clear"), st.integers(0, 30)),
        st.tuples(st.just("end"), st.sampled_from(["c1", "c2"])),
        # the part's 0.2 s looks, steps just short of an interval, and long silences
        st.tuples(
            st.just("tick"), st.one_of(st.sampled_from([0.2, 0.2, 0.2, 1.0, 4.5, 14.5, 29.5]), st.floats(0.05, 40.0))
        ),
    ),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(events, st.sampled_from([5.0, 15.0]), st.sampled_from([5.0, 30.0]), st.sampled_from([10.0, 60.0]))
def test_no_send_after_an_ack_and_never_two_sends_closer_than_the_interval(
    script: list[tuple[object, ...]], push_every: float, voice_every: float, escalate_after: float
) -> None:
    r = rules(push_every=push_every, voice_every=voice_every, escalate_after=escalate_after)
    d = Dispatcher(r, ALL)
    t = 0.0
    raised: list[str] = []
    acked: set[str] = set()
    last: dict[tuple[str, str], float] = {}
    counts: defaultdict[tuple[str, str], int] = defaultdict(int)

    def check(actions: list[Action]) -> None:
        for a in actions:
            if not isinstance(a, Send):
                continue
            assert a.alert_id not in acked, f"{a} after its ack"
            key = (a.alert_id, a.channel)
            if key in last:
                assert t - last[key] >= r.interval(a.channel) - 1e-9, f"{a} {t - last[key]:.2f} s after the last"
            last[key] = t
            counts[key] += 1

    for n, event in enumerate(script):
        if event[0] == "raise":
            _, level, kind, probe = event
            alert_id = f"a{n}"
            raised.append(alert_id)
            cook = "c1" if n % 3 else "c2"
            check(d.raised(AlertInfo(alert_id, str(kind), level, str(probe), cook, "step"), t))  # type: ignore[arg-type]
        elif event[0] == "ack":
            _, index, everything = event
            if everything:
                acked.update(raised)
                check(d.acked("all", t))
            elif raised:
                alert_id = raised[int(index) % len(raised)]  # type: ignore[call-overload]
                acked.add(alert_id)
                check(d.acked(alert_id, t))
        elif event[0] == "clear" and raised:
            check(d.cleared(raised[int(event[1]) % len(raised)], t))  # type: ignore[call-overload]
        elif event[0] == "end":
            check(d.cook_ended(str(event[1]), t))
        elif event[0] == "tick":
            t += float(event[1])  # type: ignore[arg-type]
            check(d.tick(t))
    # a warning or info is said at most once per kind; a buzzer at most twice (start, escalation)
    for (_, channel), count in counts.items():
        if channel == "buzzer":
            assert count <= 2
    assert not math.isnan(t)
