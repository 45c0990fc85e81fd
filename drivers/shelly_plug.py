"""A Shelly Gen2 plug (Plus Plug S, Plus 1, …) as a heat actuator: ``mqtt://HOST:1883/<device-id>?kind=shelly``.

Shelly Gen2 speaks JSON-RPC over MQTT (Shelly API docs, gen2: "RPC Protocol",
"RPC Channels", "MQTT" and "Switch"); ``<device-id>`` is its MQTT
``topic_prefix``, by default its id such as ``shellyplusplugs-a8032ab12345``:

* command: publish to ``<device-id>/rpc`` a request frame
  ``{"id":N,"src":"<our client id>","method":"Switch.Set","params":{"id":0,"on":true,"toggle_after":S}}``;
  the device answers on ``<src>/rpc`` with ``{"id":N,...,"result":{"was_on":false}}``
  or an ``"error"`` object. The answer is not the state (``was_on`` is the
  state *before*); errors are counted in ``rpc_errors``;
* state: ``<device-id>/status/switch:0``, the switch's whole status
  (``{"id":0,"output":true,...}``) on every change, when "Generic status
  update over MQTT" (``status_ntf``) is on: potwatch needs it on;
* availability: ``<device-id>/online``, retained, ``true`` when it connects
  and ``false`` as its last will.

The dead-man's switch is ``toggle_after``: the switch flips back after that
many seconds, and each new ``Switch.Set`` starts the timer again. It is sent
with ON only: with OFF it would turn the heat *on* after S seconds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from drivers.mqtt_plug import Garbage, Ignore, Meaning, MqttPlug, Online, Power, json_object

log = logging.getLogger(__name__)

SWITCH_ID = 0


def switch_set(request_id: int, src: str, on: bool, hold_s: float) -> dict[str, Any]:
    """The ``Switch.Set`` request frame; ``toggle_after`` only with ON (see the module docstring)."""
    params: dict[str, Any] = {"id": SWITCH_ID, "on": on}
    if on:
        params["toggle_after"] = int(hold_s) if float(hold_s).is_integer() else round(hold_s, 1)
    return {"id": request_id, "src": src, "method": "Switch.Set", "params": params}


class ShellyPlug(MqttPlug):
    """A Shelly Gen2 switch over MQTT RPC (see the module docstring)."""

    kind = "shelly"

    def setup(self) -> None:
        d = self.target
        self.topics = {
            "rpc": f"{d}/rpc",
            "status": f"{d}/status/switch:{SWITCH_ID}",
            "online": f"{d}/online",
            "replies": f"{self.client_id}/rpc",
        }
        self._next_id = 0
        self.rpc_errors = 0
        self.last_error: str | None = None

    def subscriptions(self) -> list[tuple[str, int]]:
        return [(self.topics[k], 1) for k in ("status", "online", "replies")]

    def read(self, topic: str, payload: bytes) -> Meaning:
        t = self.topics
        if topic == t["online"]:
            word = payload.decode("utf-8", "replace").strip()
            if word in ("true", "false"):
                return Online(word == "true")
            return Garbage(f"online {word[:40]!r} is neither true nor false")
        if topic == t["status"]:
            data = json_object(payload)
            if isinstance(data, Garbage):
                return data
            output = data.get("output")
            if not isinstance(output, bool):
                return Garbage(f"status without a true/false output: {payload[:60]!r}")
            return Power(output)
        if topic == t["replies"]:
            return self._reply(payload)
        return Ignore()

    def _reply(self, payload: bytes) -> Meaning:
        data = json_object(payload)
        if isinstance(data, Garbage):
            return data
        error = data.get("error")
        if error is not None:
            self.rpc_errors += 1
            self.last_error = json.dumps(error)[:200]
            log.warning("heater %s: the plug refused a command: %s", self.heater_id, self.last_error)
        return Ignore()

    def send(self, on: bool, hold_s: float) -> bool:
        self._next_id += 1
        frame = switch_set(self._next_id, self.client_id, on, hold_s)
        return self.publish(self.topics["rpc"], json.dumps(frame, separators=(",", ":")))
