"""Probe trouble is loud: lost on silence or a gone device, faults, restored."""

from __future__ import annotations

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertLevel, ProbeGone, Sample, StartCook, Tick
from service.core.units import f_to_c
from tests.core.traces import CARAMEL, run


def test_lost_after_three_intervals_at_least_ten_seconds() -> None:
    trace = [(float(t), 200.0) for t in range(0, 60)]  # 1 Hz, then silence
    trace.append((200.0, 200.0))
    result = run(trace)
    lost = result.alerts("probe_lost")
    assert len(lost) == 1
    assert lost[0].at == 59.0 + 10.0  # 3 × 1 s is under the 10 s floor
    restored = result.alerts("probe_restored")
    assert len(restored) == 1 and restored[0].at == 200.0


def test_a_slow_gateway_is_not_lost_between_reports() -> None:
    trace = [(float(t), 200.0) for t in range(0, 600, 30)]
    result = run(trace)
    assert result.alerts("probe_lost") == []
    trace.append((600.0 + 200.0, 200.0))
    result = run(trace)
    lost = result.alerts("probe_lost")
    assert len(lost) == 1 and abs(lost[0].at - (570.0 + 90.0)) < 1e-6


def test_configured_stale_timeout_wins() -> None:
    trace = [(float(t), 200.0) for t in range(0, 10)] + [(100.0, 200.0)]
    result = run(trace, stale_after=25.0)
    assert result.first_alert_at("probe_lost") == 9.0 + 25.0


def test_gone_device_is_lost_at_once_and_critical_near_target() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(0.0, CARAMEL, "pot"))
    for t in range(0, 120):
        kitchen.handle(Sample(float(t), "pot", "", f_to_c(218.0 + t * 0.04)))
    assert kitchen.cooks["c1"].machine.stage == "approaching"
    out = kitchen.handle(ProbeGone(120.5, "pot", "unplugged"))
    alerts = [o.alert for o in out if hasattr(o, "alert")]
    assert [a.kind.value for a in alerts] == ["probe_lost"]
    assert alerts[0].level is AlertLevel.CRITICAL
    assert alerts[0].at == 120.5
    # a second "gone" for the same loss does not ring again
    assert not [o for o in kitchen.handle(ProbeGone(121.0, "pot", "unplugged")) if hasattr(o, "alert")]


def test_lost_is_a_warning_far_from_target() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(0.0, CARAMEL, "pot"))
    kitchen.handle(Sample(0.0, "pot", "", f_to_c(150.0)))
    out = kitchen.handle(ProbeGone(1.0, "pot", "unplugged"))
    assert [o.alert.level for o in out if hasattr(o, "alert")] == [AlertLevel.WARNING]


def test_one_fault_value_is_a_glitch_two_are_a_fault() -> None:
    trace = [(float(t), 200.0) for t in range(10)] + [(10.0, None)] + [(float(t), 200.0) for t in range(11, 20)]
    assert run(trace).alerts("probe_fault") == []
    trace = [(float(t), 200.0) for t in range(10)] + [(10.0, None), (11.0, None)] + [(12.0, 200.0)]
    result = run(trace)
    assert result.first_alert_at("probe_fault") == 11.0
    assert result.first_alert_at("probe_restored") == 12.0


def test_a_lone_fault_at_a_slow_gateway_confirms_after_three_seconds() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(Sample(0.0, "pot", "", 90.0))
    kitchen.handle(Sample(30.0, "pot", "", None, "open"))
    assert kitchen.next_deadline() == 33.0
    out = kitchen.handle(Tick(33.0))
    assert [o.alert.kind.value for o in out if hasattr(o, "alert")] == ["probe_fault"]


def test_retained_values_do_not_prove_the_probe_alive() -> None:
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(0.0, CARAMEL, "pot"))
    kitchen.handle(Sample(0.0, "pot", "", 100.0, live=False))
    assert kitchen.probes["pot"].state == "waiting"
    assert kitchen.probes["pot"].celsius == 100.0
    out = kitchen.handle(Tick(91.0))
    assert [o.alert.kind.value for o in out if hasattr(o, "alert")] == ["probe_lost"]


def test_a_healthy_board_sensor_does_not_hide_an_open_thermocouple() -> None:
    """A MAX31855 sketch prints its board temperature between its fault lines."""
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(0.0, CARAMEL, "pot"))
    kinds: list[str] = []
    for t in range(10):
        kitchen.handle(Sample(float(t), "pot", "", f_to_c(200.0)))
    for t in range(10, 30):
        for ev in (Sample(float(t), "pot", "Internal", 24.0), Sample(t + 0.5, "pot", "", None, "open")):
            kinds += [o.alert.kind.value for o in kitchen.handle(ev) if hasattr(o, "alert")]
    assert kinds == ["probe_fault"]
    assert kitchen.probes["pot"].celsius == f_to_c(200.0)  # the board's 24 °C is not the pot's


def test_a_cook_binds_to_the_thermocouple_not_the_ambient_channel() -> None:
    kitchen = Kitchen([ProbeSetup("tc4")])
    kitchen.handle(StartCook(0.0, CARAMEL, "tc4"))
    kitchen.handle(Sample(0.0, "tc4", "ambient", 25.0))
    kitchen.handle(Sample(0.0, "tc4", "1", 100.0))
    kitchen.handle(Sample(0.0, "tc4", "2", 60.0))
    assert kitchen.cooks["c1"].channel == "1"


def test_a_cleared_warning_is_said_so_listeners_can_stop_showing_it() -> None:
    from service.core.events import AlertCleared

    trace = [(float(t), 200.0) for t in range(0, 20)] + [(100.0, 200.0)]
    result = run(trace)
    lost = result.alerts("probe_lost")[0].alert
    cleared = [o for o in result.outputs if isinstance(o, AlertCleared)]
    assert [(c.alert_id, c.at) for c in cleared] == [(lost.id, 100.0)]
    assert not lost.active
