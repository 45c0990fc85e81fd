"""The demo slows near the caramel's target and lets the simulated cook hear the acknowledgement."""

from __future__ import annotations

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Alert, AlertAcked, AlertKind, AlertLevel, CookEnded, StageChanged
from service.profiles import load_profiles
from service.runtime.clock import ScaledClock
from service.runtime.demo_pace import NEAR_SPEED, DemoPace
from service.runtime.hub import Hub


class FakePot:
    def __init__(self) -> None:
        self.speeds: list[float] = []
        self.taken_off = 0

    def set_speed(self, speed: float) -> None:
        self.speeds.append(speed)

    def take_off_heat(self) -> None:
        self.taken_off += 1


def paced(speed: float = 600.0) -> tuple[DemoPace, Hub, FakePot, ScaledClock]:
    clock = ScaledClock(speed)
    hub = Hub(Kitchen([ProbeSetup("pot")]), clock, load_profiles())
    pace = DemoPace(speed)
    pot = FakePot()
    pace.probe_opened(pot)
    pace.probe_opened(object())  # not a simulated pot: ignored
    pace.attach(hub)
    return pace, hub, pot, clock


def test_time_slows_while_a_reach_step_is_near_and_speeds_up_when_the_cook_ends() -> None:
    pace, _, pot, clock = paced()
    pace.on_output(StageChanged(1.0, "c1", "caramel", "heating", None))
    assert clock.speed == 600.0 and pot.speeds == []
    before = clock.monotonic()
    pace.on_output(StageChanged(2.0, "c1", "caramel", "approaching", "heating"))
    assert clock.speed == NEAR_SPEED and pot.speeds == [NEAR_SPEED]
    assert clock.monotonic() >= before  # no jump back in time
    pace.on_output(StageChanged(3.0, "c1", "caramel", "reached", "approaching"))
    assert pot.speeds == [NEAR_SPEED]
    pace.on_output(CookEnded(4.0, "c1", "done"))
    assert clock.speed == 600.0 and pot.speeds == [NEAR_SPEED, 600.0]


def test_the_acknowledged_alarm_sends_the_simulated_cook_to_the_stove() -> None:
    pace, hub, pot, _ = paced()
    for alert_id, kind in (("a1", AlertKind.TARGET_APPROACHING), ("a2", AlertKind.TARGET_REACHED)):
        hub.kitchen.alerts[alert_id] = Alert(alert_id, kind, AlertLevel.CRITICAL, 1.0, "pot", "")
    pace.on_output(AlertAcked(2.0, "a1"))
    assert pot.taken_off == 0
    pace.on_output(AlertAcked(2.0, "a2"))
    assert pot.taken_off == 1
