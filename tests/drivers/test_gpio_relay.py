"""A relay on a GPIO pin, through gpiozero's mock pins: what the pin really did, and what is reported.

The mock pin factory is gpiozero's own (the buzzer's tests use it too): a
pin's level and its history of changes are the pin's, not the driver's idea
of them. A "relay" wired in a test drives the sense pin as a real one would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from gpiozero import OutputDevice  # type: ignore[import-untyped]
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from drivers.gpio_relay import GpioRelay, GpioUrl, parse_gpio_url
from drivers.heater import AvailabilityChange, HeaterEvent, HeaterUrlError, StateReport, heater_identity, open_heater
from tests.support.waiting import wait_until_async

PIN, SENSE = 17, 27


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("gpio://17", GpioUrl(17, text="gpio://17")),
        ("gpio://4?active_high=false", GpioUrl(4, active_high=False, text="gpio://4?active_high=false")),
        (
            "gpio://17?sense=27&sense_active_high=no",
            GpioUrl(17, sense=27, sense_active_high=False, text="gpio://17?sense=27&sense_active_high=no"),
        ),
        ("gpio://17?pulse=10", GpioUrl(17, pulse_hz=10.0, text="gpio://17?pulse=10")),
    ],
)
def test_gpio_urls(url: str, expected: GpioUrl) -> None:
    assert parse_gpio_url(url) == expected
    assert heater_identity(url) == ("gpio", "this Pi's GPIO", str(expected.pin))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("gpio://", "'' is not a BCM GPIO number 0–27"),
        ("gpio://28", "'28' is not a BCM GPIO number"),
        ("gpio://GPIO17", "'GPIO17' is not a BCM GPIO number"),
        ("gpio://17/18", "a GPIO relay is one pin"),
        ("gpio://17?sense=17", "sense= must be another pin"),
        ("gpio://17?sense_active_high=false", "sense_active_high= needs sense=<pin>"),
        ("gpio://17?pulse=0.2", "pulse='0.2': a rate in Hz, 1 to 100"),
        ("gpio://17?pulse=fast", "pulse='fast'"),
        ("gpio://17?active_high=maybe", "active_high='maybe': say true or false"),
        ("gpio://17?pin=18", "unknown option 'pin'"),
        ("gpio://17?pulse=5&pulse=6", "option 'pulse' given twice"),
    ],
)
def test_bad_gpio_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(HeaterUrlError, match=None) as caught:
        heater_identity(url)
    assert says in str(caught.value)


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
async def relay_board(factory: MockFactory) -> AsyncIterator[GpioRelay]:
    """A relay board that switches on a low input, with no sense wire."""
    async with GpioRelay("hob", parse_gpio_url(f"gpio://{PIN}?active_high=false"), pin_factory=factory) as relay:
        yield relay


async def drain(relay: GpioRelay) -> list[HeaterEvent]:
    out: list[HeaterEvent] = []
    events = relay.events()
    while True:
        try:
            out.append(await asyncio.wait_for(anext(events), 0.05))
        except TimeoutError:
            return out


async def test_an_active_low_board_is_driven_low_for_on_and_starts_off(
    relay_board: GpioRelay, factory: MockFactory
) -> None:
    pin = factory.pin(PIN)
    assert pin.state is True  # off on a board that switches on low: the pin high from the start
    first = await drain(relay_board)
    assert [type(e) for e in first] == [AvailabilityChange, StateReport]
    assert isinstance(first[1], StateReport) and first[1].on is False and relay_board.reported_from == "pin"
    assert await relay_board.command(True, hold_s=60.0) is True
    assert pin.state is False and relay_board.reported is True
    assert await relay_board.command(False, hold_s=1.0) is True
    assert pin.state is True and relay_board.reported is False
    assert [e.on for e in await drain(relay_board) if isinstance(e, StateReport)] == [True, False]


async def test_with_a_sense_pin_the_relay_itself_is_reported_and_a_welded_one_is_seen(factory: MockFactory) -> None:
    """The sense wire is what the relay switched: a command moves the drive pin only; the report follows the
    sense pin (here a relay that obeys, then one whose contacts have welded shut)."""
    url = parse_gpio_url(f"gpio://{PIN}?sense={SENSE}")
    async with GpioRelay("hob", url, pin_factory=factory) as relay:
        sense = factory.pin(SENSE)
        await drain(relay)
        assert relay.reported is False
        await relay.command(True, hold_s=60.0)
        assert factory.pin(PIN).state is True and relay.reported is False  # commanded, not yet switched
        sense.drive_high()  # the contacts close
        await wait_until_async(lambda: relay.reported is True, 2.0, "the sense pin's report")
        await relay.command(False, hold_s=1.0)
        assert factory.pin(PIN).state is False
        # welded: the sense pin stays high, and the report says on, whatever was commanded
        await drain(relay)
        assert relay.reported is True


async def test_pulses_run_only_while_the_event_loop_does(factory: MockFactory) -> None:
    """Pass: "on" toggles the pin at the rate asked; while the event loop is held up (a hung potwatch) the pin
    does not move, so a charge-pump stage behind it lets the SSR go off; "off" stops the pulses, pin low."""
    url = parse_gpio_url(f"gpio://{PIN}?pulse=50")
    async with GpioRelay("hob", url, pin_factory=factory) as relay:
        pin = factory.pin(PIN)
        pin.clear_states()
        await relay.command(True, hold_s=60.0)
        await wait_until_async(lambda: len(pin.states) >= 10, 2.0, "ten pulses")
        assert relay.reported is True and relay.reported_from == "pulses"
        seen = len(pin.states)
        hung_until = time.monotonic() + 0.3
        while time.monotonic() < hung_until:  # the loop held, as a stalled potwatch's is
            pass
        assert len(pin.states) == seen
        await wait_until_async(lambda: len(pin.states) >= seen + 5, 2.0, "pulses again once the loop runs")
        await relay.command(False, hold_s=1.0)
        assert not relay.pulsing and relay.reported is False
        task = relay._pulser
        # no pulse can come from a task that has ended
        await wait_until_async(lambda: task is not None and task.done(), 2.0, "the pulse task to end")
        assert pin.state is False


async def test_pulses_that_fail_stop_the_heat_and_say_so(factory: MockFactory) -> None:
    """The pin failing under the pulses (a toggle raising) must not leave "on" reported: the heater goes
    unavailable with the reason, the report says off."""
    async with GpioRelay("hob", parse_gpio_url(f"gpio://{PIN}?pulse=50"), pin_factory=factory) as relay:
        await relay.command(True, hold_s=60.0)
        assert relay.reported is True
        device = relay._out

        def broken() -> None:
            raise OSError("the pin went away")

        device.toggle = broken
        await wait_until_async(lambda: not relay.available and relay.reported is False, 2.0, "the failure seen")
        assert "the pulses stopped" in (relay.unavailable_reason or "")
        assert await relay.command(True, hold_s=60.0) is False


async def test_closing_drives_the_pin_off_first(factory: MockFactory) -> None:
    async with GpioRelay("hob", parse_gpio_url(f"gpio://{PIN}"), pin_factory=factory) as relay:
        await relay.command(True, hold_s=60.0)
        assert factory.pin(PIN).state is True
    assert factory.pin(PIN).state is False


async def test_a_pin_that_cannot_be_had_makes_the_heater_unavailable_not_a_crash(factory: MockFactory) -> None:
    taken = OutputDevice(PIN, pin_factory=factory)
    try:
        async with GpioRelay("hob", parse_gpio_url(f"gpio://{PIN}"), pin_factory=factory) as relay:
            events = await drain(relay)
            assert isinstance(events[0], AvailabilityChange) and events[0].available is False
            assert relay.available is False and "GPIOPinInUse" in (relay.unavailable_reason or "")
            assert relay.link_up, "a pin has no link: its trouble is the relay's own (plug offline), not a link down"
            assert await relay.command(True, hold_s=60.0) is False
    finally:
        taken.close()


def test_open_heater_gives_the_gpio_driver_for_a_gpio_url() -> None:
    assert isinstance(open_heater("hob", "gpio://17?pulse=10"), GpioRelay)
