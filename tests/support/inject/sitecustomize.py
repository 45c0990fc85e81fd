"""Faults put into a real ``potwatch run`` from outside: this folder on the child's PYTHONPATH, nothing in potwatch.

Python imports ``sitecustomize`` at start-up from the first folder of
``sys.path`` that has one, and PYTHONPATH comes first. This one patches the
parts named in ``POTWATCH_INJECT`` (comma-separated) the moment their module
is imported, so the service runs its own code everywhere else:

* ``decoder``: the serial ``number`` line decoder raises on the line
  ``666.25`` (every other line decodes as usual);
* ``publisher``: the MQTT publisher's ``_send`` raises for a probe message
  whose ``fahrenheit`` is 150.5;
* ``notifier``: the second push channel (``push:…#2``) raises on its first
  delivery, and delivers normally from then on;
* ``heat_controller``: the heat controller's ``step`` raises on a forced-on
  override (every other event steps as usual);
* ``heater_reports``: a plug driver's stream of reports raises once it has
  handed over the plug's first "on";
* ``wall``: ``time.time()`` and ``time.time_ns()`` read the real clock plus
  the offset (seconds) written in the file named by ``POTWATCH_WALL_OFFSET_FILE``,
  read on every call, as an NTP step does to CLOCK_REALTIME; the monotonic
  clock runs true. (libfaketime 0.9.10, Debian 12's, breaks ``time.sleep``
  when it fakes CLOCK_REALTIME alone, so the step is made here.)

Each injected exception is an ``InjectedFault`` naming where it was raised,
so a test can find it in the log.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

DECODER_MARK = "666.25"
PUBLISHER_MARK_F = 150.5


class InjectedFault(RuntimeError):
    pass


def _decoder(module: ModuleType) -> None:
    cls = module.NumberLineDecoder
    real = cls.decode

    def decode(self: Any, text: str) -> Any:
        if text.strip() == DECODER_MARK:
            raise InjectedFault("injected into the number decoder")
        return real(self, text)

    cls.decode = decode


def _publisher(module: ModuleType) -> None:
    cls = module.MqttPublisher
    real = cls._send

    def _send(self: Any, message: Any) -> Any:
        if "/probe/" in message.topic:
            try:
                fahrenheit = json.loads(message.payload).get("fahrenheit")
            except (ValueError, AttributeError):
                fahrenheit = None
            if fahrenheit == PUBLISHER_MARK_F:
                raise InjectedFault(f"injected into the MQTT publisher ({message.topic})")
        return real(self, message)

    cls._send = _send


def _notifier(module: ModuleType) -> None:
    cls = module.PushChannel
    real = cls.deliver
    raised: set[str] = set()

    async def deliver(self: Any, message: Any) -> Any:
        if self.name.endswith("#2") and self.name not in raised:
            raised.add(self.name)
            raise InjectedFault(f"injected into {self.name} (alert {message.alert_id})")
        return await real(self, message)

    cls.deliver = deliver


def _heat_controller(module: ModuleType) -> None:
    real = module.step

    def step(state: Any, event: Any, params: Any) -> Any:
        if type(event).__name__ == "Override" and str(event.mode) == "force_on":
            raise InjectedFault("injected into the heat controller (a forced-on override)")
        return real(state, event, params)

    module.step = step


def _heater_reports(module: ModuleType) -> None:
    cls = module.MqttPlug
    real = cls.events

    async def events(self: Any) -> Any:
        async for event in real(self):
            yield event
            if type(event).__name__ == "StateReport" and event.on:
                raise InjectedFault(f"injected into heater {self.heater_id}'s reports")

    cls.events = events


def _wall() -> None:
    path = os.environ["POTWATCH_WALL_OFFSET_FILE"]
    real_time, real_time_ns = time.time, time.time_ns

    def offset() -> float:
        try:
            with open(path) as f:
                return float(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    time.time = lambda: real_time() + offset()
    time.time_ns = lambda: real_time_ns() + int(offset() * 1e9)


PATCHES: dict[str, tuple[str, Callable[[ModuleType], None]]] = {
    "decoder": ("drivers.formats", _decoder),
    "publisher": ("service.mqtt.publisher", _publisher),
    "notifier": ("service.alarm.push", _notifier),
    "heat_controller": ("service.core.heat.controller", _heat_controller),
    "heater_reports": ("drivers.mqtt_plug", _heater_reports),
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of the named modules so the patch runs once they exist."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = self.patches.pop(name, None)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            real_exec(module)
            patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _install() -> None:
    wanted = [w.strip() for w in os.environ.get("POTWATCH_INJECT", "").split(",") if w.strip()]
    if "wall" in wanted:
        _wall()
    patches = {PATCHES[w][0]: PATCHES[w][1] for w in wanted if w in PATCHES}
    if patches:
        sys.meta_path.insert(0, _AfterImport(patches))


_install()
