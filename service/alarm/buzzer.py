"""The buzzer channel: an active buzzer on one GPIO pin of the Pi, through gpiozero.

The pin is claimed when the channel is built, at start-up, not at the first
alarm: a Pi without GPIO, a pin another program holds or a missing gpio group
is then a notice in the start-up log and on /healthz while the cook can still
fix it, not a silence discovered at 225 °F; and holding the pin for the life
of the service keeps another program from taking it in the meantime.

The pattern is played by a task on the event loop (a pin write takes
microseconds, a few milliseconds of loop jitter is nothing to an ear), so
``silence`` is a task cancellation and a pin write: immediate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Collection, Iterator
from typing import Any

from service.alarm.beeps import BeepPattern, pattern_for
from service.alarm.channel import AlarmMessage, ChannelHealth, Delivery

log = logging.getLogger(__name__)


class BuzzerChannel:
    """The ``buzzer`` channel; see the module's docstring for why the pin is claimed at once.

    ``pin`` is a BCM number (GPIO17 is header pin 11). ``active_high=False`` is
    for the buzzer modules whose input sounds when pulled low.
    """

    kind = "buzzer"
    name = "buzzer"

    def __init__(self, pin: int, *, pin_factory: object | None = None, active_high: bool = True) -> None:
        self.health = ChannelHealth()
        self.pin = pin
        self._device, self._problem = _open_buzzer(pin, pin_factory, active_high)
        self._task: asyncio.Task[None] | None = None
        self._turn = asyncio.Lock()  # one change of pattern at a time: no pattern left running unowned
        self._sounding: BeepPattern | None = None
        self.health.notices = self.notices()

    def notices(self) -> list[str]:
        return [self._problem] if self._problem else []

    @property
    def sounding(self) -> str | None:
        """The name of the pattern sounding now; None when the buzzer is quiet."""
        if self._task is None or self._task.done() or self._sounding is None:
            return None
        return self._sounding.name

    async def deliver(self, message: AlarmMessage) -> Delivery:
        """Start the level's pattern and return at once; ``latency_s`` is the time to the first pulse."""
        start = time.monotonic()
        async with self._turn:
            return self._start(await self._replace(message), start)

    async def _replace(self, message: AlarmMessage) -> BeepPattern | None:
        """Stop what sounds unless it outranks ``message``'s pattern; the pattern to start, if any."""
        if self._device is None:
            return None
        pattern = pattern_for(message.level, escalated=message.escalated, test=message.test)
        current = self._sounding if self._task is not None and not self._task.done() else None
        if current is not None and _outranks(current, pattern):
            return None
        await self._stop()
        return pattern

    def _start(self, pattern: BeepPattern | None, start: float) -> Delivery:
        if self._device is None:
            return Delivery(self.name, ok=False, latency_s=0.0, error=self._problem or "no buzzer")
        if pattern is None:
            # a critical's rhythm already going on is not restarted by its repeat nor cut by a lesser beep
            return Delivery(self.name, ok=True, latency_s=time.monotonic() - start)
        steps = _steps(pattern)
        try:
            state, hold_s = next(steps)
            self._device.value = state
        except Exception as error:  # a pin write that fails is this delivery's error, never a crash
            return Delivery(self.name, ok=False, latency_s=time.monotonic() - start, error=_pin_error(self.pin, error))
        latency = time.monotonic() - start
        self._sounding = pattern
        self._task = asyncio.create_task(self._play(steps, hold_s), name=f"buzzer {pattern.name}")
        return Delivery(self.name, ok=True, latency_s=latency)

    async def silence(self, alert_ids: Collection[str] | None = None) -> None:
        async with self._turn:
            await self._stop()

    async def close(self) -> None:
        async with self._turn:
            await self._stop()
            device, self._device = self._device, None
            if device is not None:
                self._problem = f"buzzer_pin {self.pin}: closed (the service is stopping)"
                with contextlib.suppress(Exception):
                    device.close()

    async def _play(self, steps: Iterator[tuple[bool, float]], hold_s: float) -> None:
        device = self._device
        try:
            await asyncio.sleep(hold_s)
            for state, hold_s in steps:
                if device is not None:
                    device.value = state
                await asyncio.sleep(hold_s)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("%s", _pin_error(self.pin, error))
        finally:
            _quiet(device)

    async def _stop(self) -> None:
        task, self._task = self._task, None
        self._sounding = None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        _quiet(self._device)


def _steps(pattern: BeepPattern) -> Iterator[tuple[bool, float]]:
    """The pin's states in order, each with how long it holds; endless for a repeating pattern."""
    while True:
        for on_s, off_s in pattern.pulses:
            yield True, on_s
            if off_s > 0:
                yield False, off_s
        if not pattern.repeat:
            return


def _outranks(current: BeepPattern, new: BeepPattern) -> bool:
    """A repeating pattern keeps going unless the new one is a denser repeating one (escalation)."""
    return current.repeat and (not new.repeat or current.pulses_per_s >= new.pulses_per_s)


def _quiet(device: Any) -> None:
    if device is not None:
        with contextlib.suppress(Exception):
            device.off()


def _open_buzzer(pin: int, pin_factory: object | None, active_high: bool) -> tuple[Any, str | None]:
    """The gpiozero device, or the notice saying why there is none; gpiozero's own errors never escape."""
    try:
        from gpiozero import Buzzer  # type: ignore[import-untyped]
        from gpiozero.exc import BadPinFactory, GPIOPinInUse, PinFactoryFallback, PinInvalidPin  # type: ignore[import-untyped]
    except ImportError as error:  # pragma: no cover - gpiozero is a dependency
        return None, f"buzzer_pin {pin}: gpiozero is not installed ({error}): no buzzer"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            device = Buzzer(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except BadPinFactory as error:
            tried = [
                str(w.message).removeprefix("Falling back from ") for w in caught if w.category is PinFactoryFallback
            ]
            why = "; ".join(tried) or str(error)
            return None, f"buzzer_pin {pin}: no GPIO on this machine ({why}): no buzzer"
        except GPIOPinInUse as error:
            return None, f"buzzer_pin {pin}: the pin is already in use ({error}): no buzzer"
        except PinInvalidPin as error:
            return None, f"buzzer_pin {pin}: not a GPIO pin of this board ({error}): no buzzer"
        except Exception as error:
            return None, _pin_error(pin, error)
    for warning in caught:
        log.info("buzzer_pin %s: %s", pin, warning.message)
    return device, None


def _pin_error(pin: int, error: Exception) -> str:
    """A pin that cannot be opened or written, in words that say what to do."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, PermissionError) or "permission" in str(error).lower():
        return f"buzzer_pin {pin}: no permission to use the GPIO ({text}): add the service's user to the gpio group"
    if "busy" in str(error).lower():
        return f"buzzer_pin {pin}: the pin is in use by another program ({text}): no buzzer"
    return f"buzzer_pin {pin}: the GPIO failed ({text}): no buzzer"
