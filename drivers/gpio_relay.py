"""A relay or SSR on one of the Pi's GPIO pins, through gpiozero: ``gpio://17?active_high=false&sense=27&pulse=10``.

* ``gpio://<BCM pin>``: the pin that drives the relay (BCM numbering, as
  gpiozero's default: GPIO17 is ``gpio://17``);
* ``active_high=false`` for the common relay boards that switch on a low
  input (default ``true``: an SSR's input, a transistor);
* ``sense=<BCM pin>``: an input wired to what the relay switches (an
  auxiliary contact, an SSR's output through an optocoupler, a current
  sensor's logic output), read as the relay's real state; with
  ``sense_active_high=false`` for one that reads low when on;
* ``pulse=<Hz>``: the dead-man's switch. A pin held high stays high when the
  Pi hangs, so a steady pin has none. With ``pulse``, "on" is the pin
  toggling at that rate, for a charge-pump or retriggerable-monostable stage
  (a 74HC123, a "charge pump" relay board as CNC controllers use) that keeps
  the SSR on only while the pulses come: a hung Pi, a crashed potwatch or a
  stalled event loop stops them, and the heat goes off in the stage's own
  time (docs/heat-drivers.md).

What is reported: the sense pin when there is one (the relay itself); without
it the driving pin read back (steady) or whether the pulses run (pulse), which
is the Pi's side only: a welded relay is then not seen. It says so in
``reported_from``.

gpiozero calls back on its own thread; those calls only hand the change to
the event loop. A machine without GPIO (or a pin in use) makes the heater
unavailable with gpiozero's reason, never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from drivers.base import Clock
from drivers.heater import AvailabilityChange, HeaterEvent, HeaterUrlError, StateReport, url_options

log = logging.getLogger(__name__)

OPTIONS: Final = ("active_high", "sense", "sense_active_high", "pulse")
MAX_PIN: Final = 27  # the 40-pin header's BCM GPIOs are 0–27
PULSE_RANGE_HZ: Final = (1.0, 100.0)  # slower is no dead-man; faster is more than Python keeps in time
BOOLEANS: Final = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True, slots=True)
class GpioUrl:
    pin: int
    active_high: bool = True
    sense: int | None = None
    sense_active_high: bool = True
    pulse_hz: float | None = None
    text: str = ""

    @property
    def kind(self) -> str:
        return "gpio"

    @property
    def server(self) -> str:
        return "this Pi's GPIO"

    @property
    def target(self) -> str:
        return str(self.pin)


def parse_gpio_url(text: str) -> GpioUrl:
    """Split and check a ``gpio://`` heater URL; HeaterUrlError says what is wrong, with an example."""
    example = "e.g. gpio://17?active_high=false (GPIO17, a relay board that switches on low)"
    parts = urlsplit(text.strip())
    if parts.scheme.lower() != "gpio":
        raise HeaterUrlError(f"heater URL {text!r}: not a gpio:// URL; {example}")
    if parts.path not in ("", "/") or parts.fragment:
        raise HeaterUrlError(f"heater URL {text!r}: a GPIO relay is one pin: gpio://<BCM pin> and options; {example}")
    pin = _pin(text, "the pin", parts.netloc)
    query = url_options(text, parts.query, OPTIONS)
    sense = _pin(text, "sense=", query["sense"]) if "sense" in query else None
    if sense == pin:
        raise HeaterUrlError(f"heater URL {text!r}: sense= must be another pin than the one driving the relay")
    if "sense_active_high" in query and sense is None:
        raise HeaterUrlError(f"heater URL {text!r}: sense_active_high= needs sense=<pin>")
    pulse = None
    if "pulse" in query:
        try:
            pulse = float(query["pulse"])
        except ValueError:
            pulse = math.nan
        low, high = PULSE_RANGE_HZ
        if not low <= pulse <= high:
            raise HeaterUrlError(f"heater URL {text!r}: pulse={query['pulse']!r}: a rate in Hz, {low:g} to {high:g}")
    return GpioUrl(
        pin=pin,
        active_high=_boolean(text, "active_high", query.get("active_high", "true")),
        sense=sense,
        sense_active_high=_boolean(text, "sense_active_high", query.get("sense_active_high", "true")),
        pulse_hz=pulse,
        text=text.strip(),
    )


def _pin(text: str, what: str, value: str) -> int:
    if not value.isdigit() or int(value) > MAX_PIN:
        raise HeaterUrlError(f"heater URL {text!r}: {what} {value!r} is not a BCM GPIO number 0–{MAX_PIN}")
    return int(value)


def _boolean(text: str, key: str, value: str) -> bool:
    found = BOOLEANS.get(value.strip().lower())
    if found is None:
        raise HeaterUrlError(f"heater URL {text!r}: {key}={value!r}: say true or false")
    return found


