"""An emulated Tasmota plug: the relay's firmware semantics, and the MQTT device the simulated pot carries.

Two halves, so that Tasmota's rules live in one place:

* :class:`TasmotaRelay` is the firmware's behaviour and nothing else: the
  relay, ``PulseTime``, ``PowerOnState``, what each command does and what it
  answers. No I/O and no clock of its own: every call is given ``now``, in
  whatever seconds its owner counts. The test double of a plug
  (tests/support/plugs.py) runs it on the real clock and on paho's thread; the
  simulated pot on the pot's own (sped-up) clock.
* :class:`SimTasmotaPlug` is that relay on a real broker, through the
  project's MQTT link (drivers/mqtt_link.py): ``sim://?plug=mqtt://HOST:1883/<topic>``
  (docs/simulator.md). The simulated pot's heat follows its relay
  (:meth:`TasmotaRelay.on_at`), never what it reports.

Topics, for the Topic ``<t>`` and the default FullTopic ``%prefix%/%topic%/``,
as drivers/tasmota_plug.py reads them (Tasmota docs, "MQTT" and "Commands"):

* ``cmnd/<t>/POWER`` (or ``POWER1``): ``ON``/``1``, ``OFF``/``0``,
  ``TOGGLE``/``2``; empty: a query. Answered with ``stat/<t>/RESULT``
  ``{"POWER":"ON"}`` and ``stat/<t>/POWER`` ``ON``.
* ``cmnd/<t>/PulseTime`` (or ``PulseTime1``): ``0`` off, ``1..111`` tenths of
  a second, ``112..64900`` seconds plus 100; setting it starts the timer at
  once (``CmndPulsetime`` calls ``SetPulseTimer``). Answered with
  ``{"PulseTime1":{"Set":N,"Remaining":M}}``, ``Remaining`` in the same units.
* ``cmnd/<t>/PowerOnState``: ``0..5``; empty: a query; answered
  ``{"PowerOnState":N}``. ``4`` turns the relay on at once; ``5`` inverts the
  pulse (it runs while the relay is off and turns it ON when it ends, and an
  ON runs with no timer), as in Tasmota's ``ExecuteCommandPower``.
* ``tele/<t>/LWT``: ``Online``, retained, at every connection; ``Offline`` as
  the last will (and published before a clean stop).

Commands are matched case-insensitively, as Tasmota does. A payload Tasmota
could not read (``POWER MAYBE``, ``PulseTime soon``, bytes that are not
UTF-8) changes nothing and is counted in ``malformed``; it is answered with
the current state or setting, as the firmware answers an out-of-range
payload. A command the emulator does not know is counted in ``unknown`` and
answered ``{"Command":"Unknown"}``.

PulseTime is decoded here from Tasmota's documented units on their own, not
with the driver's ``pulsetime_seconds``, so a test of the driver against
this emulator checks one against the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from drivers.heater import HeaterUrl
from drivers.mqtt_link import LinkDown, LinkUp, Message, MqttLink, Will

log = logging.getLogger(__name__)

PULSE_TENTHS_MAX: Final = 111  # 11.1 s
PULSE_MAX: Final = 64900  # 64800 s: the documented top of PulseTime
POWER_ON_STATES: Final = range(6)
POWER_ALL_ALWAYS_ON: Final = 4
POWER_ALL_OFF_PULSETIME_ON: Final = 5
_WORDS: Final = {"ON": True, "1": True, "OFF": False, "0": False}
_TOGGLE: Final = ("TOGGLE", "2")


def tasmota_pulse_seconds(value: int) -> float:
    """Tasmota's documented PulseTime units: 0 off (inf), 1..111 tenths of a second, 112..64900 seconds + 100."""
    if value <= 0:
        return math.inf
    if value <= PULSE_TENTHS_MAX:
        return value * 0.1
    return float(min(value, PULSE_MAX) - 100)


def tasmota_pulse_units(seconds: float) -> int:
    """Seconds left of a pulse in PulseTime's units, as Tasmota's ``GetPulseTimer`` reports ``Remaining``."""
    if not math.isfinite(seconds) or seconds <= 0.0:
        return 0
    if seconds > PULSE_TENTHS_MAX / 10.0:
        return int(seconds) + 100
    return int(seconds * 10.0)


@dataclass(frozen=True, slots=True)
class StateReply:
    """Publish the relay's state: ``stat/<t>/RESULT`` ``{"POWER":…}`` and ``stat/<t>/POWER``."""


