"""What every MQTT smart plug driver shares: the link, availability, the last reported state, the events.

A plug's own module (``tasmota_plug``, ``shelly_plug``, ``z2m_plug``,
``esphome_plug``, ``homeassistant_plug``) says only which topics
to hear, what each payload means (``read``, or ``read_message`` to see the retain flag) and what to
publish for a command (``send``). Everything with a consequence for safety
is decided here, once:

* ``available`` is False the moment the link drops (``MqttLink.connected``
  changes in the same turn as the loss is seen, before any event is read),
  and while the device's own last will says offline; after a reconnect it
  stays False until the device's (retained) online message is heard again:
  an old "online" from before the outage proves nothing.
* ``reported`` changes only on a message from the device, and goes back to
  None (unknown) at every link-up and every time the device comes back
  online: the plugs' state topics are not retained, so a change made while
  we were away (the dead-man's switch firing, a button) would never be
  heard again. At each of those moments the plug's module asks the device
  (``ask``), and ``reported`` stays None until it answers.
* A plug's module can hold the plug unavailable for a reason of its own
  (``hold`` / ``release``): a setting that defeats the dead-man's switch
  (Tasmota ``PowerOnState 5``), a setting not read yet.
* A **retained** message on one of the plug's command topics (someone's
  automation published ``ON`` with ``retain: true``) is replayed to the
  plug every time *it* reconnects, turning the heat on behind potwatch's
  back. The driver listens to its command topics too; a retained message
  there is counted (``retained_commands``), logged once per topic, cleared
  (an empty retained publish) and the plug held unavailable until the
  clearing publish has come back through the broker.
* Commands go out at QoS 0 and only on a live link. paho queues QoS 1
  publishes made while disconnected and sends them after the reconnect:
  an "ON" meant for a minute ago must never reach the plug late. The
  controller re-commands at every tick anyway (that is what re-arms the
  dead-man's switch), so a lost command is made good by the next one.
* An OFF is never refused: whatever ``hold_s`` says, it is sent whenever
  the link is up (and returns False while the plug is unavailable, since
  nobody can tell whether it arrived). Only an ON checks its ``hold_s``.
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
ASK_AGAIN_S: Final = 2.0  # a question the device has not answered (lost at QoS 0) is asked again, at most this often


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
    except RecursionError:  # '[[[[…' nested deeper than the parser's stack: still garbage, not a crash
        return Garbage(f"JSON nested too deep: {payload[:40]!r}")
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
    # True for a device whose only sign of life is its answer (no retained will to read): asked also while not online
    asks_until_online = False

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
        self._holds: dict[str, str] = {}  # why the plug's module keeps it unavailable, by key
        self._asked_at: float | None = None  # when the device was last asked its state and settings
        self._empties_out: dict[str, int] = {}  # empty publishes to a command topic not heard back yet
        self._warned: set[str] = set()  # command topics already warned about
        self._was_available = False
        self._last_reason = ""
        self._dropped = 0
        self.commands_sent = 0
        self.events_lost = 0
        self.retained_commands = 0  # retained messages found (and cleared) on the plug's command topics
        self._events: asyncio.Queue[HeaterEvent] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    # -- to be given by the plug's module

    def setup(self) -> None:
        """Fill ``topics`` (and the plug's own counters) from ``target`` and ``client_id``; runs before the link."""
        raise NotImplementedError

    def state_topics(self) -> list[str]:
        """The topics the device speaks on (state, replies, its will)."""
        raise NotImplementedError

    def subscriptions(self) -> list[tuple[str, int]]:
        """The device's topics and the command topics (to find retained commands there), at QoS 1."""
        return [(topic, 1) for topic in [*self.state_topics(), *self.command_topics()]]

    def read(self, topic: str, payload: bytes) -> Meaning:
        raise NotImplementedError

    def read_message(self, message: Message) -> Meaning:
        """What a message means; ``read`` by default. A kind that tells a retained message from news overrides it."""
        return self.read(message.topic, message.payload)

    def command_topics(self) -> list[str]:
        """The topics the driver publishes commands to; also subscribed, to find retained ones."""
        raise NotImplementedError

    def send(self, on: bool, hold_s: float) -> bool:
        """Publish the command (through ``publish``); True when every part of it was handed to the link.

        ``hold_s`` is checked for an ON; for an OFF it means nothing (0.0).
        """
        raise NotImplementedError

    def fresh(self) -> None:
        """Forget what the device said of its settings (new link, device back); ``hold`` what must be read."""

    def ask(self) -> None:
        """Ask the device for its state and the settings ``fresh`` holds for (through ``publish``)."""

    def link_lost(self) -> None:
        """Forget what the lost connection's subscriptions said (a bridge's retained word: heard again)."""

    # -- the Actuator contract

    @property
    def reported(self) -> bool | None:
        return self._reported

    @property
    def reported_at(self) -> float | None:
        return self._reported_at

    @property
    def available(self) -> bool:
        return self._link.connected and self._online is True and not self._holds

    @property
    def link_up(self) -> bool:
        """The broker connection is up: the fact ``unavailable_reason``'s first words are about, for code."""
        return self._link.connected

    @property
    def unavailable_reason(self) -> str | None:
        """Why ``available`` is False, in words for people (code reads ``link_up``); None when it is True."""
        if not self._link.connected:
            return f"link to {self.url.server} down"
        if self._online is not True:
            return "waiting for the device to say it is online" if self._online is None else "the device is offline"
        return "; ".join(self._holds.values()) or None

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def device_online(self) -> bool | None:
        """What the device's own availability said on this connection; None: nothing yet."""
        return self._online

    async def command(self, on: bool, *, hold_s: float) -> bool:
        hold = check_hold(hold_s) if on else 0.0  # an OFF is never refused for its hold_s
        if not self._link.connected:
            return False  # never queued for later: see the module's docstring
        if not self.available:
            self._ask_again_if_due()
            if not on:
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
        sent = self._link.publish(topic, payload, qos=0, retain=False)
        if sent and not payload and topic in self.command_topics():
            self._empties_out[topic] = self._empties_out.get(topic, 0) + 1  # it comes back to us: not a clear
        return sent

    def hold(self, key: str, reason: str) -> None:
        """Keep the plug unavailable for ``reason`` until ``release(key)``."""
        self._holds[key] = reason

    def release(self, key: str) -> None:
        self._holds.pop(key, None)

    def forget_reported(self) -> None:
        """``reported`` is unknown until the device says it again."""
        self._reported, self._reported_at = None, None

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
            self.link_lost()
            self._availability(event.at, f"link to {self.url.server} down: {event.reason}")
            return
        if isinstance(event, LinkUp):
            self._start_over(event.at)
            self._availability(event.at, "connected; waiting for the device to say it is online")
            return
        if event.topic in self.command_topics():
            self._on_command_topic(event)
            return
        meaning = self.read_message(event)
        if isinstance(meaning, Garbage):
            self._dropped += 1
            log.debug("heater %s: dropped a payload on %s: %s", self.heater_id, event.topic, meaning.why)
        elif isinstance(meaning, Online):
            came_back = meaning.online and self._online is not True
            self._online = meaning.online
            if came_back:  # it may have rebooted: its relay and its settings are news again
                self._start_over(event.at)
            word = "online" if meaning.online else "offline"
            self._availability(event.at, f"the device says it is {word} ({event.topic})")
            return
        elif isinstance(meaning, Power):
            self._reported, self._reported_at = meaning.on, event.at
            self._put(StateReport(self.heater_id, meaning.on, event.at, event.topic, event.retain))
        self._availability(event.at)  # a setting read may have held or released the plug

    def _start_over(self, at: float) -> None:
        """A new connection, or the device back: what it said before is the past; ask it again."""
        self.forget_reported()
        self._empties_out.clear()
        for key in [k for k in self._holds if not k.startswith("retained:")]:
            del self._holds[key]
        self.fresh()
        self._ask(at)

    def _ask(self, at: float) -> None:
        self._asked_at = at
        self.ask()

    def _ask_again_if_due(self) -> None:
        """A question lost at QoS 0 would leave the plug unavailable for good: ask again, not too often."""
        if self._online is not True and not self.asks_until_online:
            return
        if self._reported is not None and not self._holds:
            return
        now = self._clock()
        if self._asked_at is None or now - self._asked_at >= ASK_AGAIN_S:
            self._ask(now)

    def _on_command_topic(self, event: Message) -> None:
        """Our own commands come back here, and so would anybody's retained one: see the module docstring."""
        topic, key = event.topic, f"retained:{event.topic}"
        if event.retain and event.payload:
            self.retained_commands += 1
            if topic not in self._warned:
                self._warned.add(topic)
                log.warning(
                    "heater %s: a retained command sits on %s (%r): every time the plug reconnects it would obey it; "
                    "clearing it. Publish commands to this topic without retain.",
                    self.heater_id,
                    topic,
                    event.payload[:40],
                )
            self.hold(key, f"a retained command on {topic} (being cleared): publish commands there without retain")
            if self._link.publish(topic, b"", qos=1, retain=True):
                self._empties_out[topic] = self._empties_out.get(topic, 0) + 1
            self._availability(event.at)
            return
        if not event.payload and not event.retain:
            left = max(0, self._empties_out.get(topic, 0) - 1)
            self._empties_out[topic] = left
            if left == 0 and key in self._holds:
                self.release(key)  # our clearing publish came back through the broker: the retained one is gone
                self._availability(event.at, f"the retained command on {topic} is cleared")

    def _availability(self, at: float, reason: str | None = None) -> None:
        """An AvailabilityChange when ``available`` changed, or when a hold gives a new reason for it being False."""
        now = self.available
        # unavailable because of a hold (or, for a device only its answer shows alive, while it has not answered)
        held = not now and self._link.connected and (self._online is True or self.asks_until_online)
        why = (self.unavailable_reason if held else reason) or self.unavailable_reason or ""
        if now != self._was_available or (held and why != self._last_reason):
            self._was_available, self._last_reason = now, why
            self._put(AvailabilityChange(self.heater_id, now, at, why))

    def _put(self, event: HeaterEvent) -> None:
        if self._events.qsize() >= MAX_EVENTS:
            self._events.get_nowait()
            self.events_lost += 1
        self._events.put_nowait(event)
