"""The simulated pot's hotplate plugged into a (double of a) smart plug: its power follows what the plug reports.

The pot hears the plug the way any listener on the kitchen's broker does:
through its own heater driver (drivers/heater.py), on a connection of its
own, reading the plug's *reported* state, never what anybody commanded. So
a plug that ignores a command leaves the pot as it was, a plug whose
dead-man's switch fires cools it, exactly as a real relay would, and a
test drives the whole loop: command → plug → MQTT → pot → probe reading.

The plug's reported state is the best the pot can know; while the plug is
unreachable the pot keeps the last one (the relay does not move because
the Wi-Fi went).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from drivers.heater import StateReport, open_heater
from drivers.simulated import HeaterInput


class PotOnPlug:
    """``async with PotOnPlug(heater_input, plug_url):`` keeps ``heater_input.on`` equal to the plug's reports."""

    def __init__(self, heater: HeaterInput, plug_url: str) -> None:
        self.heater = heater
        self.actuator = open_heater("pot-hotplate", plug_url)
        self.followed = 0  # reports applied to the pot
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PotOnPlug:
        await self.actuator.__aenter__()
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="pot-on-plug")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.actuator.__aexit__(kind, error, tb)

    async def _follow(self) -> None:
        async for event in self.actuator.events():
            if isinstance(event, StateReport):
                self.heater.on = event.on
                self.followed += 1
