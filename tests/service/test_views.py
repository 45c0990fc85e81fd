"""What the hub sends out has exactly the shapes views.py declares: every SSE event, the status, MQTT's state.

A whole cook (the rillons: a braise, then the caramel past its target, acked,
stopped) and a probe lost and back run through a real hub; every event on its
bus is checked against ``SSE_EVENTS`` (the same keys, no more and no fewer,
each of its declared type), and so are the status and the MQTT payloads made
from it. A key added, renamed or dropped on one side only fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Acknowledge, ProbeGone, Sample, StartCook, StopCook, Tick
from service.core.units import f_to_c
from service.mqtt.publisher import cook_state_payload, probe_payload
from service.profiles import load_profiles
from service.runtime.bus import BusEvent
from service.runtime.hub import Hub
from service.runtime.views import (
    COOK_STATE_KEYS,
    SSE_EVENTS,
    MqttCookState,
    MqttProbeReading,
    StatusView,
)
from tests.support.clock import HandClock


def keys_of(shape: type) -> set[str]:
    return set(shape.__required_keys__ | shape.__optional_keys__)  # type: ignore[attr-defined]


def conforms(shape: type, data: Any) -> None:
    """``data`` has exactly ``shape``'s keys, each value of its declared type (strictly: no coercion)."""
    assert set(data) == keys_of(shape), f"{shape.__name__}: {set(data) ^ keys_of(shape)}"
    TypeAdapter(shape).validate_python(dict(data), strict=True)


EVERYTHING = 1_000_000  # a subscriber that keeps every event of the evening


@pytest.fixture
async def evening() -> tuple[Hub, list[BusEvent]]:
    """A hub that has been through a whole rillons cook, a lost probe and an ack, and all it said."""
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot")]), clock, load_profiles())
    sub = hub.bus.subscribe(EVERYTHING)
    hub.apply(StartCook(clock.t, hub.profiles["rillons"], "pot"))

    def reading(f: float | None) -> None:
        clock.t += 2.0
        hub.apply(Tick(clock.t))
        hub.apply(Sample(clock.t, "pot", "", None if f is None else f_to_c(f), None if f is not None else "Error"))

    for i in range(60):
        reading(150.0 + i)  # up into the braise's window
    for _ in range(3700):
        reading(195.0)  # the two-hour hold
    clock.t += 120.0
    hub.apply(ProbeGone(clock.t, "pot", "unplugged"))
    for i in range(400):
        reading(200.0 + 30.0 * (i / 399) ** 2)  # the caramel, faster and faster past 225 °F
    hub.apply(Acknowledge(clock.t, "all"))
    (cook_id,) = hub.kitchen.cooks
    hub.apply(StopCook(clock.t, cook_id))
    assert not sub.overflowed
    return hub, sub.take_queued(sub.queued)


def test_every_bus_event_is_the_shape_its_name_declares(evening: tuple[Hub, list[BusEvent]]) -> None:
    _, events = evening
    seen = {e.name for e in events}
    assert seen <= set(SSE_EVENTS), f"undeclared events: {seen - set(SSE_EVENTS)}"
    # the evening exercised the events that matter to a cook
    assert {"reading", "cook", "stage", "alert", "ack", "cook_ended", "probe"} <= seen, seen
    for event in events:
        conforms(SSE_EVENTS[event.name], event.data)


def test_the_status_and_the_mqtt_payloads_are_their_declared_shapes(evening: tuple[Hub, list[BusEvent]]) -> None:
    hub, events = evening
    status = hub.status()
    conforms(StatusView, status)
    conforms(MqttCookState, cook_state_payload(status))
    reading = next(e.data for e in reversed(events) if e.name == "reading")
    conforms(MqttProbeReading, probe_payload(reading, 100.0, 0.01))


def test_the_mqtt_state_copies_every_cook_key_it_shares_with_the_api() -> None:
    """A key renamed in CookView but not in the MQTT state would silently become null on MQTT."""
    computed = {"cook", "rate_c_per_min", "target_reached", "active_alerts", "alerts"}
    assert set(COOK_STATE_KEYS) == keys_of(MqttCookState) - computed
