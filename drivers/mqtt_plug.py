"""What every MQTT smart plug driver shares: the link, availability, the last reported state, the events.

A plug's own module (``tasmota_plug``, ``shelly_plug``) says only which topics
to hear, what each payload means (``read``: pure, no I/O) and what to
publish for a command (``send``). Everything with a consequence for safety
is decided here, once:

* ``available`` is False the moment the link drops (``MqttLink.connected``
  changes in the same turn as the loss is seen, before any event is read),
  and while the device's own last will says offline; after a reconnect it
  stays False until the device's (retained) online message is heard again:
  an old "online" from before the outage proves nothing.
* ``reported`` changes only on a message from the device. It is kept across
  an outage (it is still the last thing the device said), which is why a
  controller must look at ``available`` first.
* Commands go out at QoS 0 and only on a live link. paho queues QoS 1
  publishes made while disconnected and sends them after the reconnect:
  an "ON" meant for a minute ago must never reach the plug late. The
  controller re-commands at every tick anyway (that is what re-arms the
  dead-man's switch), so a lost command is made good by the next one.
* A payload that cannot be read is counted in ``dropped`` and logged at
  debug, never raised: a plug flashed with odd firmware must not stop the
  heat from being switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, Final

from drivers.base import Clock
from drivers.heater import AvailabilityChange, HeaterEvent, HeaterUrl, StateReport
from drivers.mqtt_link import LinkDown, LinkSettings, LinkUp, Message, MqttLink

log = logging.getLogger(__name__)

MAX_EVENTS: Final = 1000  # events nobody read yet; beyond it the oldest go (counted in events_lost)
MAX_HOLD_S: Final = 64800.0  # Tasmota's longest PulseTime (64900 - 100 s); far beyond any cook's tick


# What a payload means, as the plug's module reads it.


@dataclass(frozen=True, slots=True)
class Power:
    """The device reported its relay state."""

    on: bool


@dataclass(frozen=True, slots=True)
class Online:
    """The device's availability topic (its last will) said online or offline."""

    online: bool


@dataclass(frozen=True, slots=True)
class Ignore:
    """A well-formed message that says nothing about the relay (another command's reply, telemetry)."""


@dataclass(frozen=True, slots=True)
class Garbage:
    """A message on a plug topic that cannot be read: counted and dropped."""

    why: str


Meaning = Power | Online | Ignore | Garbage


def json_object(payload: bytes) -> dict[str, Any] | Garbage:
    """A payload that must be a JSON object, or why it is not one."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return Garbage(f"not JSON: {payload[:40]!r}")
    if not isinstance(data, dict):
        return Garbage(f"not a JSON object: {payload[:40]!r}")
    return data


def check_hold(hold_s: float) -> float:
    """The dead-man's period, checked: a bad one is a bug in the caller, not a device problem."""
    if not isinstance(hold_s, int | float) or isinstance(hold_s, bool) or not math.isfinite(hold_s):
        raise ValueError(f"hold_s must be a finite number of seconds, not {hold_s!r}")
    if not 0.1 <= hold_s <= MAX_HOLD_S:
        raise ValueError(f"hold_s must be between 0.1 s and {MAX_HOLD_S:g} s, not {hold_s:g}")
    return float(hold_s)


