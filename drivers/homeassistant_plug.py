"""A Home Assistant switch entity as a heat actuator: ``mqtt://HOST:1883/<name>?kind=homeassistant``.

For a plug that Home Assistant owns (a Z-Wave or Matter plug, a cloud
integration, any ``switch.`` entity) and that potwatch cannot reach itself.
Two automations the user pastes into Home Assistant (docs/heat-drivers.md,
"Home Assistant switch") bridge the entity to MQTT, under
``potwatch/ha-switch/<name>/`` (``<name>`` one topic level, the URL's path):

* command: ``…/set`` ``{"state":"ON","hold_s":S}`` / ``{"state":"OFF"}``
  (potwatch → Home Assistant, never retained);
* question: ``…/get`` (any payload): the bridge answers by publishing the
  entity's state;
* state: ``…/state``, the entity's state as Home Assistant has it: ``on``,
  ``off``, ``unavailable`` or ``unknown``, published retained by the bridge at
  every change of the entity and as the answer to a question;
* Home Assistant itself: ``homeassistant/status``, its MQTT birth
  (``online``) and will (``offline``). Neither is retained by default, and
  Home Assistant stops without a DISCONNECT so that the broker publishes the
  will at a clean stop too.

**Nothing here is taken from a command, nor from the past.** ``reported`` is
only what the bridge says on ``…/state``, and only a message that arrived
*live* (the broker sends a retained one with the retain flag only to a new
subscription): a retained state may be the last word of a Home Assistant that
has since died, with its will long gone. So at every link-up the driver asks
(``…/get``) and the switch stays unavailable ("waiting for Home Assistant to
answer") until an answer comes; the first live answer says Home Assistant is
there (``Online``), and the driver asks once more for the state it then
reports (the base's start-over after a device comes back). Home Assistant's
will, or the entity going ``unavailable`` or ``unknown``, makes it
unavailable at once; Home Assistant's birth makes the driver ask again (its
automations may start after its MQTT, so an unanswered question is asked
again, as for every kind, at the next command, at most every 2 s).

**The dead-man's switch is the command automation's own timer**: it runs in
``mode: restart``; an ON turns the entity on and then waits ``hold_s``
seconds (the command's, so the end of ``max_on`` is kept as with Tasmota)
before turning it off; every new command restarts it, which is potwatch's
re-arming. It keeps running when potwatch, its Pi, its Wi-Fi or the broker is
gone. It does **not** run while Home Assistant itself is down or restarting
(a running ``delay`` does not survive a restart), nor can it turn off a plug
Home Assistant cannot reach at that moment. potwatch cannot see whether the
automation is there: a Home Assistant without it obeys and reports exactly
like one with it. ``hold_s`` is rounded down to a tenth of a second.

A retained message on ``…/set`` would be handed to Home Assistant's
automation every time Home Assistant reconnects to the broker: the base
clears it, as for every kind.
"""

from __future__ import annotations

import json
import math
from typing import Final

from drivers.mqtt_link import Message
from drivers.mqtt_plug import Garbage, Ignore, Meaning, MqttPlug, Online, Power

BASE: Final = "potwatch/ha-switch"  # where the documented automations publish and listen
HA_STATUS: Final = "homeassistant/status"  # Home Assistant's default birth and will topic
_STATES: Final = {"on": True, "off": False}
_NOT_THERE: Final = ("unavailable", "unknown")  # Home Assistant's words for an entity it cannot tell
_STATUS: Final = {"online": True, "offline": False}


def hold_for(hold_s: float) -> float | int:
    """The ``hold_s`` sent: rounded down to a tenth of a second, so the heat is never held longer than asked."""
    tenths = math.floor(float(hold_s) * 10.0 + 1e-9)
    return tenths // 10 if tenths % 10 == 0 else tenths / 10.0


def set_payload(on: bool, hold_s: float) -> dict[str, object]:
    """What goes to ``…/set``: ``hold_s`` with ON only (an OFF needs no timer)."""
    return {"state": "ON", "hold_s": hold_for(hold_s)} if on else {"state": "OFF"}


class HomeAssistantPlug(MqttPlug):
    """A Home Assistant switch entity, through the documented bridge automations (see the module docstring)."""

    kind = "homeassistant"
    asks_until_online = True  # Home Assistant's birth is not retained: its answer is the only sign of life

    def setup(self) -> None:
        base = f"{BASE}/{self.target}"
        self.topics = {"set": f"{base}/set", "get": f"{base}/get", "state": f"{base}/state", "status": HA_STATUS}
        self.retained_states = 0  # retained states heard at a (re)subscribe: the past, not taken

    @property
    def unavailable_reason(self) -> str | None:
        """As every kind's, in Home Assistant's words while it has not answered or is offline."""
        if not self._link.connected or self.device_online is True:
            return super().unavailable_reason
        if self.device_online is None:
            why = f"waiting for Home Assistant to answer on {self.topics['state']} (are the bridge automations in?)"
        else:
            why = f"Home Assistant is offline ({self.topics['status']})"
        return "; ".join([why, *(r for k, r in self._holds.items() if k != "entity")])  # a retained command

    def state_topics(self) -> list[str]:
        return [self.topics["status"], self.topics["state"]]

    def command_topics(self) -> list[str]:
        return [self.topics["set"]]

    def fresh(self) -> None:
        self.hold("entity", "waiting for Home Assistant to say the switch's state")

    def ask(self) -> None:
        self.publish(self.topics["get"], b"?")

    def read(self, topic: str, payload: bytes) -> Meaning:
        word = payload.decode("utf-8", "replace").strip()
        if topic == self.topics["status"]:
            online = _STATUS.get(word)
            if online is None:
                return Garbage(f"Home Assistant status {word[:40]!r} is neither online nor offline")
            return Online(online)
        if topic != self.topics["state"]:
            return Ignore()
        if word in _STATES:
            self.release("entity")
            return Power(_STATES[word])
        if word in _NOT_THERE:
            self.forget_reported()
            self.hold("entity", f"Home Assistant says the switch is {word}")
            return Ignore()
        return Garbage(f"state {word[:40]!r} is none of on, off, unavailable, unknown")

    def read_message(self, message: Message) -> Meaning:
        if message.topic == self.topics["state"]:
            if message.retain:
                self.retained_states += 1
                return Ignore()  # maybe the last word of a Home Assistant since gone: ask, do not assume
            if self.device_online is not True:
                word = message.payload.decode("utf-8", "replace").strip()
                if word in _STATES or word in _NOT_THERE:
                    return Online(True)  # Home Assistant answered: it is there; its state is asked again
        return self.read(message.topic, message.payload)

    def send(self, on: bool, hold_s: float) -> bool:
        return self.publish(self.topics["set"], json.dumps(set_payload(on, hold_s), separators=(",", ":")))