class GpioRelay:
    """The ``Actuator`` for a relay on a pin: a command is a pin level (or pulses), a report a level read."""

    def __init__(
        self, heater_id: str, url: GpioUrl, *, clock: Clock = time.monotonic, pin_factory: object | None = None
    ) -> None:
        self.heater_id = heater_id
        self.url = url
        self.clock = clock
        self.pin_factory = pin_factory
        self.reported_from = "sense" if url.sense is not None else ("pulses" if url.pulse_hz else "pin")
        self.unavailable_reason: str | None = "not opened yet"
        self._out: Any = None
        self._sense: Any = None
        self._pulser: asyncio.Task[None] | None = None
        self._reported: bool | None = None
        self._events: asyncio.Queue[HeaterEvent] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the Actuator contract

    @property
    def reported(self) -> bool | None:
        return self._reported

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    @property
    def link_up(self) -> bool:
        """A pin has no link to lose: whatever makes it unavailable (not opened, a pin in use, the pulses
        stopped) is the relay's own, as a plug offline is, never a link down."""
        return True

    @property
    def dropped(self) -> int:
        return 0  # a pin has no payload to misread

    @property
    def pulsing(self) -> bool:
        """The pulses run (``pulse`` mode): a stopping task counts as stopped."""
        task = self._pulser
        return task is not None and not task.done() and not task.cancelling()

    async def command(self, on: bool, *, hold_s: float) -> bool:
        """``hold_s`` has no meaning on a pin: the pulses' stage holds its own time (none without ``pulse``).

        Every command is answered with a report, as a plug answers one: with a sense pin the
        relay as it reads now (its edges follow), so that a relay already in the commanded
        state confirms it, and one that does not move is judged.
        """
        if self._out is None or not self.available:
            return False
        if self.url.pulse_hz:
            self._pulse(on)
        else:
            self._out.value = on
        self._report(self._read())
        return True

    async def events(self) -> AsyncIterator[HeaterEvent]:
        while True:
            yield await self._events.get()

    async def __aenter__(self) -> GpioRelay:
        self._loop = asyncio.get_running_loop()
        problem = self._open()
        self.unavailable_reason = problem
        self._events.put_nowait(AvailabilityChange(self.heater_id, problem is None, self.clock(), problem or ""))
        if problem is None:
            self._report(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pulse(False)
        pulser = self._pulser
        if pulser is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pulser
        self._close()
        self.unavailable_reason = "closed"

    def _close(self) -> None:
        """Off, then the pins given back. gpiozero's close leaves the pin an input, floating (lgpio),
        or as it was (mock): the off comes first, and a pull-down on the SSR's input is still wise."""
        if self._out is not None:
            with contextlib.suppress(Exception):
                self._out.off()
        for device in (self._out, self._sense):
            if device is not None:
                with contextlib.suppress(Exception):
                    device.close()
        self._out = self._sense = None

    # -- internals

    def _open(self) -> str | None:
        """The pins, or why not: gpiozero's errors become the heater's unavailable reason."""
        try:
            from gpiozero import DigitalInputDevice, OutputDevice  # type: ignore[import-untyped]
        except ImportError as error:  # pragma: no cover - gpiozero is a dependency
            return f"gpiozero is not installed ({error})"
        url = self.url
        try:
            self._out = OutputDevice(
                url.pin, active_high=url.active_high, initial_value=False, pin_factory=self.pin_factory
            )
            if url.sense is not None:
                self._sense = DigitalInputDevice(
                    url.sense, pull_up=None, active_state=url.sense_active_high, pin_factory=self.pin_factory
                )
                self._sense.when_activated = lambda: self._from_thread(True)
                self._sense.when_deactivated = lambda: self._from_thread(False)
        except Exception as error:  # gpiozero's BadPinFactory, GPIOPinInUse, PinInvalidPin…
            self._close()  # nothing half-open: a drive pin without its sense pin is not driven
            log.warning("heater %s: the GPIO cannot be used: %s", self.heater_id, error)
            return f"GPIO: {type(error).__name__}: {error}"
        return None

    def _read(self) -> bool:
        if self._sense is not None:
            return bool(self._sense.value)
        if self.url.pulse_hz:
            return self.pulsing
        return bool(self._out.value)

    def _from_thread(self, on: bool) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._report, on)

    def _report(self, on: bool) -> None:
        self._reported = on
        pin = self.url.sense if self.url.sense is not None else self.url.pin
        self._events.put_nowait(StateReport(self.heater_id, on, self.clock(), f"GPIO{pin}"))

    def _pulse(self, on: bool) -> None:
        if on and not self.pulsing:
            task = asyncio.get_running_loop().create_task(self._pulses(), name=f"heater-{self.heater_id}-pulse")
            task.add_done_callback(self._pulses_ended)
            self._pulser = task
        elif not on and self.pulsing and self._pulser is not None:
            self._pulser.cancel()

    def _pulses_ended(self, task: asyncio.Task[None]) -> None:
        """Pulses that stop by themselves (the pin failed) stop the heat: say so, never "on" meanwhile."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.warning("heater %s: the pulses stopped: %s", self.heater_id, error)
            self.unavailable_reason = f"GPIO{self.url.pin}: the pulses stopped: {type(error).__name__}: {error}"
            self._events.put_nowait(AvailabilityChange(self.heater_id, False, self.clock(), self.unavailable_reason))
        if self._sense is None:
            self._report(False)

    async def _pulses(self) -> None:
        assert self.url.pulse_hz is not None
        half = 0.5 / self.url.pulse_hz
        try:
            while True:
                self._out.toggle()
                await asyncio.sleep(half)
        finally:
            if self._out is not None:
                self._out.off()
