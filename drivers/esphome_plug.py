"""An ESPHome switch over MQTT as a heat actuator: ``mqtt://HOST:1883/<node>/<switch_id>?kind=esphome``.

ESPHome's MQTT topics (its docs, "MQTT Client Component" and "Switch"), for
the topic prefix ``<node>`` (``topic_prefix``, the node name by default; a
custom one may hold ``/``: the URL's last level is the switch) and the
switch's object id ``<id>`` (its name in snake case, ``relay`` for "Relay"):

* command: ``<node>/switch/<id>/command`` ``ON`` / ``OFF``;
* state: ``<node>/switch/<id>/state`` ``ON`` / ``OFF``, **retained** (the
  MQTT component's ``retain: true`` default), published at every change and
  again at every connect to the broker;
* availability: ``<node>/status``, retained, ``online`` (its birth message)
  and ``offline`` (its will).

ESPHome has no MQTT question for a switch's state: the retained state topic
is the answer. The driver subscribes to ``status`` before ``state``, so a
broker (Mosquitto sends retained messages in the order of the filters)
hands over the device's "online" first and the relay's state after it; when
the device comes back online it publishes its states again by itself. With
``retain: false`` on the device, ``reported`` stays unknown until the relay
next changes, and the controller raises the mismatch: keep the default.

**No dead-man's switch comes with ESPHome.** A switch turned ON stays on
until told otherwise, and nothing in a command can say "for S seconds".
The period lives on the device, in the user's YAML (docs/heat-drivers.md
gives it): a ``script`` in ``mode: restart`` that waits and turns the switch
off, started by every ``ON`` on the command topic (``mqtt: on_message``) and
on the switch turning on. ``hold_s`` is checked (as for every plug) and not
sent: potwatch cannot set the period, and cannot see whether the YAML is
there; it re-commands ON every third of its ``deadman`` while it wants heat, which is what
restarts the script (so the script's delay must be longer than that third).
"""

from __future__ import annotations

from typing import Final

from drivers.mqtt_plug import Garbage, Meaning, MqttPlug, Online, Power

_WORDS: Final = {"ON": True, "OFF": False}
_STATUS: Final = {"online": True, "offline": False}


def split_target(target: str) -> tuple[str, str]:
    """``<node>/<switch_id>`` → the topic prefix and the switch's object id (the URL parser checked both)."""
    node, switch = target.rsplit("/", 1)
    return node, switch


class EsphomePlug(MqttPlug):
    """An ESPHome switch over MQTT (see the module docstring)."""

    kind = "esphome"

    def setup(self) -> None:
        node, switch = split_target(self.target)
        self.topics = {
            "command": f"{node}/switch/{switch}/command",
            "state": f"{node}/switch/{switch}/state",
            "status": f"{node}/status",
        }

    def state_topics(self) -> list[str]:
        return [self.topics["status"], self.topics["state"]]  # in this order: see the module docstring

    def command_topics(self) -> list[str]:
        return [self.topics["command"]]

    def read(self, topic: str, payload: bytes) -> Meaning:
        word = payload.decode("utf-8", "replace").strip()
        if topic == self.topics["status"]:
            online = _STATUS.get(word)
            return Garbage(f"status {word[:40]!r} is neither online nor offline") if online is None else Online(online)
        on = _WORDS.get(word)
        return Garbage(f"state {word[:40]!r} is neither ON nor OFF") if on is None else Power(on)

    def send(self, on: bool, hold_s: float) -> bool:
        return self.publish(self.topics["command"], "ON" if on else "OFF")
