"""A real alarm channel for tests: it implements the Channel protocol and remembers what it was told.

Not a mock: the dispatcher's part drives it exactly as it drives push, the
buzzer and the voice. It "sounds" from a delivery until it is silenced (as
the buzzer does), can take its time (``delay_s``: a slow push service,
cancellable as a real one is) and can fail (``fail``: the error a delivery
answers). Times are the loop's (``time.monotonic``), for measuring how soon
an acknowledgement made it silent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from service.alarm.channel import AlarmMessage, ChannelHealth, Delivery
from service.core.events import AlertLevel


@dataclass
class Delivered:
    message: AlarmMessage
    at: float  # time.monotonic() when the delivery began
    done_at: float | None = None  # when it returned (None: still going, or cancelled)


@dataclass
class RecordingChannel:
    kind: str
    name: str = ""
    delay_s: float = 0.0
    fail: str | None = None
    start_notices: list[str] = field(default_factory=list)
    health: ChannelHealth = field(default_factory=ChannelHealth)
    deliveries: list[Delivered] = field(default_factory=list)
    silences: list[float] = field(default_factory=list)
    cancelled: int = 0
    closed: bool = False
    sounding: bool = False
    silent_since: float | None = None  # when the last silence() ended the sound

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.kind}:recording"

    def notices(self) -> list[str]:
        return list(self.start_notices)

    async def deliver(self, message: AlarmMessage) -> Delivery:
        start = time.monotonic()
        record = Delivered(message, start)
        self.deliveries.append(record)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        record.done_at = time.monotonic()
        if self.fail is not None:
            return Delivery(self.name, ok=False, latency_s=record.done_at - start, error=self.fail)
        self.sounding = True
        return Delivery(self.name, ok=True, latency_s=record.done_at - start)

    async def silence(self, alert_ids: Collection[str] | None = None) -> None:
        self.sounding = False
        self.silent_since = time.monotonic()
        self.silences.append(self.silent_since)

    async def close(self) -> None:
        await self.silence()
        self.closed = True

    # ---- for the tests' eyes ----

    def messages(self, alert_id: str | None = None) -> list[AlarmMessage]:
        return [d.message for d in self.deliveries if alert_id is None or d.message.alert_id == alert_id]


def caramel_message(
    level: AlertLevel = AlertLevel.CRITICAL,
    *,
    escalated: bool = False,
    test: bool = False,
    ack_url: str | None = None,
    ack_token: str | None = None,
) -> AlarmMessage:
    """The caramel's alarm as a channel is handed it, for the channels' own tests."""
    return AlarmMessage(
        alert_id="c1-a3",
        kind="target_reached",
        level=level,
        title="Caramel at 225 °F",
        body="225 °F reached (224.9 °F). Take it off the heat.",
        spoken="Caramel at 225 degrees. Take it off the heat.",
        escalated=escalated,
        ack_url=ack_url,
        ack_token=ack_token,
        test=test,
    )