@dataclass(frozen=True, slots=True)
class ResultReply:
    """Publish ``data`` as JSON on ``stat/<t>/RESULT``."""

    data: dict[str, Any]


Reply = StateReply | ResultReply


class TasmotaRelay:
    """One Tasmota relay and its settings; every method takes ``now`` in its owner's seconds.

    ``deadline`` is when the running pulse ends (None: no pulse). Its owner
    calls :meth:`expire` when that time comes; :meth:`on_at` already tells
    the truth for any moment up to the next command, so a pot integrated a
    little late never gets heat past the pulse's end.
    """

    def __init__(self, *, power_on_state: int = 3) -> None:
        self.on = False
        self.pulsetime = 0
        self.power_on_state = power_on_state  # Tasmota's default: 3, the last saved state
        self.deadline: float | None = None
        self.malformed = 0
        self.unknown = 0

    # -- what the relay does

    def on_at(self, t: float) -> bool:
        """Whether current flows at ``t`` (not before the last command): the running pulse ends at its deadline."""
        if self.deadline is not None and t >= self.deadline:
            return self.power_on_state == POWER_ALL_OFF_PULSETIME_ON
        return self.on

    def power(self, on: bool, now: float) -> None:
        """Tasmota's ``ExecuteCommandPower``: set the relay; the pulse restarts while it is on (off, in mode 5)."""
        self.on = on
        inverted = self.power_on_state == POWER_ALL_OFF_PULSETIME_ON
        self._start_pulse(now if on != inverted else None)

    def pulse_end(self, now: float) -> None:
        """The pulse ran out: OFF (ON in mode 5), through ExecuteCommandPower as Tasmota does."""
        self.deadline = None
        self.power(self.power_on_state == POWER_ALL_OFF_PULSETIME_ON, now)

    def expire(self, now: float) -> bool:
        """End the pulse if its time has come; True when it did (the relay may have moved)."""
        if self.deadline is None or now < self.deadline:
            return False
        self.pulse_end(now)
        return True

    def _start_pulse(self, now: float | None) -> None:
        seconds = tasmota_pulse_seconds(self.pulsetime)
        self.deadline = now + seconds if now is not None and math.isfinite(seconds) else None

    # -- commands

    def command(self, name: str, payload: bytes, now: float) -> list[Reply]:
        """One ``cmnd/<t>/<name>`` message: its effect on the relay and what the plug answers."""
        self.expire(now)  # a pulse that ran out before this command is over first
        try:
            word = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            self.malformed += 1
            word = None
        key = name.upper()
        if key in ("POWER", "POWER1"):
            return self._power_command(word, now)
        if key in ("PULSETIME", "PULSETIME1"):
            return self._pulsetime_command(word, now)
        if key == "POWERONSTATE":
            return self._power_on_state_command(word, now)
        self.unknown += 1
        return [ResultReply({"Command": "Unknown"})]

    def _power_command(self, word: str | None, now: float) -> list[Reply]:
        if word is None or not word:
            return [StateReply()]  # a query (or unreadable: shown, as Tasmota shows an out-of-range one)
        upper = word.upper()
        if upper in _WORDS:
            self.power(_WORDS[upper], now)
        elif upper in _TOGGLE:
            self.power(not self.on, now)
        else:
            self.malformed += 1
        return [StateReply()]

    def _number(self, word: str | None, allowed: range) -> int | None:
        """The payload as a setting, or None: a query (empty), or counted as malformed."""
        if word is None or not word:
            return None
        try:
            value = int(word)
        except ValueError:
            self.malformed += 1
            return None
        if value not in allowed:
            self.malformed += 1
            return None
        return value

    def _pulsetime_command(self, word: str | None, now: float) -> list[Reply]:
        value = self._number(word, range(65536))
        if value is not None:
            self.pulsetime = value
            self._start_pulse(now)  # CmndPulsetime: SetPulseTimer(index, payload), whatever the relay
        remaining = (self.deadline - now) if self.deadline is not None else 0.0
        return [ResultReply({"PulseTime1": {"Set": self.pulsetime, "Remaining": tasmota_pulse_units(remaining)}})]

    def _power_on_state_command(self, word: str | None, now: float) -> list[Reply]:
        value = self._number(word, POWER_ON_STATES)
        replies: list[Reply] = []
        if value is not None:
            self.power_on_state = value
            if value == POWER_ALL_ALWAYS_ON:  # relays on at once
                self.power(True, now)
                replies.append(StateReply())
        return [ResultReply({"PowerOnState": self.power_on_state}), *replies]


