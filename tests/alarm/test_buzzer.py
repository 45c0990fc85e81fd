"""The buzzer channel on gpiozero's mock pins: what the pin really did, level by level.

A ``MockPin`` records every change of state with the time since the one
before, so each test reads the pulses the buzzer would have sounded — how
many, how long, how far apart — from the pin itself, not from the channel's
table. Waits are on the pin's states (or on the pattern being over), with a
timeout; the pattern's own timing is real time, as on the Pi, so lengths are
checked loosely (a loaded machine stretches them, never shortens them much).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable

import pytest
from gpiozero import Device  # type: ignore[import-untyped]
from gpiozero.pins.mock import MockFactory, MockPin  # type: ignore[import-untyped]

from service.alarm.buzzer import BuzzerChannel
from service.core.events import AlertLevel
from tests.support.alarm import caramel_message as message
from tests.support.waiting import wait_until_async

PIN = 17


def pulses(pin: MockPin) -> list[tuple[float, float | None]]:
    """Each on-pulse as (when it began, counted from the first; its length, None while still on)."""
    found: list[tuple[float, float | None]] = []
    now, first = 0.0, None
    states = list(pin.states)
    for i, change in enumerate(states):
        now += change.timestamp
        if change.state and (i == 0 or not states[i - 1].state):
            first = now if first is None else first
            length = states[i + 1].timestamp if i + 1 < len(states) else None
            found.append((now - first, length))
    return found


def on_share(pin: MockPin, pulse_count: int) -> float:
    """How much of the time from the first pulse's start to the ``pulse_count``-th's the pin was on."""
    seen = pulses(pin)[:pulse_count]
    span = seen[-1][0]
    return sum(length or 0.0 for _, length in seen[:-1]) / span


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
async def buzzer(factory: MockFactory) -> AsyncIterator[BuzzerChannel]:
    channel = BuzzerChannel(PIN, pin_factory=factory)
    assert channel.notices() == []
    yield channel
    await channel.close()


async def test_info_is_one_short_beep_then_quiet(buzzer: BuzzerChannel, factory: MockFactory) -> None:
    pin = factory.pin(PIN)
    delivery = await buzzer.deliver(message(AlertLevel.INFO))
    assert delivery.ok and delivery.channel == "buzzer"
    assert pin.state, "deliver returns with the buzzer already sounding"
    assert delivery.latency_s < 0.05
    await wait_until_async(lambda: buzzer.sounding is None, 5, "the info beep to end")
    assert pin.state is False
    [(_, length)] = pulses(pin)
    assert length is not None and 0.1 <= length < 0.5


async def test_warning_is_three_short_beeps(buzzer: BuzzerChannel, factory: MockFactory) -> None:
    pin = factory.pin(PIN)
    assert (await buzzer.deliver(message(AlertLevel.WARNING))).ok
    await wait_until_async(lambda: buzzer.sounding is None, 5, "the warning's beeps to end")
    seen = pulses(pin)
    assert len(seen) == 3 and pin.state is False
    assert all(length is not None and 0.1 <= length < 0.5 for _, length in seen)
    gaps = [b[0] - a[0] - (a[1] or 0.0) for a, b in itertools.pairwise(seen)]
    assert all(0.1 <= gap < 0.5 for gap in gaps), "three distinct beeps, not one long one"


async def test_critical_repeats_until_silenced_then_stays_off(
    buzzer: BuzzerChannel, factory: MockFactory, record_property: Callable[[str, object], None]
) -> None:
    pin = factory.pin(PIN)
    assert (await buzzer.deliver(message(AlertLevel.CRITICAL))).ok
    # the first cycle has three pulses: a fifth one means it went round again by itself
    await wait_until_async(lambda: len(pulses(pin)) >= 5, 10, "the critical pattern to go round twice")
    began = time.monotonic()
    await buzzer.silence()
    record_property("buzzer_silence_s", round(time.monotonic() - began, 6))
    assert time.monotonic() - began < 0.5
    assert pin.state is False and buzzer.sounding is None
    heard = len(pin.states)
    # nothing is left that could sound: another delivery starts from a quiet pin
    assert (await buzzer.deliver(message(AlertLevel.INFO))).ok
    assert pin.states[heard - 1].state is False and pin.states[heard].state is True


async def test_escalated_critical_is_denser(factory: MockFactory) -> None:
    """More pulses a second and more of the time on, measured on the pin of each."""
    measured = {}
    for escalated in (False, True):
        pin_number = 22 if escalated else 27
        channel = BuzzerChannel(pin_number, pin_factory=factory)
        pin = factory.pin(pin_number)
        assert (await channel.deliver(message(AlertLevel.CRITICAL, escalated=escalated))).ok
        await wait_until_async(lambda pin=pin: len(pulses(pin)) >= 5, 10, "five pulses")
        await channel.close()
        measured[escalated] = (pulses(pin)[4][0], on_share(pin, 5))  # the fifth pulse's start; the on share
    (plain_span, plain_on), (dense_span, dense_on) = measured[False], measured[True]
    assert dense_span < 0.7 * plain_span, measured
    assert dense_on > plain_on, measured


async def test_escalation_switches_a_sounding_critical_and_a_repeat_does_not_restart_it(
    buzzer: BuzzerChannel, factory: MockFactory
) -> None:
    pin = factory.pin(PIN)
    assert (await buzzer.deliver(message(AlertLevel.CRITICAL))).ok
    plain = buzzer.sounding
    await wait_until_async(lambda: len(pulses(pin)) >= 2, 5, "the critical's second pulse")
    # the dispatcher's repeat, and a lesser alert, while it sounds: the rhythm goes on untouched
    assert (await buzzer.deliver(message(AlertLevel.CRITICAL))).ok
    assert (await buzzer.deliver(message(AlertLevel.WARNING))).ok
    assert buzzer.sounding == plain
    await wait_until_async(lambda: len(pulses(pin)) >= 4, 10, "the critical's fourth pulse")
    assert all(length is None or length >= 0.2 for _, length in pulses(pin)), "no pulse was cut by a restart"
    assert (await buzzer.deliver(message(AlertLevel.CRITICAL, escalated=True))).ok
    assert buzzer.sounding is not None and buzzer.sounding != plain


async def test_a_self_test_critical_sounds_once(buzzer: BuzzerChannel, factory: MockFactory) -> None:
    pin = factory.pin(PIN)
    assert (await buzzer.deliver(message(AlertLevel.CRITICAL, test=True))).ok
    await wait_until_async(lambda: buzzer.sounding is None, 10, "the test pattern to end by itself")
    assert len(pulses(pin)) == 3 and pin.state is False


async def test_close_releases_the_pin(factory: MockFactory) -> None:
    channel = BuzzerChannel(PIN, pin_factory=factory)
    assert (await channel.deliver(message(AlertLevel.CRITICAL))).ok
    await channel.close()
    pin = factory.pin(PIN)
    assert pin.state is False
    after = await channel.deliver(message(AlertLevel.CRITICAL))
    assert not after.ok and after.error is not None and "closed" in after.error
    again = BuzzerChannel(PIN, pin_factory=factory)  # the pin is free for the next owner
    assert again.notices() == []
    await again.close()


async def test_a_pin_in_use_is_a_notice(buzzer: BuzzerChannel, factory: MockFactory) -> None:
    second = BuzzerChannel(PIN, pin_factory=factory)
    [notice] = second.notices()
    assert notice.startswith(f"buzzer_pin {PIN}: the pin is already in use") and notice.endswith(": no buzzer")
    assert second.health.notices == [notice]
    delivery = await second.deliver(message(AlertLevel.CRITICAL))
    assert not delivery.ok and delivery.error == notice
    await second.close()


async def test_not_a_pin_is_a_notice(factory: MockFactory) -> None:
    channel = BuzzerChannel(99, pin_factory=factory)
    assert channel.notices() == ["buzzer_pin 99: not a GPIO pin of this board (99 is not a valid pin name): no buzzer"]
    assert not (await channel.deliver(message(AlertLevel.INFO))).ok


async def test_no_pin_factory_is_a_notice_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """gpiozero's own failure to find GPIO (BadPinFactory), as on a laptop: a notice, failed deliveries."""
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    channel = BuzzerChannel(PIN)
    [notice] = channel.notices()
    assert (
        notice == f"buzzer_pin {PIN}: no GPIO on this machine (Unable to find pin factory 'no-such-factory'): no buzzer"
    )
    delivery = await channel.deliver(message(AlertLevel.CRITICAL))
    assert delivery == delivery.__class__("buzzer", ok=False, latency_s=0.0, error=notice)
    await channel.silence()
    await channel.close()


