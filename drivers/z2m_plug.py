"""A Zigbee plug or switch behind Zigbee2MQTT as a heat actuator: ``mqtt://HOST:1883/<name>?kind=z2m``.

Zigbee2MQTT's MQTT topics (its docs, "MQTT Topics and Messages", and any
switch's device page), for the base topic ``<b>`` (``zigbee2mqtt`` unless
``&base=`` says otherwise) and the device's friendly name ``<name>``:

* command: ``<b>/<name>/set`` ``{"state":"ON"}`` / ``{"state":"OFF"}``;
* state: ``<b>/<name>``, a JSON object with ``"state":"ON"|"OFF"`` among
  other keys (``linkquality``, ``power``, …: ignored); a message without
  ``state`` says nothing about the relay;
* the question: ``<b>/<name>/get`` ``{"state":""}``, answered on ``<b>/<name>``;
* availability: ``<b>/<name>/availability``, retained, ``{"state":"online"}``
  / ``{"state":"offline"}`` (or the legacy plain ``online`` / ``offline``).
  Zigbee2MQTT only publishes it with ``availability`` enabled in its
  configuration: without it the plug is never available to potwatch;
* the bridge: ``<b>/bridge/state``, retained, Zigbee2MQTT's own birth and
  will (same two payload forms). A device's availability is Zigbee2MQTT's
  word, and a dead Zigbee2MQTT leaves the last one standing ("online"): so
  the plug is held unavailable until the bridge says online, and again
  whenever it says offline.

The dead-man's switch is Zigbee's *On With Timed Off* command, which
Zigbee2MQTT sends for ``{"state":"ON","on_time":S}``: the device turns itself
off S seconds later, and each new one starts the time again. **Whether a
device honours it depends on its firmware** (Zigbee2MQTT's device pages say
"Support depends on the switch firmware"; issues report Sonoff, Tuya and
other plugs that ignore it without an error), and nothing in the device's
answer shows it: the state reads ``ON`` either way. potwatch cannot verify it
and does not pretend to; docs/heat-drivers.md says how to test a plug by
hand. ``off_wait_time`` is never sent: during it the device refuses further
timed commands, which would stop the re-arming. ``on_time`` is rounded down to
a tenth of a second (the ZCL unit: Zigbee2MQTT's on/off converter sends
``round(on_time * 10)``, so a whole tenth is never rounded up) and capped at
the attribute's largest value, 6553.4 s: the plug never holds the heat
longer than asked.

What ``<b>/<name>`` says after a command: for a plain ON or OFF, Zigbee2MQTT
publishes the state it asked for once the device has acknowledged the
command, before any report of the relay (the converter's return value); for a
timed ON it publishes nothing of its own, so an ON is heard only when the
device reports its OnOff attribute (Zigbee2MQTT sets reporting up for most
plugs). A plug that does not report leaves ``reported`` at OFF after an ON,
and the controller raises the mismatch: the safe way round.
"""

from __future__ import annotations

import json
import math
from typing import Final

from drivers.heater import Z2M_BASE
from drivers.mqtt_plug import Garbage, Ignore, Meaning, MqttPlug, Online, Power, json_object

ON_TIME_MAX_S: Final = 6553.4  # the ZCL OnTime attribute: 0xFFFE tenths of a second
_STATES: Final = {"ON": True, "OFF": False}
_AVAILABILITY: Final = {"online": True, "offline": False}


def on_time_for(hold_s: float) -> float | int:
    """``on_time`` in seconds for ``hold_s``: rounded down to a tenth and capped, so never longer than asked."""
    tenths = math.floor(min(float(hold_s), ON_TIME_MAX_S) * 10.0 + 1e-9)
    return tenths // 10 if tenths % 10 == 0 else tenths / 10.0


def set_payload(on: bool, hold_s: float) -> dict[str, object]:
    """What goes to ``<b>/<name>/set``: ``on_time`` with ON only (an OFF needs no timer)."""
    return {"state": "ON", "on_time": on_time_for(hold_s)} if on else {"state": "OFF"}


def read_online(payload: bytes) -> bool | None:
    """An availability or bridge state payload, JSON or legacy plain; None when it is neither."""
    text = payload.decode("utf-8", "replace").strip()
    if text in _AVAILABILITY:
        return _AVAILABILITY[text]
    data = json_object(payload)
    if isinstance(data, Garbage):
        return None
    state = data.get("state")
    return _AVAILABILITY.get(state) if isinstance(state, str) else None


class Z2mPlug(MqttPlug):
    """A Zigbee2MQTT switch's relay, over its MQTT topics (see the module docstring)."""

    kind = "z2m"

    def setup(self) -> None:
        b, n = self.url.base or Z2M_BASE, self.target
        self.topics = {
            "set": f"{b}/{n}/set",
            "get": f"{b}/{n}/get",
            "state": f"{b}/{n}",
            "availability": f"{b}/{n}/availability",
            "bridge": f"{b}/bridge/state",
        }
        self.bridge_online: bool | None = None  # Zigbee2MQTT's own word, on this connection

    def state_topics(self) -> list[str]:
        return [self.topics[k] for k in ("bridge", "availability", "state")]

    def command_topics(self) -> list[str]:
        return [self.topics["set"]]

    def link_lost(self) -> None:
        self.bridge_online = None  # an "online" from before the outage proves nothing

    def fresh(self) -> None:
        if self.bridge_online is not True:
            self.hold("bridge", f"waiting for Zigbee2MQTT to say it is online ({self.topics['bridge']})")

    def ask(self) -> None:
        self.publish(self.topics["get"], json.dumps({"state": ""}))

    def read(self, topic: str, payload: bytes) -> Meaning:
        t = self.topics
        if topic == t["bridge"]:
            return self._bridge(payload)
        if topic == t["availability"]:
            online = read_online(payload)
            return (
                Garbage(f"availability {payload[:40]!r} is neither online nor offline")
                if online is None
                else (Online(online))
            )
        if topic == t["state"]:
            data = json_object(payload)
            if isinstance(data, Garbage):
                return data
            if "state" not in data:
                return Ignore()  # telemetry alone (linkquality, power): nothing about the relay
            state = data["state"]
            on = _STATES.get(state) if isinstance(state, str) else None
            return Garbage(f"state={state!r} is neither ON nor OFF") if on is None else Power(on)
        return Ignore()

    def _bridge(self, payload: bytes) -> Meaning:
        online = read_online(payload)
        if online is None:
            return Garbage(f"bridge state {payload[:40]!r} is neither online nor offline")
        self.bridge_online = online
        if online:
            self.release("bridge")
        else:
            self.hold("bridge", "Zigbee2MQTT is offline: the device's availability is not news")
        return Ignore()

    def send(self, on: bool, hold_s: float) -> bool:
        return self.publish(self.topics["set"], json.dumps(set_payload(on, hold_s), separators=(",", ":")))