def client_id_for(heater_id: str) -> str:
    """A client id that is also a valid single topic level (Shelly replies to ``<src>/rpc``)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", heater_id)[:32] or "heater"
    return f"potwatch-heater-{safe}-{secrets.token_hex(3)}"


class MqttPlug:
    """The shared half of an MQTT plug driver; subclasses give ``subscriptions``, ``read`` and ``send``."""

    kind = "mqtt"

    def __init__(
        self, heater_id: str, url: HeaterUrl, *, clock: Clock = time.monotonic, link: LinkSettings | None = None
    ) -> None:
        self.heater_id = heater_id
        self.url = url
        self.target = url.target
        self._clock = clock
        settings = link or url.link
        if not settings.client_id:
            settings = replace(settings, client_id=client_id_for(heater_id))
        self.client_id = settings.client_id
        self.topics: dict[str, str] = {}
        self.setup()
        self._link = MqttLink(
            settings, subscriptions=self.subscriptions(), clock=clock, name=f"heater {heater_id}", quiet=True
        )
        self._online: bool | None = None  # the device's own word, since the current connection
        self._reported: bool | None = None
        self._reported_at: float | None = None
        self._was_available = False
        self._dropped = 0
        self.commands_sent = 0
        self.events_lost = 0
        self._events: asyncio.Queue[HeaterEvent] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    # -- to be given by the plug's module

    def setup(self) -> None:
        """Fill ``topics`` (and the plug's own counters) from ``target`` and ``client_id``; runs before the link."""
        raise NotImplementedError

    def subscriptions(self) -> list[tuple[str, int]]:
        raise NotImplementedError

    def read(self, topic: str, payload: bytes) -> Meaning:
        raise NotImplementedError

    def send(self, on: bool, hold_s: float) -> bool:
        """Publish the command (through ``publish``); True when every part of it was handed to the link."""
        raise NotImplementedError

    # -- the Actuator contract

    @property
    def reported(self) -> bool | None:
        return self._reported

    @property
    def reported_at(self) -> float | None:
        return self._reported_at

    @property
    def available(self) -> bool:
        return self._link.connected and self._online is True

    @property
    def dropped(self) -> int:
        return self._dropped

    async def command(self, on: bool, *, hold_s: float) -> bool:
        hold = check_hold(hold_s)
        if not self._link.connected:
            return False  # never queued for later: see the module's docstring
        if not self.available:
            if on:
                return False
            self.send(False, hold)  # off can only make the kitchen safer: try it, but it is not "done"
            return False
        sent = self.send(on, hold)
        if sent:
            self.commands_sent += 1
        return sent

    async def events(self) -> AsyncIterator[HeaterEvent]:
        while True:
            yield await self._events.get()

    async def __aenter__(self) -> MqttPlug:
        self._link.start()
        self._pump = asyncio.get_running_loop().create_task(self._run(), name=f"heater-{self.heater_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        pump = self._pump
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        await self._link.stop()

    # -- for the plug's module

    def publish(self, topic: str, payload: str | bytes) -> bool:
        return self._link.publish(topic, payload, qos=0, retain=False)

    # -- internals

    async def _run(self) -> None:
        async for event in self._link:
            try:
                self._handle(event)
            except Exception:  # a bug here must not end the plug's only reader
                self._dropped += 1
                log.warning("heater %s: error handling %r", self.heater_id, event, exc_info=True)

    def _handle(self, event: LinkUp | LinkDown | Message) -> None:
        if isinstance(event, LinkDown):
            self._online = None  # whatever the device said belongs to the connection that ended
            self._availability(event.at, f"link to {self.url.server} down: {event.reason}")
            return
        if isinstance(event, LinkUp):
            self._availability(event.at, "connected; waiting for the device to say it is online")
            return
        meaning = self.read(event.topic, event.payload)
        if isinstance(meaning, Garbage):
            self._dropped += 1
            log.debug("heater %s: dropped a payload on %s: %s", self.heater_id, event.topic, meaning.why)
        elif isinstance(meaning, Online):
            self._online = meaning.online
            word = "online" if meaning.online else "offline"
            self._availability(event.at, f"the device says it is {word} ({event.topic})")
        elif isinstance(meaning, Power):
            self._reported, self._reported_at = meaning.on, event.at
            self._put(StateReport(self.heater_id, meaning.on, event.at, event.topic, event.retain))

    def _availability(self, at: float, reason: str) -> None:
        now = self.available
        if now != self._was_available:
            self._was_available = now
            self._put(AvailabilityChange(self.heater_id, now, at, reason))

    def _put(self, event: HeaterEvent) -> None:
        if self._events.qsize() >= MAX_EVENTS:
            self._events.get_nowait()
            self.events_lost += 1
        self._events.put_nowait(event)
