"""A Tasmota smart plug as a heat actuator: ``mqtt://HOST:1883/<topic>?kind=tasmota``.

Tasmota's MQTT topics, for the device's ``Topic`` ``<t>`` and the default
``FullTopic`` ``%prefix%/%topic%/`` (Tasmota docs, "MQTT" and "Commands"):

* commands: ``cmnd/<t>/POWER`` ``ON`` / ``OFF``; ``cmnd/<t>/PulseTime <n>``;
* state: ``stat/<t>/POWER`` ``ON`` / ``OFF`` after every change, and
  ``stat/<t>/RESULT`` ``{"POWER":"ON"}`` as the reply to a Power command
  (the reply to other commands, e.g. ``{"PulseTime1":{...}}``, is ignored);
  ``tele/<t>/STATE`` every TelePeriod, a JSON object with ``"POWER"``;
* availability: ``tele/<t>/LWT``, retained, ``Online`` when it connects and
  ``Offline`` as its last will.

The dead-man's switch is Tasmota's ``PulseTime``: after a ``POWER ON`` the
relay turns itself off when the pulse time has passed, and every ``POWER ON``
starts the time again, so re-commanding ON is the re-arming. Its units
(Tasmota docs, Commands, PulseTime): ``1..111`` tenths of a second,
``112..64900`` whole seconds plus 100 (``PulseTime 113`` = 13 s, ``460`` =
6 min), ``0`` off. ``pulsetime_for`` rounds *down*: the plug never holds the
heat longer than asked. The value is sent before *every* ON, not once:
commands go at QoS 0 (drivers/mqtt_plug.py), and an ON that arrived without
its pulse time (lost, or the plug reset to PulseTime 0 by hand) would hold
the heat on with no dead-man's switch at all.

**PowerOnState** must be read before the plug is used. ``PowerOnState 5``
("after a PulseTime period turn relay(s) ON, acts as inverted PulseTime
mode", Tasmota docs, Commands) turns the dead-man's switch inside out: in
Tasmota's ``ExecuteCommandPower`` the pulse timer then runs while the relay
is *off* and turns it ON when it ends, and an ON runs with no timer at all.
``PowerOnState 4`` ("turn relays on and disable any relay control") would
never let the heat go off. So at every link-up (and whenever the plug comes
back online) the driver sends an empty ``cmnd/<t>/PowerOnState`` and reads
``{"PowerOnState":N}`` on ``stat/<t>/RESULT``; until N is known, and while
it is 4 or 5, the plug is unavailable, with the reason. The same answer to
somebody else's ``PowerOnState`` command is read too. An OFF sent while the
plug is known to be in mode 5 goes with ``PulseTime 0`` first
(``CmndPulsetime`` stops the running timer), so the OFF starts no inverted
pulse.

The relay's state is asked at the same moments (an empty ``cmnd/<t>/POWER``),
since ``stat/<t>/POWER`` is not retained: ``reported`` is unknown until the
answer.

With ``SetOption26 1`` a single-relay Tasmota says ``POWER1``; both are read.
"""

from __future__ import annotations

import math
from typing import Final

from drivers.mqtt_plug import Garbage, Ignore, Meaning, MqttPlug, Online, Power, json_object

PULSETIME_TENTHS_MAX: Final = 111  # 11.1 s
PULSETIME_MAX: Final = 64900  # 64800 s, 18 h
_POWER_WORDS: Final = {"ON": True, "OFF": False}
_POWER_KEYS: Final = ("POWER", "POWER1")
POWER_ON_STATES_OK: Final = (0, 1, 2, 3)  # off, on, toggle, last saved: PulseTime keeps its meaning
_POWER_ON_STATE_PROBLEM: Final = {
    4: "PowerOnState 4 on the plug keeps the relay on and disables relay control: the heat could never go off",
    5: "PowerOnState 5 on the plug inverts PulseTime (after the period the relay turns ON, and an ON never "
    "turns itself off)",
}


def pulsetime_for(hold_s: float) -> int:
    """The ``PulseTime`` value that turns the relay off no later than ``hold_s`` after an ON."""
    if not math.isfinite(hold_s) or hold_s < 0.1:
        raise ValueError(f"PulseTime cannot express {hold_s!r} s (0.1 s at least)")
    if hold_s < 12.0:  # 112 is 12 s: below it only tenths can say it
        return max(1, min(PULSETIME_TENTHS_MAX, math.floor(hold_s * 10.0 + 1e-9)))
    return min(PULSETIME_MAX, math.floor(hold_s + 1e-9) + 100)


