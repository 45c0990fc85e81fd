"""An MQTT subscriber that keeps everything it hears: what Home Assistant, or a cook's automation, would see.

Subscribes on every (re)connect, records each message with the moment it
arrived, and lets a test wait for one (``take``) or look at all of them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

if TYPE_CHECKING:  # not imported here: a test module loads tests.support.broker as a plugin, rewritten first
    from tests.support.broker import Broker


@dataclass(frozen=True)
class Heard:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")


class MqttWatch:
    """A paho client subscribed to ``patterns`` on ``broker``; ``heard`` is every message, in order."""

    def __init__(self, broker: Broker, *patterns: str) -> None:
        self.patterns = patterns or ("#",)
        self.heard: list[Heard] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.broker = broker

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        if not rc.is_failure:
            client.subscribe([(p, 1) for p in self.patterns])

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self._cond:
            self.heard.append(Heard(message.topic, bytes(message.payload), bool(message.retain), time.monotonic()))
            self._cond.notify_all()

    def __enter__(self) -> MqttWatch:
        self.client.connect(self.broker.host, self.broker.port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(5.0):
            raise RuntimeError("the watching subscriber could not subscribe")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, topic: str) -> list[Heard]:
        with self._cond:
            return [h for h in self.heard if h.topic == topic]

    def take(
        self, topic: str, timeout: float, where: Callable[[Heard], bool] = lambda h: True, after: int = 0
    ) -> Heard:
        """The first message on ``topic`` from index ``after`` on that matches ``where``; fails after ``timeout``."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((h for h in self.heard[after:] if h.topic == topic and where(h)), None)
                if found is not None:
                    return found
                left = end - time.monotonic()
                if left <= 0:
                    seen = [(h.topic, h.text[:80]) for h in self.heard[after:] if h.topic == topic][-5:]
                    raise AssertionError(f"nothing matching on {topic} within {timeout} s; last there: {seen}")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.heard)
