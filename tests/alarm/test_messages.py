"""The words pushed and spoken: what happened, the temperature, the time, what to do; units spelled out aloud."""

from __future__ import annotations

import pytest

from service.alarm.messages import AlertFacts, alarm_message, self_test_message, word
from service.core.events import AlertKind, AlertLevel
from service.core.units import f_to_c
from service.runtime.words import ALERT_ACTIONS

W, C, INFO = AlertLevel.WARNING, AlertLevel.CRITICAL, AlertLevel.INFO


def facts(kind: AlertKind, level: AlertLevel = C, **more: object) -> AlertFacts:
    return AlertFacts(
        alert_id="a1",
        kind=kind.value,
        level=level,
        step=str(more.pop("step", "caramel")),
        probe="Caramel pot",
        message=str(more.pop("message", "the tracker's sentence")),
        **more,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("given", "unit", "title", "in_body", "spoken"),
    [
        (
            facts(AlertKind.TARGET_REACHED, celsius=f_to_c(225.4), target_c=f_to_c(225.0), since_s=40.0),
            "F",
            "Caramel at 225 °F",
            ["caramel at 225.4 °F", "target 225 °F", "40 s ago", "Take it off the heat."],
            "Caramel at 225 degrees. Take it off the heat.",
        ),
        (
            facts(AlertKind.TARGET_REACHED, celsius=f_to_c(225.4), target_c=f_to_c(225.0)),
            "C",
            "Caramel at 107.2 °C",
            ["caramel at 107.4 °C", "target 107.2 °C"],
            "Caramel at 107.2 degrees. Take it off the heat.",
        ),
        (
            facts(
                AlertKind.TARGET_OVERSHOOT,
                celsius=f_to_c(231.2),
                target_c=f_to_c(225.0),
                overshoot_c=f_to_c(230.0),
            ),
            "F",
            "Caramel past 230 °F",
            ["231.2 °F", "6 °F past the target", "Take it off the heat now."],
            "Caramel past 230 degrees. Take it off the heat now.",
        ),
        (
            facts(AlertKind.TARGET_APPROACHING, W, celsius=f_to_c(220.1), target_c=f_to_c(225.0), eta_s=80.0),
            "F",
            "Caramel: 225 °F in about 1 min 20 s",
            ["220.1 °F", "225 °F in about 1 min 20 s", "Get ready"],
            "Caramel at 220 degrees. 225 degrees in about 80 seconds. Get ready to take it off the heat.",
        ),
        (
            facts(AlertKind.TARGET_APPROACHING, W, celsius=f_to_c(220.1), target_c=f_to_c(225.0), eta_s=None),
            "F",
            "Caramel: 225 °F soon",
            ["225 °F soon"],
            "Caramel at 220 degrees. 225 degrees soon. Get ready to take it off the heat.",
        ),
        (
            facts(
                AlertKind.HOLD_TOO_HOT,
                W,
                step="braise",
                celsius=f_to_c(207.1),
                low_c=f_to_c(185.0),
                high_c=f_to_c(205.0),
            ),
            "F",
            "Braise too hot",
            ["207.1 °F", "window 185 °F–205 °F", "Turn the heat down."],
            "Braise too hot at 207 degrees. Turn the heat down.",
        ),
        (
            facts(AlertKind.PROBE_LOST, C, message="Caramel pot lost: no reading for 15 s", since_s=0.0),
            "F",
            "Caramel pot: probe lost",
            ["Caramel pot lost: no reading for 15 s", "watch the pot yourself"],
            "Probe lost: caramel pot. Check the probe; watch the pot yourself until it is back.",
        ),
    ],
)
def test_each_kind_says_what_happened_the_temperature_and_what_to_do(
    given: AlertFacts, unit: str, title: str, in_body: list[str], spoken: str
) -> None:
    worded = word(given, unit)
    assert worded.title == title
    for part in in_body:
        assert part in worded.body
    assert worded.spoken == spoken
    assert "°" not in worded.spoken


@pytest.mark.parametrize("kind", list(AlertKind))
def test_every_kind_has_words_and_its_action_even_without_facts(kind: AlertKind) -> None:
    worded = word(facts(kind, celsius=None))
    assert worded.title.strip() and worded.spoken.strip()
    assert ALERT_ACTIONS[kind] in worded.body
    assert "°" not in worded.spoken


def test_a_repeat_says_it_is_still_unanswered_and_what_was_held_back() -> None:
    f = facts(AlertKind.TARGET_REACHED, celsius=f_to_c(226.0), target_c=f_to_c(225.0), since_s=75.0)
    message = alarm_message(f, repeat=3, escalated=True, folded=4, ack_url="http://x/api/alerts/a1/ack")
    assert message.title == "Caramel at 225 °F — still not acknowledged"
    assert "1 min 15 s ago" in message.body and "(4 more like it held back" in message.body
    assert message.repeat == 3 and message.escalated and message.ack_url == "http://x/api/alerts/a1/ack"
    assert alarm_message(f).title == "Caramel at 225 °F"


def test_the_self_test_says_it_is_a_test() -> None:
    message = self_test_message("test-1", "C")
    assert message.test and message.kind == "test" and message.repeat == 0
    assert "Nothing is wrong" in message.spoken and "test" in message.title
    assert "°C" in message.body
