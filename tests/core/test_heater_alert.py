"""A heater's mismatch is a kitchen input, so its alert takes the one alert path and is replayed with the cook."""

from __future__ import annotations

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertCleared, AlertRaised, HeaterAgrees, HeaterMismatch, StartCook
from service.history.codec import event_row, row_event
from service.profiles import load_profiles

PROFILES = load_profiles()


def test_a_mismatch_raises_one_critical_alert_on_the_heaters_cook_and_agreeing_clears_it() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(1.0, PROFILES["caramel"], "pot"))
    raised = kitchen.handle(HeaterMismatch(5.0, "hob", "pot", "heater hob: commanded off, the plug reports on"))
    assert [type(o) for o in raised] == [AlertRaised]
    alert = raised[0].alert  # type: ignore[union-attr]
    assert (alert.kind.value, alert.level.value, alert.probe, alert.cook_id) == (
        "heater_mismatch",
        "critical",
        "pot",
        "c1",
    )
    assert alert.active
    assert kitchen.handle(HeaterMismatch(6.0, "hob", "pot", "again")) == []  # one alert per mismatch
    cleared = kitchen.handle(HeaterAgrees(7.0, "hob"))
    assert cleared == [AlertCleared(7.0, alert.id)]
    assert kitchen.handle(HeaterAgrees(8.0, "hob")) == []
    # a critical alert stays until it is acknowledged, as every critical one does
    assert kitchen.alerts[alert.id].active and kitchen.alerts[alert.id].cleared


def test_the_heater_inputs_survive_the_history_rows() -> None:
    for event in (HeaterMismatch(5.5, "hob", "pot", "heater hob: commanded on, the plug reports off"),
                  HeaterAgrees(6.25, "hob")):  # fmt: skip
        row = event_row(event, 3, 1_700_000_000.0)
        kind, at, probe, channel, celsius, fault, live, data = (row[1], *row[2:3], *row[4:])
        assert row_event((kind, at, probe, channel, celsius, fault, live, data)) == event
