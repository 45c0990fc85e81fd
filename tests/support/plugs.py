"""Test doubles of smart plugs: Tasmota, Shelly Gen2, Zigbee2MQTT and ESPHome, each a real MQTT client.

Each double connects to the real Mosquitto of the test (tests/support/broker.py)
on paho's own network thread, with its last will set, and speaks the topics
and payloads of the real firmware (see drivers/tasmota_plug.py,
drivers/shelly_plug.py, drivers/z2m_plug.py and drivers/esphome_plug.py for
where they are documented). Its dead-man's switch (Tasmota ``PulseTime``,
Shelly ``toggle_after``, Zigbee ``on_time``, the ESPHome YAML's script) runs on a thread of its own
and the double's own clock, as the plug's does: a dead broker or a dead
potwatch does not stop it.

The Tasmota double's firmware semantics are drivers/sim_plug.py's
``TasmotaRelay`` (the simulated pot's own plug runs the same), which decodes
``PulseTime`` from Tasmota's documented units on its own, not with the
driver's ``pulsetime_for``, so a test of the two together checks one
against the other.

Switches to misbehave, each a real failure of a real plug:

* ``ignore_commands``: the relay does not move and nothing answers (a stuck
  relay, firmware busy, a command lost on Wi-Fi);
* ``lie``: the plug reports the opposite of what its relay does (welded
  contacts behind a healthy radio);
* ``go_offline()`` / ``come_back()``: the plug drops off the network without a
  goodbye: the broker publishes its will (``Offline`` / ``false``);
* ``send_garbage()``: unreadable payloads on every state topic.

Settings, with the firmware's semantics:

* Tasmota ``power_on_state`` (``PowerOnState``, default 3 as Tasmota's):
  with 5 the pulse timer runs while the relay is *off* and turns it ON when
  it ends, and an ON runs with no timer (Tasmota's ``ExecuteCommandPower``
  and the pulse timer's end, ``POWER_ALL_OFF_PULSETIME_ON``). As in
  ``CmndPulsetime``, setting ``PulseTime`` starts the timer with the new value.
  A payload the firmware cannot read changes nothing, is counted in the
  relay's ``malformed`` and answered with the current state or setting.
* Shelly ``config`` (``Switch.GetConfig``: ``initial_state``, ``auto_on``, …).
* Zigbee2MQTT ``honours_on_time`` (True): False is a plug whose firmware
  ignores On With Timed Off and stays on; ``legacy`` availability payloads
  (plain ``online`` / ``offline``). The double plays Zigbee2MQTT and the
  device at once: ``bridge/state`` is published online at connect, and its
  will is the *device's* availability (the device vanished, Zigbee2MQTT lives).
* ESPHome ``own_period_s`` (60 s): the YAML's script period; None is a node
  flashed without it (no dead-man's switch at all).

``relay_on`` is the truth (what the heat actually does) and ``switches`` every
change of it with the double's clock time; ``on_switch`` callbacks hear every
change as it happens (on the double's threads), for a rig that follows the
relay itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from drivers.sim_plug import Reply, ResultReply, StateReply, TasmotaRelay
from tests.support.net import drop_without_goodbye

if TYPE_CHECKING:  # not imported here: a test module loads tests.support.broker as a plugin, rewritten first
    from tests.support.broker import Broker

TICK_S = 0.01  # how often the double's own timer looks at its deadline


class PlugDouble:
    """The plumbing both doubles share: the MQTT client, the will, the relay, the timer, the switches."""

    def __init__(self, broker: Broker, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.broker = broker
        self.clock = clock
        self.relay_on = False
        self.switches: list[tuple[float, bool]] = []  # (clock time, relay on) at every change
        self.on_switch: list[Callable[[bool], None]] = []  # called with the relay's new state at every change
        self.commands: list[tuple[float, str, bytes]] = []  # every command heard, even ignored ones
        self.ignore_commands = False
        self.lie = False
        self.vanished_at: float | None = None
        self._deadline: float | None = None  # when the dead-man's timer acts
        self._lock = threading.RLock()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._run_timer, name=f"{type(self).__name__}-timer", daemon=True)
        self.client = self._make_client()

    # -- to be given by the double

    @property
    def will(self) -> tuple[str, bytes]:
        raise NotImplementedError

    @property
    def online_payload(self) -> bytes:
        raise NotImplementedError

    def command_topics(self) -> list[str]:
        raise NotImplementedError

    def on_command(self, topic: str, payload: bytes) -> None:
        raise NotImplementedError

    def on_timer(self) -> None:
        """The dead-man's timer ran out (called under the lock)."""
        raise NotImplementedError

    def report(self, source: str) -> None:
        """Publish the relay's state on the plug's state topics (under the lock)."""
        raise NotImplementedError

    def send_garbage(self) -> int:
        """Publish unreadable payloads on each of the plug's state topics; returns how many."""
        raise NotImplementedError

    def set_own_period(self, hold_s: float) -> None:
        """A plug whose dead-man's period is its own setting, not the command's (ESPHome's YAML), gets it here.

        The others take the period from each ON, and ignore this.
        """

    # -- life

    def __enter__(self) -> PlugDouble:
        self.connect()
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._timer.join(2)
        with contextlib.suppress(Exception):
            self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.loop_stop()

    def _make_client(self) -> paho.Client:
        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"plug-{uuid.uuid4().hex[:8]}")
        topic, payload = self.will
        client.will_set(topic, payload, qos=1, retain=True)
        client.reconnect_delay_set(1, 2)  # back soon after a broker restart, as a plug on the LAN is
        client.on_connect = self._on_connect
        client.on_disconnect = lambda c, u, f, rc, p: self._connected.clear()
        client.on_message = self._on_message
        return client

    def connect(self, timeout: float = 5.0) -> None:
        self.client.connect(self.broker.host, self.broker.port, keepalive=5)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise RuntimeError("the plug double could not connect to the broker")

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def go_offline(self) -> None:
        """Vanish from the network without DISCONNECT, as a plug losing Wi-Fi: the broker sends the will.

        The relay and its timer carry on, as the plug's do. ``vanished_at``
        (time.monotonic) is the moment the connection was cut: paho's thread
        takes up to a second to stop before that.
        """
        drop_without_goodbye(self.client)
        self.vanished_at = time.monotonic()
        self._connected.clear()

    def come_back(self) -> None:
        self.client = self._make_client()
        self.connect()

    # -- what a test does to it

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    def switched_off_at(self) -> float | None:
        """The clock time of the relay's last change to off, or None."""
        with self._lock:
            offs = [at for at, on in self.switches if not on]
            return offs[-1] if offs else None

    @property
    def shown_on(self) -> bool:
        """What the plug says about its relay (the truth, unless it lies)."""
        return self.relay_on != self.lie

    # -- internals

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        if rc.is_failure:
            return
        client.subscribe([(topic, 1) for topic in self.command_topics()])
        client.publish(self.will[0], self.online_payload, qos=1, retain=True)
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        payload = bytes(message.payload)
        with self._lock:
            self.commands.append((self.clock(), message.topic, payload))
            if self.ignore_commands:
                return
            self.on_command(message.topic, payload)

    def set_relay(self, on: bool, source: str, hold_s: float | None = None) -> None:
        """Move the relay (under the lock), start or stop the timer, and say so."""
        if on != self.relay_on:
            self.relay_on = on
            self.switched(on)
        self._deadline = self.clock() + hold_s if hold_s is not None and math.isfinite(hold_s) else None
        self.report(source)

    def switched(self, on: bool) -> None:
        """The relay moved to ``on`` (under the lock): record it and tell the listeners."""
        self.switches.append((self.clock(), on))
        for listener in self.on_switch:
            listener(on)

    def _run_timer(self) -> None:
        while not self._stop.wait(TICK_S):
            with self._lock:
                if self._deadline is not None and self.clock() >= self._deadline:
                    self._deadline = None
                    self.on_timer()


