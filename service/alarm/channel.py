"""What every alarm channel (push, buzzer, voice) looks like to the dispatcher.

The dispatcher decides *when* a channel speaks (routing by level, repeats
until acknowledged, escalation, de-duplication); a channel only knows *how*.
A channel never blocks the event loop and never raises: ``deliver`` bounds
itself with its own timeout and answers a ``Delivery`` either way, so that a
slow push service cannot delay the buzzer, another service or the tracker.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from service.core.events import AlertLevel


@dataclass(frozen=True, slots=True)
class AlarmMessage:
    """One thing to tell the cook, already worded (``service/alarm/messages.py``)."""

    alert_id: str  # the tracker's stable alert id ("test-…" for a self-test)
    kind: str  # an AlertKind value, or "test"
    level: AlertLevel
    title: str  # "Caramel at 225 °F"
    body: str  # what happened, the temperature, the ETA or how far past, what to do
    spoken: str  # what the voice says: "Caramel at 225 degrees. Take it off the heat."
    repeat: int = 0  # 0: the first send; n: the n-th repeat of an unacknowledged alert
    escalated: bool = False  # nobody answered within the escalation delay: push priority rises
    ack_url: str | None = None  # POST here (with ack_token as a bearer token) to acknowledge
    ack_token: str | None = None
    test: bool = False  # a self-test: said as a test, never repeated


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one delivery went: the self-test's per-channel entry and the health counters' input."""

    channel: str
    ok: bool
    latency_s: float
    error: str | None = None
    attempts: int = 1


@dataclass(slots=True)
class ChannelHealth:
    """Delivery health, on ``/healthz`` and ``/metrics`` (per channel)."""

    sent: int = 0
    failed: int = 0
    last_latency_s: float | None = None
    last_error: str | None = None
    notices: list[str] = field(default_factory=list)  # e.g. "espeak-ng not found: no voice"

    def record(self, delivery: Delivery) -> None:
        if delivery.ok:
            self.sent += 1
        else:
            self.failed += 1
            self.last_error = delivery.error
        self.last_latency_s = delivery.latency_s


class Channel(Protocol):
    """One alarm channel.

    ``kind`` is what the config's routes name (``"push"``, ``"buzzer"``,
    ``"voice"``); ``name`` tells channels of one kind apart on ``/healthz``,
    ``/metrics`` and in the self-test (``"push:ntfy"``, ``"push:json#2"``), and
    never holds a secret from a URL.
    """

    kind: str
    name: str
    health: ChannelHealth

    def notices(self) -> list[str]:
        """Problems found at start (a missing binary, no audio device, a bad URL): logged and on /healthz."""
        ...

    async def deliver(self, message: AlarmMessage) -> Delivery:
        """Send (or start sounding) ``message``; bounded by the channel's own timeout; never raises."""
        ...

    async def silence(self, alert_ids: Collection[str] | None = None) -> None:
        """Stop at once what is sounding or queued for these alerts (acknowledged; None: all): within 1 s.

        A sound is one for the kitchen, so a buzzer or a voice goes quiet whatever the
        ids; a queue of messages (push) drops only these alerts' own, so a warning
        waiting behind the acknowledged alarm is still sent.
        """
        ...

    async def close(self) -> None:
        """The service stops: silence, and release the device or the worker threads."""
        ...