# ---------------------------------------------------------------------------
# the device on a broker


class SimTime(Protocol):
    """The clock the plug keeps: the simulated pot's, so a pulse lasts the same pot time at any speed."""

    def sim_now(self) -> float:
        """Seconds on the pot's clock, never decreasing."""
        ...

    def real_seconds(self, sim_seconds: float) -> float:
        """How long to sleep (real time) for ``sim_seconds`` of the pot's clock to pass."""
        ...


def plug_client_id(topic: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in topic)[:32]
    return f"potwatch-simplug-{safe}-{secrets.token_hex(3)}"


class SimTasmotaPlug:
    """A :class:`TasmotaRelay` speaking Tasmota's topics on a real broker; ``async with`` it.

    It reconnects by itself (MqttLink), says ``Online`` (retained) at every
    connection, leaves ``Offline`` as its will, and obeys commands from
    anyone, retained ones included, as a real plug does. Its pulse runs on
    ``time`` (the pot's clock), on a task of its own: a broker that dies, or
    a potwatch that stops re-arming, does not stop it.
    """

    def __init__(self, url: HeaterUrl, time: SimTime) -> None:
        self.url = url
        self.topic = url.target
        self.relay = TasmotaRelay()
        self._time = time
        t = self.topic
        self.lwt_topic = f"tele/{t}/LWT"
        self.command_filter = f"cmnd/{t}/+"
        settings = replace(
            url.link,
            client_id=url.link.client_id or plug_client_id(t),
            will=Will(self.lwt_topic, b"Offline", qos=1, retain=True),
        )
        self._link = MqttLink(
            settings,
            subscriptions=[(self.command_filter, 1)],
            on_connect=self._online,
            name=f"simulated plug {t}",
        )
        self.commands = 0  # commands obeyed or answered
        self.errors = 0  # exceptions caught handling a message (a bug): the plug carries on
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def malformed(self) -> int:
        """Command payloads the plug could not read: counted, nothing changed."""
        return self.relay.malformed

    @property
    def connected(self) -> bool:
        return self._link.connected

    def wake(self) -> None:
        """Look at the pulse's deadline again (the pot's clock changed speed)."""
        self._changed.set()

    async def __aenter__(self) -> SimTasmotaPlug:
        self._link.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read(), name=f"simplug-{self.topic}-read"),
            loop.create_task(self._pulse(), name=f"simplug-{self.topic}-pulse"),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._link.connected:  # a clean stop sends no will: say it ourselves
            self._link.publish(self.lwt_topic, b"Offline", qos=1, retain=True)
            await self._link.acknowledged(1.0)
        await self._link.stop()

    # -- internals

    def _online(self) -> None:
        self._link.publish(self.lwt_topic, b"Online", qos=1, retain=True)

    async def _read(self) -> None:
        async for event in self._link:
            if isinstance(event, LinkUp | LinkDown):
                continue  # the link logs them; the relay does not care
            try:
                self._message(event)
            except Exception:  # a bug here must not end the plug
                self.errors += 1
                log.warning("simulated plug %s: error handling %r", self.topic, event, exc_info=True)

    def _message(self, msg: Message) -> None:
        prefix = f"cmnd/{self.topic}/"
        if not msg.topic.startswith(prefix):
            return
        now = self._time.sim_now()
        replies = self.relay.command(msg.topic[len(prefix) :], msg.payload, now)
        self.commands += 1
        for reply in replies:
            self._say(reply)
        self._changed.set()

    def _say(self, reply: Reply) -> None:
        t = self.topic
        if isinstance(reply, ResultReply):
            self._link.publish(f"stat/{t}/RESULT", json.dumps(reply.data, separators=(",", ":")))
            return
        word = "ON" if self.relay.on else "OFF"
        self._link.publish(f"stat/{t}/RESULT", json.dumps({"POWER": word}, separators=(",", ":")))
        self._link.publish(f"stat/{t}/POWER", word)

    async def _pulse(self) -> None:
        """End each pulse when the pot's clock reaches it, and say so, as the plug's own timer does."""
        while True:
            self._changed.clear()
            deadline = self.relay.deadline
            if deadline is None:
                await self._changed.wait()
                continue
            now = self._time.sim_now()
            if now < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self._time.real_seconds(deadline - now))
                continue
            if self.relay.expire(now):
                self._say(StateReply())
