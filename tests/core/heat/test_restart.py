"""The mode a controller starts in after a restart, and that a forced-off start never switches on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.core.heat.controller import HeatState, restarted_mode
from service.core.heat.events import Decision, HeatEvent, HeatStep, Override, OverrideMode, ProbeLevel, Reason, Tick
from service.core.heat.params import HeatParams
from service.core.units import f_to_c
from tests.support.heat_events import BOIL, REACH, feed, healthy

P = HeatParams()


@pytest.mark.parametrize(
    ("recorded", "started"),
    [
        (OverrideMode.FORCE_OFF, OverrideMode.FORCE_OFF),
        (OverrideMode.FORCE_ON, OverrideMode.AUTO),
        (OverrideMode.AUTO, OverrideMode.AUTO),
        (None, OverrideMode.AUTO),
    ],
    ids=["forced off stays off", "forced on falls back to auto", "auto stays auto", "nothing recorded: auto"],
)
def test_restarted_mode(recorded: OverrideMode | None, started: OverrideMode) -> None:
    assert restarted_mode(recorded) is started


@pytest.mark.parametrize("recorded", [*OverrideMode, None], ids=lambda m: f"newest readable {m}")
def test_an_override_the_damaged_history_cannot_vouch_for_restarts_forced_off(recorded: OverrideMode | None) -> None:
    assert restarted_mode(recorded, trusted=False) is OverrideMode.FORCE_OFF


def test_a_controller_started_in_doubt_says_why_until_the_cooks_next_override() -> None:
    """The reason is the damage's, not "override: off"; any override of the cook's ends it, their own "off" too."""
    start = HeatState(mode=restarted_mode(OverrideMode.AUTO, trusted=False), in_doubt=True)
    state, outputs = feed(healthy(REACH, 150.0), P, start)
    decisions = [o for o in outputs if isinstance(o, Decision)]
    assert not any(d.on for d in decisions)
    last = decisions[-1]
    assert last.reason is Reason.HISTORY_DAMAGED, decisions
    assert last.words == "history damaged at start: hand control back to resume"
    said_off, outputs = feed([Override(10.0, OverrideMode.FORCE_OFF), Tick(11.0)], P, state)
    assert [o.reason for o in outputs if isinstance(o, Decision)][-1] is Reason.OVERRIDE_OFF
    assert not said_off.in_doubt
    state, outputs = feed([Override(10.0, OverrideMode.AUTO), Tick(11.0)], P, state)
    assert [o.on for o in outputs if isinstance(o, Decision)] == [True, True] and not state.in_doubt


@pytest.mark.parametrize("heat", [REACH, BOIL], ids=["a reach far below its target", "a boil"])
def test_a_controller_started_forced_off_decides_off_from_its_first_event(heat: HeatStep) -> None:
    """Every event of two minutes of a step that wants full heat, one after the other: not one decision is on."""
    events: list[HeatEvent] = healthy(heat, 150.0)
    for t in range(1, 120):
        events += [Tick(float(t)), ProbeLevel(float(t), f_to_c(150.0))]
    state, outputs = feed(events, P, HeatState(mode=restarted_mode(OverrideMode.FORCE_OFF)))
    decisions = [o for o in outputs if isinstance(o, Decision)]
    assert len(decisions) == len(events)
    assert not any(d.on for d in decisions), decisions
    assert {d.reason for d in decisions[2:]} == {Reason.OVERRIDE_OFF}, decisions
    assert state.switches == ((0.0, False),)  # never on, not even for an instant
    # and "auto" hands the heat back, as it did before the restart
    state, outputs = feed([Override(120.0, OverrideMode.AUTO), Tick(121.0)], P, state)
    assert [o.on for o in outputs if isinstance(o, Decision)] == [True, True]


def test_a_controller_started_after_a_forced_on_heats_only_as_auto_would() -> None:
    """The step keeps the heat off: forced on before the restart, it stays off after it."""
    held_off = replace(REACH, heat_off=True)
    state, outputs = feed(healthy(held_off, 150.0), P, HeatState(mode=restarted_mode(OverrideMode.FORCE_ON)))
    decisions = [o for o in outputs if isinstance(o, Decision)]
    assert not any(d.on for d in decisions) and decisions[-1].reason is Reason.STEP_HEAT_OFF, decisions
    assert state.mode is OverrideMode.AUTO
