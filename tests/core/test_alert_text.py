"""The alerts the tracker builds speak the cook's language: the probe's label, plain words, what to do."""

from __future__ import annotations

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertRaised, ProbeGone, Sample, StartCook
from service.core.units import f_to_c
from tests.core.traces import CARAMEL, run, syrup_curve


def messages(outputs: list[object]) -> list[str]:
    return [o.alert.message for o in outputs if isinstance(o, AlertRaised)]


def labelled() -> Kitchen:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.labels = {"pot": "Caramel pot"}
    kitchen.handle(StartCook(0.0, CARAMEL, "pot"))
    kitchen.handle(Sample(0.0, "pot", "", f_to_c(70.0)))
    return kitchen


def test_a_lost_probe_is_named_by_its_label() -> None:
    [message] = messages(labelled().handle(ProbeGone(1.0, "pot", "unplugged")))
    assert message.startswith("Caramel pot lost: unplugged")
    assert "probe pot" not in message


def test_a_reading_with_no_number_says_to_check_the_plug() -> None:
    kitchen = labelled()
    out = kitchen.handle(Sample(1.0, "pot", "", None, "not a number (nan)"))
    out += kitchen.handle(Sample(2.0, "pot", "", None, "not a number (nan)"))
    [message] = messages(out)
    assert message == "Caramel pot: the probe reads no number — check its plug"


def test_without_a_label_the_probe_is_named_by_its_id() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(Sample(0.0, "pot", "", f_to_c(70.0)))
    [message] = messages(kitchen.handle(ProbeGone(1.0, "pot", "unplugged")))
    assert message.startswith("probe pot lost")


def test_the_overshoot_says_what_to_do() -> None:
    trace, _ = syrup_curve()  # climbs on well past 230 °F
    [overshoot] = run(trace).alerts("target_overshoot")
    assert overshoot.alert.message.endswith("take it off the heat now")
