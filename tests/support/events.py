"""A collector for a probe driver's events, for tests that wait on what a driver says.

Any driver (serial, 1-Wire, MQTT) is read the way the service reads it,
through ``events()``; the test waits for the event it expects, with a
timeout, and a driver that crashed meanwhile fails the test with its own
exception rather than with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType

from drivers.base import Probe, ProbeDown, ProbeEvent, ProbeNotice, Reading

Predicate = Callable[[ProbeEvent], bool]


# ---- what a test waits for


def is_reading(celsius: float | None = None, channel: str | None = None, live: bool | None = None) -> Predicate:
    """A reading, of ``celsius`` (to a millionth of a degree), on ``channel``, live or not, as far as given."""

    def match(event: ProbeEvent) -> bool:
        if not isinstance(event, Reading):
            return False
        if channel is not None and event.channel != channel:
            return False
        if live is not None and event.live is not live:
            return False
        return celsius is None or (event.celsius is not None and abs(event.celsius - celsius) < 1e-6)

    return match


def is_fault(channel: str | None = None) -> Predicate:
    """A reading that carries a fault (on ``channel``, if given) instead of a temperature."""

    def match(event: ProbeEvent) -> bool:
        return isinstance(event, Reading) and event.fault is not None and channel in (None, event.channel)

    return match


def is_notice(*fragments: str) -> Predicate:
    """A notice whose message holds every one of ``fragments``."""
    return lambda e: isinstance(e, ProbeNotice) and all(f in e.message for f in fragments)


def is_down(event: ProbeEvent) -> bool:
    return isinstance(event, ProbeDown)


# ---- the collector


class EventCollector:
    """Runs a probe's ``events()`` in a task and lets a test wait for the event it expects.

    ``timeout`` is the default wait: a driver behind a real broker needs longer
    than one reading a pty.
    """

    def __init__(self, probe: Probe, timeout: float = 3.0) -> None:
        self.probe = probe
        self.timeout = timeout
        self.events: list[ProbeEvent] = []
        self._new = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def _pump(self) -> None:
        async for event in self.probe.events():
            async with self._new:
                self.events.append(event)
                self._new.notify_all()

    async def wait_for(self, predicate: Predicate, timeout: float | None = None, after: int = 0) -> ProbeEvent:
        """The first event from index ``after`` on that matches, or fail listing what came."""
        timeout = self.timeout if timeout is None else timeout

        def found() -> ProbeEvent | None:
            return next((e for e in self.events[after:] if predicate(e)), None)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._new:
                await self._new.wait_for(lambda: found() is not None or self.done)
        event = found()
        if event is None:
            self.raise_if_crashed()
            raise AssertionError(f"no matching event within {timeout} s; got {self.events[after:]!r}")
        return event

    async def reading(self, predicate: Predicate, timeout: float | None = None, after: int = 0) -> Reading:
        """``wait_for`` a reading (the predicate says which)."""
        event = await self.wait_for(predicate, timeout, after)
        assert isinstance(event, Reading)
        return event

    def mark(self) -> int:
        """Where the events so far end: pass it as ``after`` to look only at what comes next."""
        return len(self.events)

    def count(self, predicate: Predicate, after: int = 0) -> int:
        return sum(1 for e in self.events[after:] if predicate(e))

    def readings(self, after: int = 0) -> list[Reading]:
        return [e for e in self.events[after:] if isinstance(e, Reading)]

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def raise_if_crashed(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            exc = self._task.exception()
            if exc is not None:
                raise exc

    async def __aenter__(self) -> EventCollector:
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.raise_if_crashed()
