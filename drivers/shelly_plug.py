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
with ON only: with OFF it would turn the heat *on* after S seconds. It is
rounded *down* to a tenth of a second, as Tasmota's PulseTime is: the plug
never holds the heat longer than asked.

At every link-up, and whenever the plug comes back online, the driver asks
``Switch.GetStatus`` (``{"id":0}``): ``status/switch:0`` is not retained,
so ``reported`` is unknown until the answer. It also asks
``Switch.GetConfig`` and holds the plug unavailable until the answer shows
``initial_state`` ``"off"`` and ``auto_on`` false: a plug that comes back
from a power cut with its relay on, or that turns itself on some time after
an OFF, defeats the dead-man's switch.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Final

from drivers.mqtt_plug import Garbage, Ignore, Meaning, MqttPlug, Online, Power, json_object

log = logging.getLogger(__name__)

SWITCH_ID = 0
MAX_ASKED: Final = 64  # questions awaiting an answer; beyond it the oldest are forgotten


def toggle_after_for(hold_s: float) -> float | int:
    """``toggle_after`` for ``hold_s``: rounded down to a tenth, so never longer than asked."""
    tenths = math.floor(float(hold_s) * 10.0 + 1e-9)
    return tenths // 10 if tenths % 10 == 0 else tenths / 10.0


def switch_set(request_id: int, src: str, on: bool, hold_s: float) -> dict[str, Any]:
    """The ``Switch.Set`` request frame; ``toggle_after`` only with ON (see the module docstring)."""
    params: dict[str, Any] = {"id": SWITCH_ID, "on": on}
    if on:
        params["toggle_after"] = toggle_after_for(hold_s)
    return {"id": request_id, "src": src, "method": "Switch.Set", "params": params}


def config_problem(config: dict[str, Any]) -> str | None:
    """Why a ``Switch.GetConfig`` result makes the plug unsafe for potwatch, or None."""
    initial = config.get("initial_state")
    if initial != "off":
        return (
            f"the plug's initial_state is {initial!r}: after a power cut it could come back on by itself; "
            'set it to "off" (Switch.SetConfig)'
        )
    if config.get("auto_on") is not False:
        return (
            f"the plug's auto_on is {config.get('auto_on')!r}: it would turn the heat on again after an OFF; "
            "set auto_on false (Switch.SetConfig)"
        )
    return None


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
        self._asked: dict[int, str] = {}  # request id -> method, for the questions not answered yet
        self.rpc_errors = 0
        self.last_error: str | None = None
        self.config: dict[str, Any] | None = None  # the switch's, once it said it on this connection

    def state_topics(self) -> list[str]:
        return [self.topics[k] for k in ("status", "online", "replies")]

    def command_topics(self) -> list[str]:
        return [self.topics["rpc"]]

    def fresh(self) -> None:
        self.config = None
        self.hold("config", "waiting for the plug's Switch.GetConfig (initial_state, auto_on)")

    def ask(self) -> None:
        self._call("Switch.GetConfig", {"id": SWITCH_ID})
        self._call("Switch.GetStatus", {"id": SWITCH_ID})

    def _call(self, method: str, params: dict[str, Any]) -> bool:
        self._next_id += 1
        self._asked[self._next_id] = method
        while len(self._asked) > MAX_ASKED:
            del self._asked[next(iter(self._asked))]
        frame = {"id": self._next_id, "src": self.client_id, "method": method, "params": params}
        return self.publish(self.topics["rpc"], json.dumps(frame, separators=(",", ":")))

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
        request_id = data.get("id")
        method = self._asked.pop(request_id, None) if isinstance(request_id, int) else None
        error = data.get("error")
        if error is not None:
            self.rpc_errors += 1
            self.last_error = json.dumps(error)[:200]
            log.warning("heater %s: the plug refused %s: %s", self.heater_id, method or "a command", self.last_error)
            if method == "Switch.GetConfig":
                self.hold("config", f"the plug refused Switch.GetConfig: {self.last_error}")
            return Ignore()
        result = data.get("result")
        if method is None:
            return Ignore()  # the answer to a Switch.Set (was_on is the state before: not a report)
        if not isinstance(result, dict):
            return Garbage(f"{method} answered without a result object: {payload[:60]!r}")
        if method == "Switch.GetStatus":
            output = result.get("output")
            return Power(output) if isinstance(output, bool) else Garbage(f"status without an output: {payload[:60]!r}")
        self.config = result
        problem = config_problem(result)
        if problem is None:
            self.release("config")
        else:
            self.hold("config", problem)
        return Ignore()

    def send(self, on: bool, hold_s: float) -> bool:
        self._next_id += 1  # the answer is not waited for (not in _asked): ignored, errors counted
        frame = switch_set(self._next_id, self.client_id, on, hold_s)
        return self.publish(self.topics["rpc"], json.dumps(frame, separators=(",", ":")))