def pulsetime_seconds(value: int) -> float:
    """How long ``PulseTime value`` holds the relay on (0: no pulse, on until told off)."""
    if value <= 0:
        return math.inf
    return value / 10.0 if value <= PULSETIME_TENTHS_MAX else float(value - 100)


def read_power_word(payload: bytes) -> bool | None:
    return _POWER_WORDS.get(payload.decode("utf-8", "replace").strip())


class TasmotaPlug(MqttPlug):
    """A Tasmota plug's relay, over its MQTT topics (see the module docstring)."""

    kind = "tasmota"

    def setup(self) -> None:
        t = self.target
        self.topics = {
            "power_cmd": f"cmnd/{t}/POWER",
            "pulsetime_cmd": f"cmnd/{t}/PulseTime",
            "poweronstate_cmd": f"cmnd/{t}/PowerOnState",
            "power": f"stat/{t}/POWER",
            "power1": f"stat/{t}/POWER1",
            "result": f"stat/{t}/RESULT",
            "state": f"tele/{t}/STATE",
            "lwt": f"tele/{t}/LWT",
        }

        self.power_on_state: int | None = None  # the plug's, once it said it on this connection

    def state_topics(self) -> list[str]:
        return [self.topics[k] for k in ("power", "power1", "result", "state", "lwt")]

    def command_topics(self) -> list[str]:
        return [self.topics["power_cmd"], self.topics["pulsetime_cmd"]]

    def fresh(self) -> None:
        self.power_on_state = None
        self.hold("poweronstate", f"waiting for the plug's PowerOnState (asked on {self.topics['poweronstate_cmd']})")

    def ask(self) -> None:
        self.publish(self.topics["poweronstate_cmd"], "")
        self.publish(self.topics["power_cmd"], "")

    def _power_on_state(self, value: object) -> Meaning:
        if not isinstance(value, int) or isinstance(value, bool):
            return Garbage(f"PowerOnState {value!r} is not a number")
        self.power_on_state = value
        if value in POWER_ON_STATES_OK:
            self.release("poweronstate")
        else:
            problem = _POWER_ON_STATE_PROBLEM.get(value, f"PowerOnState {value} on the plug is not one potwatch knows")
            self.hold("poweronstate", f"{problem}: set PowerOnState 0 (or 3) on it")
        return Ignore()

    def read(self, topic: str, payload: bytes) -> Meaning:
        t = self.topics
        if topic == t["lwt"]:
            word = payload.decode("utf-8", "replace").strip()
            if word in ("Online", "Offline"):
                return Online(word == "Online")
            return Garbage(f"LWT {word[:40]!r} is neither Online nor Offline")
        if topic in (t["power"], t["power1"]):
            on = read_power_word(payload)
            return Garbage(f"POWER {payload[:40]!r} is neither ON nor OFF") if on is None else Power(on)
        if topic == t["result"]:
            data = json_object(payload)
            if not isinstance(data, Garbage) and "PowerOnState" in data:
                return self._power_on_state(data["PowerOnState"])
            return _read_json_power(payload, required=False)
        if topic == t["state"]:
            return _read_json_power(payload, required=False)
        return Ignore()

    def send(self, on: bool, hold_s: float) -> bool:
        if not on:
            if self.power_on_state == 5:  # an OFF would start the inverted pulse: stop the timer first
                self.publish(self.topics["pulsetime_cmd"], "0")
            return self.publish(self.topics["power_cmd"], "OFF")
        if not self.publish(self.topics["pulsetime_cmd"], str(pulsetime_for(hold_s))):
            return False  # never an ON without its dead-man's time before it
        return self.publish(self.topics["power_cmd"], "ON")


def _read_json_power(payload: bytes, *, required: bool) -> Meaning:
    data = json_object(payload)
    if isinstance(data, Garbage):
        return data
    for key in _POWER_KEYS:
        if key in data:
            value = data[key]
            on = _POWER_WORDS.get(value) if isinstance(value, str) else None
            return Garbage(f"{key}={value!r} is neither ON nor OFF") if on is None else Power(on)
    return Garbage("no POWER in it") if required else Ignore()