# ---------------------------------------------------------------------------
# Tasmota


class TasmotaDouble(PlugDouble):
    """A Tasmota plug with Topic ``topic`` and the default FullTopic ``%prefix%/%topic%/``.

    The firmware's semantics (POWER, PulseTime, PowerOnState and their answers) are
    drivers/sim_plug.py's ``TasmotaRelay``, the one the simulated pot's own plug runs, on
    this double's clock; the double adds its misbehaviours and its thread.
    """

    def __init__(self, broker: Broker, topic: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self.relay = TasmotaRelay()  # before the base's __init__: relay_on and _deadline live in it
        super().__init__(broker, clock=clock)

    # the relay's state, under the names the base and the tests use
    @property
    def relay_on(self) -> bool:
        return self.relay.on

    @relay_on.setter
    def relay_on(self, on: bool) -> None:
        self.relay.on = on

    @property
    def _deadline(self) -> float | None:
        return self.relay.deadline

    @_deadline.setter
    def _deadline(self, deadline: float | None) -> None:
        self.relay.deadline = deadline

    @property
    def will(self) -> tuple[str, bytes]:
        return (f"tele/{self.topic}/LWT", b"Offline")

    @property
    def online_payload(self) -> bytes:
        return b"Online"

    def command_topics(self) -> list[str]:
        return [f"cmnd/{self.topic}/POWER", f"cmnd/{self.topic}/PulseTime", f"cmnd/{self.topic}/PowerOnState"]

    def on_command(self, topic: str, payload: bytes) -> None:
        before = self.relay.on
        replies = self.relay.command(topic.rsplit("/", 1)[-1], payload, self.clock())
        self._answer(before, replies, "command")

    def on_timer(self) -> None:
        before = self.relay.on
        self.relay.pulse_end(self.clock())  # the pulse ends: OFF, or ON in mode 5
        self._answer(before, [StateReply()], "pulsetime")

    def _answer(self, before: bool, replies: list[Reply], source: str) -> None:
        """Record a move of the relay, then publish what the firmware answers (under the lock)."""
        if self.relay.on != before:
            self.switched(self.relay.on)
        for reply in replies:
            if isinstance(reply, ResultReply):
                self.publish(f"stat/{self.topic}/RESULT", json.dumps(reply.data))
            else:
                self.report(source)

    def report(self, source: str) -> None:
        word = "ON" if self.shown_on else "OFF"
        self.publish(f"stat/{self.topic}/RESULT", json.dumps({"POWER": word}))
        self.publish(f"stat/{self.topic}/POWER", word)

    def telemetry(self) -> None:
        """What Tasmota publishes every TelePeriod."""
        state = {"Time": "2026-12-02T06:00:00", "Uptime": "0T00:10:11", "POWER": "ON" if self.shown_on else "OFF"}
        self.publish(f"tele/{self.topic}/STATE", json.dumps(state))

    def send_garbage(self) -> int:
        """Unreadable payloads on each state topic; returns how many."""
        t = self.topic
        bad = [
            (f"stat/{t}/POWER", b"MAYBE"),
            (f"stat/{t}/RESULT", b'{"POWER":'),
            (f"stat/{t}/RESULT", b'{"POWER": 3}'),
            (f"tele/{t}/STATE", b"[1, 2, 3]"),
            (f"tele/{t}/STATE", b"\xff\xfe\x00"),
            (f"stat/{t}/RESULT", b"[" * 100_000),  # deeper than the JSON parser's stack
            (f"tele/{t}/LWT", b"Sideways"),
        ]
        for topic, payload in bad:
            self.publish(topic, payload)
        return len(bad)


# ---------------------------------------------------------------------------
# Shelly Gen2


class ShellyDouble(PlugDouble):
    """A Shelly Gen2 plug with MQTT topic prefix ``device_id``, RPC and status notifications on."""

    def __init__(self, broker: Broker, device_id: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.device_id = device_id
        self.errors_sent = 0
        self.config: dict[str, Any] = {
            "id": 0,
            "name": None,
            "in_mode": "follow",
            "initial_state": "off",
            "auto_on": False,
            "auto_on_delay": 60.0,
            "auto_off": False,
            "auto_off_delay": 60.0,
        }
        super().__init__(broker, clock=clock)

    @property
    def will(self) -> tuple[str, bytes]:
        return (f"{self.device_id}/online", b"false")

    @property
    def online_payload(self) -> bytes:
        return b"true"

    def command_topics(self) -> list[str]:
        return [f"{self.device_id}/rpc"]

    def on_command(self, topic: str, payload: bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return  # a frame it cannot parse gets no answer: there is nobody to send it to
        if not isinstance(frame, dict) or not isinstance(frame.get("src"), str):
            return
        src, request_id, method = frame["src"], frame.get("id"), frame.get("method")
        given = frame.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        if method == "Switch.Set" and params.get("id", 0) == 0 and isinstance(params.get("on"), bool):
            was_on = self.relay_on
            after = params.get("toggle_after")
            hold = float(after) if isinstance(after, int | float) and after > 0 else None
            self.set_relay(params["on"], "MQTT", hold)
            self._answer(src, {"id": request_id, "src": self.device_id, "dst": src, "result": {"was_on": was_on}})
        elif method == "Switch.GetStatus":
            self._answer(src, {"id": request_id, "src": self.device_id, "dst": src, "result": self._status("MQTT")})
        elif method == "Switch.GetConfig":
            self._answer(src, {"id": request_id, "src": self.device_id, "dst": src, "result": dict(self.config)})
        else:
            self.errors_sent += 1
            error = {"code": 404 if method != "Switch.Set" else -103, "message": f"cannot do {method!r} {params!r}"}
            self._answer(src, {"id": request_id, "src": self.device_id, "dst": src, "error": error})

    def _answer(self, src: str, frame: dict[str, Any]) -> None:
        self.publish(f"{src}/rpc", json.dumps(frame))

    def on_timer(self) -> None:
        self.set_relay(not self.relay_on, "timer")  # toggle_after flips back, whichever way it was set

    def _status(self, source: str) -> dict[str, Any]:
        return {"id": 0, "source": source, "output": self.shown_on, "apower": 0.0, "voltage": 230.1}

    def report(self, source: str) -> None:
        self.publish(f"{self.device_id}/status/switch:0", json.dumps(self._status(source)))

    def send_garbage(self) -> int:
        d = self.device_id
        bad = [
            (f"{d}/status/switch:0", b"nope"),
            (f"{d}/status/switch:0", b'{"id":0,"output":"yes"}'),
            (f"{d}/status/switch:0", b"[true]"),
            (f"{d}/status/switch:0", b"[" * 100_000),  # deeper than the JSON parser's stack
            (f"{d}/online", b"maybe"),
        ]
        for topic, payload in bad:
            self.publish(topic, payload)
        return len(bad)


# ---------------------------------------------------------------------------
# Zigbee2MQTT


class Z2mDouble(PlugDouble):
    """A Zigbee switch behind Zigbee2MQTT, friendly name ``name`` under the base topic ``base``."""

    def __init__(
        self,
        broker: Broker,
        name: str,
        *,
        base: str = "zigbee2mqtt",
        legacy: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.base, self.legacy = name, base, legacy
        self.honours_on_time = True
        self.publish_bridge = True  # False: a Zigbee2MQTT that never said it is online
        self.reports_attribute = True  # False: the device never reports OnOff (only Zigbee2MQTT's own echo)
        self.malformed = 0  # set payloads Zigbee2MQTT would refuse (it logs them; nothing is published)
        super().__init__(broker, clock=clock)

    @property
    def topic(self) -> str:
        return f"{self.base}/{self.name}"

    def _word(self, online: bool) -> bytes:
        word = "online" if online else "offline"
        return word.encode() if self.legacy else json.dumps({"state": word}).encode()

    @property
    def will(self) -> tuple[str, bytes]:
        return (f"{self.topic}/availability", self._word(False))

    @property
    def online_payload(self) -> bytes:
        return self._word(True)

    def command_topics(self) -> list[str]:
        return [f"{self.topic}/set", f"{self.topic}/get"]

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        if not rc.is_failure and self.publish_bridge:
            client.publish(f"{self.base}/bridge/state", self._word(True), qos=1, retain=True)
        super()._on_connect(client, userdata, flags, rc, props)

    def bridge(self, online: bool) -> None:
        """Zigbee2MQTT itself goes (its will) or comes back: ``bridge/state``, retained."""
        self.client.publish(f"{self.base}/bridge/state", self._word(online), qos=1, retain=True)

    def on_command(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a retained command being cleared
        try:
            data = json.loads(payload)
        except ValueError:
            self.malformed += 1
            return
        if not isinstance(data, dict):
            self.malformed += 1
            return
        if topic.endswith("/get"):
            if "state" in data:
                self.report("get")
            return
        state = data.get("state")
        if not isinstance(state, str) or state.upper() not in ("ON", "OFF", "TOGGLE"):
            self.malformed += 1
            return
        on = not self.relay_on if state.upper() == "TOGGLE" else state.upper() == "ON"
        on_time = data.get("on_time")
        timed = on and "on_time" in data  # Zigbee2MQTT sends On With Timed Off for it
        runs = timed and self.honours_on_time and isinstance(on_time, int | float) and on_time > 0
        if on != self.relay_on:
            self.relay_on = on
            self.switched(on)
        self._deadline = self.clock() + float(on_time) if runs and isinstance(on_time, int | float) else None
        if self.reports_attribute or not timed:  # a plain ON/OFF: Zigbee2MQTT echoes the state once acked
            self.report("set")

    def on_timer(self) -> None:
        self.relay_on = False  # On With Timed Off: the OnTime ran out
        self.switched(False)
        if self.reports_attribute:
            self.report("on_time")

    def report(self, source: str) -> None:
        state = {"state": "ON" if self.shown_on else "OFF", "linkquality": 116, "power": 0.0}
        self.publish(self.topic, json.dumps(state))

    def send_garbage(self) -> int:
        t = self.topic
        bad = [
            (t, b"nope"),
            (t, b'{"state":"MAYBE","linkquality":90}'),
            (t, b'{"state":1}'),
            (t, b"[" * 100_000),  # deeper than the JSON parser's stack
            (f"{t}/availability", b"sideways"),
            (f"{t}/availability", b'{"state":"dozing"}'),
            (f"{self.base}/bridge/state", b"[]"),
        ]
        for topic, payload in bad:
            self.publish(topic, payload)
        return len(bad)


# ---------------------------------------------------------------------------
# ESPHome


class EsphomeDouble(PlugDouble):
    """An ESPHome node with topic prefix ``node`` and a switch ``switch_id``, with the dead-man YAML of the docs.

    The YAML (docs/heat-drivers.md): every ``ON`` on the command topic, and
    the switch turning on, restarts a script that turns it off after
    ``own_period_s``; turning off stops it. The state topic is retained and
    published again at every connect, as ESPHome's MQTT component does.
    """

    def __init__(
        self, broker: Broker, node: str, switch_id: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.node, self.switch_id = node, switch_id
        self.own_period_s: float | None = 60.0
        super().__init__(broker, clock=clock)

    @property
    def will(self) -> tuple[str, bytes]:
        return (f"{self.node}/status", b"offline")

    @property
    def online_payload(self) -> bytes:
        return b"online"

    def command_topics(self) -> list[str]:
        return [f"{self.node}/switch/{self.switch_id}/command"]

    def set_own_period(self, hold_s: float) -> None:
        self.own_period_s = hold_s

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        super()._on_connect(client, userdata, flags, rc, props)
        if not rc.is_failure:
            with self._lock:
                self.report("connect")  # after the birth message, as ESPHome sends its states

    def on_command(self, topic: str, payload: bytes) -> None:
        word = payload.decode("utf-8", "replace").strip().upper()
        if word not in ("ON", "OFF", "TOGGLE"):
            return  # ESPHome logs "Unknown state payload" and does nothing
        on = not self.relay_on if word == "TOGGLE" else word == "ON"
        self.set_relay(on, "command", self.own_period_s if on else None)

    def on_timer(self) -> None:
        self.set_relay(False, "script")

    def report(self, source: str) -> None:
        self.publish(f"{self.node}/switch/{self.switch_id}/state", "ON" if self.shown_on else "OFF", retain=True)

    def send_garbage(self) -> int:
        bad = [
            (f"{self.node}/switch/{self.switch_id}/state", b"MAYBE"),
            (f"{self.node}/switch/{self.switch_id}/state", b"\xff\xfe"),
            (f"{self.node}/switch/{self.switch_id}/state", b"on"),
            (f"{self.node}/status", b"sideways"),
        ]
        for topic, payload in bad:
            self.publish(topic, payload)
        return len(bad)


# ---------------------------------------------------------------------------
# Home Assistant, with the bridge automations of docs/heat-drivers.md


# The documented command automation's delay (docs/heat-drivers.md); the double reads ``hold_s`` as
# Home Assistant renders this, and tests/drivers/test_heater_plug_kinds.py checks the docs still say it.
DELAY_TEMPLATE = "{{ trigger.payload_json.hold_s | float(60) }}"
DELAY_DEFAULT_S = 60.0  # the template's float(60)


def automation_delay(command: dict[str, Any]) -> float | None:
    """The seconds the command automation's ``delay`` waits after an ON's ``turn_on``, as Home Assistant
    renders ``DELAY_TEMPLATE``; None where the run stops at the delay and its ``turn_off`` never comes.

    Home Assistant's ``float`` filter is ``float(value)`` with the default for a ValueError or
    TypeError only: a ``hold_s`` that is null, a word or a list waits 60 s, a numeric string or a
    boolean its number. A *missing* ``hold_s`` is Jinja's Undefined, whose ``__float__`` raises
    UndefinedError, which the filter does not catch: the delay fails to render, Home Assistant logs
    "Error rendering … delay template" and stops the run after the ``turn_on``. A negative or
    non-finite number fails the delay's ``positive_timedelta`` the same way. ``mode: restart`` has
    cancelled the previous run's delay in every case, so such an ON leaves the entity on with no timer.
    """
    if "hold_s" not in command:
        return None
    try:
        seconds = float(command["hold_s"])
    except (ValueError, TypeError):
        return DELAY_DEFAULT_S
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class HomeAssistantDouble(PlugDouble):
    """Home Assistant with one switch entity and the two bridge automations, under ``potwatch/ha-switch/<name>``.

    What it plays (docs/heat-drivers.md, "Home Assistant switch"): the
    command automation (``mode: restart``): ``{"state":"ON","hold_s":S}`` on
    ``…/set`` turns the entity on and, ``S`` seconds later unless another
    command came, off (``S`` read as Home Assistant renders the documented
    delay: ``automation_delay``, so an ON without ``hold_s`` turns it on with
    no timer at all, as the real run that stops at its delay does);
    ``{"state":"OFF"}`` turns it off; anything else is
    not a trigger. The state automation: the entity's state (``on`` /
    ``off``, or ``entity_state`` when set: ``unavailable``) published
    **retained** on ``…/state`` at every change of it, and as the answer to
    any message on ``…/get``. Home Assistant's MQTT birth and will on
    ``homeassistant/status`` are **not** retained, as its defaults are.
    ``own_timer`` False is a Home Assistant without the command
    automation's delay (someone pasted a plain turn_on): no dead-man's switch.
    """

    def __init__(self, broker: Broker, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.own_timer = True
        self.entity_state: str | None = None  # "unavailable", "unknown": what Home Assistant says instead of on/off
        super().__init__(broker, clock=clock)

    @property
    def base(self) -> str:
        return f"potwatch/ha-switch/{self.name}"

    @property
    def will(self) -> tuple[str, bytes]:
        return ("homeassistant/status", b"offline")

    @property
    def online_payload(self) -> bytes:
        return b"online"

    def command_topics(self) -> list[str]:
        return [f"{self.base}/set", f"{self.base}/get"]

    def _make_client(self) -> paho.Client:
        client = super()._make_client()
        client.will_set(*self.will, qos=0, retain=False)  # Home Assistant's default will: not retained
        return client

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        if rc.is_failure:
            return
        client.subscribe([(topic, 1) for topic in self.command_topics()])
        client.publish(self.will[0], self.online_payload, qos=0, retain=False)  # its birth: not retained
        self._connected.set()

    def on_command(self, topic: str, payload: bytes) -> None:
        if topic.endswith("/get"):
            self.report("question")
            return
        try:
            data = json.loads(payload)
        except ValueError:
            return  # the trigger's value_template renders nothing: no trigger
        state = data.get("state") if isinstance(data, dict) else None
        if state == "OFF":
            self._switch(False, None)
        elif state == "ON":
            self._switch(True, automation_delay(data) if self.own_timer else None)

    def _switch(self, on: bool, hold_s: float | None) -> None:
        """The command automation's action (under the lock); the state automation fires on a change only."""
        changed = on != self.relay_on
        if changed:
            self.relay_on = on
            self.switched(on)
        self._deadline = self.clock() + hold_s if hold_s is not None and math.isfinite(hold_s) else None
        if changed:
            self.report("state change")

    def on_timer(self) -> None:
        self._switch(False, None)  # the delay ran out: switch.turn_off

    def off_in(self) -> float | None:
        """Seconds until the running delay turns the entity off (on the double's clock); None: no delay runs."""
        with self._lock:
            return None if self._deadline is None else self._deadline - self.clock()

    def entity(self, state: str | None) -> None:
        """The entity becomes ``unavailable`` / ``unknown`` (None: back to on/off): the state automation says so."""
        with self._lock:
            self.entity_state = state
            self.report("state change")

    def report(self, source: str) -> None:
        word = self.entity_state or ("on" if self.shown_on else "off")
        self.publish(f"{self.base}/state", word, retain=True)

    def send_garbage(self) -> int:
        bad = [
            (f"{self.base}/state", b"ON"),  # Home Assistant's states are lowercase
            (f"{self.base}/state", b"maybe"),
            (f"{self.base}/state", b"\xff\xfe"),
            (f"{self.base}/state", b""),
            ("homeassistant/status", b"sideways"),
        ]
        for topic, payload in bad:
            self.publish(topic, payload)
        return len(bad)