async def test_deliveries_at_once_leave_one_pattern_that_silence_stops(
    buzzer: BuzzerChannel, factory: MockFactory
) -> None:
    """The dispatcher may hand over a repeat and an escalation in the same instant: one owner of the pin."""
    pin = factory.pin(PIN)
    critical, escalated = message(AlertLevel.CRITICAL), message(AlertLevel.CRITICAL, escalated=True)
    deliveries = await asyncio.gather(buzzer.deliver(critical), buzzer.deliver(escalated), buzzer.deliver(critical))
    assert all(d.ok for d in deliveries)
    await buzzer.silence()
    assert pin.state is False
    playing = [t for t in asyncio.all_tasks() if t.get_name().startswith("buzzer") and not t.done()]
    assert playing == [], "no pattern left running that the silence did not reach"


async def test_a_pin_that_fails_under_the_pattern_is_an_error_not_a_crash(
    buzzer: BuzzerChannel, factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program turning the pin into an input: gpiozero refuses the write (PinSetInput)."""
    pin = factory.pin(PIN)
    assert (await buzzer.deliver(message(AlertLevel.CRITICAL))).ok
    pin.function = "input"
    await wait_until_async(lambda: buzzer.sounding is None, 5, "the pattern to stop at the failed write")
    assert any("buzzer_pin 17: the GPIO failed (PinSetInput" in r.getMessage() for r in caplog.records)
    delivery = await buzzer.deliver(message(AlertLevel.INFO))
    assert not delivery.ok and delivery.error is not None
    assert delivery.error.startswith("buzzer_pin 17: the GPIO failed (PinSetInput")
