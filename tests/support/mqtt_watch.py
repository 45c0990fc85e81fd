"""An MQTT subscriber that keeps everything it hears: what Home Assistant, or a cook's automation, would see.

The one recording subscriber of the tests. It subscribes on every (re)connect,
so it follows a broker that restarts on the same port, and keeps each message
with its arrival time, QoS and retain flag (a message forwarded live has it 0,
one replayed because we subscribed has it 1: MQTT 3.1.1 §3.3.1.3). A test
waits for one (``wait_for``, ``take``) or looks at all of them, from a
``mark`` on.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

EVERYTHING_POTWATCH = ("potwatch/#", "homeassistant/#")


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float  # time.monotonic() when it arrived

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.payload)


def is_discovery(topic: str) -> bool:
    return topic.startswith("homeassistant/") and topic.endswith("/config")


class Recorder:
    """A paho subscriber to ``topics`` on ``host:port``, on its own thread; ``messages`` is every one, in order."""

    def __init__(self, host: str, port: int, topics: tuple[str, ...] = EVERYTHING_POTWATCH, keepalive: int = 5) -> None:
        self.topics = topics
        self.messages: list[Seen] = []
        self._changed = threading.Condition()
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"recorder-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)  # back soon after a broker's restart, as Home Assistant is
        self.client.connect(host, port, keepalive=keepalive)
        self.client.loop_start()
        if not subscribed.wait(5):
            self.close()
            raise AssertionError(f"the recorder could not subscribe on {host}:{port}")

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        if not rc.is_failure:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        seen = Seen(message.topic, bytes(message.payload), bool(message.retain), message.qos, time.monotonic())
        with self._changed:
            self.messages.append(seen)
            self._changed.notify_all()

    def all(self, topic: str | None = None, after: int = 0) -> list[Seen]:
        with self._changed:
            return [m for m in self.messages[after:] if topic is None or m.topic == topic]

    def first(self, topic: str) -> Seen | None:
        found = self.all(topic)
        return found[0] if found else None

    def last(self, topic: str) -> Seen | None:
        found = self.all(topic)
        return found[-1] if found else None

    def mark(self) -> int:
        """Where the messages from now on start: an ``after`` for the other methods."""
        with self._changed:
            return len(self.messages)

    def wait_for(self, check: Callable[[Seen], bool], timeout: float = 10.0, after: int = 0, what: str = "") -> Seen:
        """The first message from index ``after`` on that passes ``check``; fails after ``timeout``."""
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages[after:]:
                    if check(message):
                        return message
                left = end - time.monotonic()
                if left <= 0:
                    topics = sorted({m.topic for m in self.messages[after:]})
                    raise AssertionError(f"no message {what} within {timeout} s; topics seen since: {topics}")
                self._changed.wait(left)

    def take(self, topic: str, timeout: float, where: Callable[[Seen], bool] = lambda m: True, after: int = 0) -> Seen:
        """The first message on ``topic`` from index ``after`` on that matches ``where``."""
        return self.wait_for(lambda m: m.topic == topic and where(m), timeout, after, f"on {topic}")

    def live(self, after: int = 0) -> dict[str, Seen]:
        """The first live (not replayed) message on each topic since ``after``."""
        first: dict[str, Seen] = {}
        for message in self.all(after=after):
            if not message.retain:
                first.setdefault(message.topic, message)
        return first

    def discovery(self, after: int = 0) -> dict[str, Seen]:
        """The last Home Assistant discovery config on each topic since ``after``."""
        return {m.topic: m for m in self.all(after=after) if is_discovery(m.topic)}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.loop_stop()


@contextlib.contextmanager
def recording(host: str, port: int, *topics: str) -> Iterator[Recorder]:
    """A ``Recorder`` for the block (on ``potwatch/#`` and ``homeassistant/#`` if no topics are given)."""
    recorder = Recorder(host, port, topics or EVERYTHING_POTWATCH)
    try:
        yield recorder
    finally:
        recorder.close()
