"""The simulated pot's hotplate plugged into a (double of a) smart plug: its power follows the plug's relay.

A real hotplate gets current while the plug's relay is closed, whatever the
plug says about it over MQTT. So the pot follows the double's ``relay_on``,
the truth, heard through the double's ``on_switch`` callback at every change,
never its reports: a plug that lies (relay on, reporting off) overheats the
pot as a welded relay would, a plug that ignores a command leaves it as it
was, a dead-man's switch that fires cools it. A test still drives the whole
loop through MQTT: command → the driver → Mosquitto → the plug double's relay
→ the pot → the probe's readings.

Nothing here follows reports; no test needs a pot that would (it would hide
exactly the lie a controller must survive).
"""

from __future__ import annotations

from types import TracebackType

from drivers.simulated import HeaterInput
from tests.support.plugs import PlugDouble


class PotOnRelay:
    """``with PotOnRelay(heater_input, plug_double):`` keeps ``heater_input.on`` equal to the double's relay."""

    def __init__(self, heater: HeaterInput, plug: PlugDouble) -> None:
        self.heater = heater
        self.plug = plug
        self.followed = 0  # relay changes applied to the pot

    def _follow(self, on: bool) -> None:  # on the double's thread: one attribute, read by the simulator
        self.heater.on = on
        self.followed += 1

    def __enter__(self) -> PotOnRelay:
        with self.plug._lock:
            self.heater.on = self.plug.relay_on
            self.plug.on_switch.append(self._follow)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        with self.plug._lock:
            self.plug.on_switch.remove(self._follow)
