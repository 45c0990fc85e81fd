"""The push channel: one Apprise URL, sent to from a worker thread of its own.

Apprise's plugins send with blocking ``requests`` calls, so each channel
owns one daemon thread and the event loop only waits on it, never longer
than the channel's ``timeout_s``. One thread per channel means a service
that hangs holds up nobody but itself. Each attempt is bounded by the time
left (Apprise's ``cto``/``rto`` connect and read timeouts), so the thread
frees itself too; what a timeout cannot bound (a DNS look-up that hangs, a
server that drips a byte a second) only keeps that channel's own thread
busy, while ``deliver`` has already answered. Then a new message waits for
the thread within its own timeout, at most one waits (a newer message takes
the place of a waiting one, which answers "superseded"), and threads never
pile up.

A failed attempt (a 500, a refused connection, a read timeout) is retried
after ``retry_backoff_s``, doubling, while time is left; ``Delivery.attempts``
says how many were made. Apprise's own retries (``?retry=``) are turned off
so that the count is true.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import apprise

from service.alarm.channel import AlarmMessage, ChannelHealth, Delivery
from service.alarm.push_arguments import ntfy_ack_action, priority_arguments
from service.alarm.push_reasons import apprise_messages, failure_reason, keep_apprise_out_of_the_log
from service.alarm.push_url import PushTarget, parse_push_url
from service.core.events import AlertLevel

NOTIFY_TYPE = {
    AlertLevel.INFO: apprise.NotifyType.INFO,
    AlertLevel.WARNING: apprise.NotifyType.WARNING,
    AlertLevel.CRITICAL: apprise.NotifyType.FAILURE,
}
keep_apprise_out_of_the_log()

CONNECT_TIMEOUT_S = 5.0  # at most, for one attempt's TCP (and TLS) connect; the read gets all the time left
MIN_ATTEMPT_S = 0.05  # less time left than this is not worth a request


@dataclass
class _Job:
    """One message for the worker, with its deadline (on ``time.monotonic``) and a way to stop its retries."""

    message: AlarmMessage
    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)
    attempts: int = 0  # counted by the worker, read by a deliver that stopped waiting
    result: Future[tuple[bool, int, str | None]] = field(default_factory=Future)


class PushChannel:
    """A push service reached through one Apprise URL (the ``Channel`` of ``service/alarm/channel.py``)."""

    kind = "push"

    def __init__(
        self,
        url: str,
        *,
        index: int = 1,
        timeout_s: float = 10.0,
        retries: int = 2,
        retry_backoff_s: float = 0.5,
    ) -> None:
        parsed = parse_push_url(url)
        self._target: PushTarget | None = parsed if isinstance(parsed, PushTarget) else None
        self._problem: str | None = None if self._target is not None else str(parsed)
        sid = self._target.service_id if self._target is not None else _schema_of(url)
        self.name = f"push:{sid}" if index <= 1 else f"push:{sid}#{index}"
        self.shown_url = self._target.shown if self._target is not None else None
        self.health = ChannelHealth()
        # alerts already sent at Pushover's emergency priority: it re-alerts by itself until
        # acknowledged in the Pushover app, which our ack cannot cancel, so once per alert is enough
        self._emergency_sent: set[str] = set()
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.retry_backoff_s = max(0.0, retry_backoff_s)
        self._asset = apprise.AppriseAsset(app_id="potwatch", app_desc="potwatch")
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._running: _Job | None = None  # sent by the worker now (touched on the event loop only)
        # the message of each alert waiting for the worker: one per alert, a newer one of the same
        # alert taking its place (a repeat, an escalation), so a dead service never piles up work
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._closed = False
        self._thread: threading.Thread | None = None

    # ---- the Channel protocol ----------------------------------------------------------------

    def notices(self) -> list[str]:
        """A URL Apprise cannot use (every delivery then fails with it), or an ntfy without its ack button."""
        if self._problem:
            return [f"{self.name}: {self._problem}"]
        if self._target is not None and self._target.service == "ntfy" and "actions" not in self._target.plugin_args:
            return [f"{self.name}: this Apprise's ntfy plugin has no action buttons: acknowledge on the page"]
        return []

    async def deliver(self, message: AlarmMessage) -> Delivery:
        start = time.monotonic()
        try:
            ok, attempts, error = await self._deliver(message, start + self.timeout_s)
        except Exception as e:  # never raises: a bug here must not silence the other channels
            ok, attempts, error = False, 0, f"internal error: {type(e).__name__}"
        if ok and message.escalated and self._target is not None and self._target.service == "Pushover":
            self._emergency_sent.add(message.alert_id)
        # recorded in ``health`` by the alarm part, which records every channel's deliveries
        return Delivery(self.name, ok, time.monotonic() - start, None if ok else error, attempts)

    async def silence(self, alert_ids: Collection[str] | None = None) -> None:
        """No more retries for these alerts (None: all), their waiting messages dropped; one sent is sent.

        Another alert's message is left to go: acknowledging the caramel's alarm
        must not swallow the side probe's warning waiting behind it.
        """
        for alert_id, waiting in self._waiting.items():
            if (alert_ids is None or alert_id in alert_ids) and not waiting.done():
                waiting.set_result("silenced before it was sent")
        running = self._running
        if running is not None and (alert_ids is None or running.message.alert_id in alert_ids):
            running.stop.set()

    async def close(self) -> None:
        await self.silence()
        self._closed = True
        if self._thread is not None:
            self._jobs.put(None)  # the worker ends after what it is sending now (a daemon: never waited for)

    # ---- the event loop's side ---------------------------------------------------------------

    async def _deliver(self, message: AlarmMessage, deadline: float) -> tuple[bool, int, str | None]:
        if self._problem is not None:
            return False, 0, self._problem
        if self._closed:
            return False, 0, "the channel is closed"
        # a loop, not an if: another message may take the worker between its freeing and this one's turn
        while self._running is not None and not self._running.result.done():
            why = await self._wait_for_worker(self._running, message.alert_id, deadline)
            if why is not None:
                return False, 0, why
        job = _Job(message, deadline)
        self._running = job
        self._start_worker()
        self._jobs.put(job)
        left = deadline - time.monotonic()
        try:
            done, _ = await asyncio.wait([asyncio.wrap_future(job.result)], timeout=max(0.0, left))
        except asyncio.CancelledError:
            job.stop.set()  # the alarm part gave this delivery up (its alert acknowledged): no more retries
            raise
        if not done:
            job.stop.set()
            return False, max(1, job.attempts), f"timed out: no answer within {self.timeout_s:.1f} s"
        return job.result.result()

    async def _wait_for_worker(self, running: _Job, alert_id: str, deadline: float) -> str | None:
        """Wait (as its alert's only message waiting) for the worker to be free; why not, if it does not come to that.

        Only a newer message of the same alert supersedes a waiting one: another
        alert's (the alarm behind a probe-lost warning, two probes lost at once)
        waits its turn, else it was dropped, and a warning is sent once.
        """
        earlier = self._waiting.get(alert_id)
        if earlier is not None and not earlier.done():
            earlier.set_result("superseded by a newer message")
        ticket: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[alert_id] = ticket
        free = asyncio.wrap_future(running.result)
        either: list[asyncio.Future[Any]] = [ticket, free]
        try:
            await asyncio.wait(
                either, timeout=max(0.0, deadline - time.monotonic()), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if self._waiting.get(alert_id) is ticket:
                del self._waiting[alert_id]
        if ticket.done():
            return ticket.result()
        if not free.done():
            return f"timed out: the previous message is still unanswered after {self.timeout_s:.1f} s"
        return None

    def _start_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"alarm-{self.name}", daemon=True)
            self._thread.start()

    # ---- the worker thread's side ------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                outcome = self._send(job)
            except Exception as e:  # Apprise raising past its own handling: a failed delivery, not a dead thread
                outcome = (False, max(1, job.attempts), f"internal error: {type(e).__name__}")
            if job.result.set_running_or_notify_cancel():  # False: whoever waited is gone
                job.result.set_result(outcome)

    def _send(self, job: _Job) -> tuple[bool, int, str | None]:
        """Attempts with backoff until one is accepted, the retries are spent, time is up or silenced."""
        attempts, reason = 0, "timed out before it could be sent"
        pause = self.retry_backoff_s
        while True:
            left = job.deadline - time.monotonic()
            if left < MIN_ATTEMPT_S:
                return False, attempts, reason
            attempts += 1
            job.attempts = attempts
            ok, reason = self._attempt(job.message, left)
            if ok:
                return True, attempts, None
            if attempts > self.retries or time.monotonic() + pause >= job.deadline:
                return False, attempts, reason
            if job.stop.wait(pause):
                return False, attempts, f"{reason}; not retried: silenced"
            pause *= 2

    def _attempt(self, message: AlarmMessage, left: float) -> tuple[bool, str]:
        assert self._target is not None
        connect = min(CONNECT_TIMEOUT_S, left)
        extra: dict[str, Any] = {"cto": connect, "rto": left, "retry": 0}
        extra.update(self._message_arguments(message))
        started = time.monotonic()
        with apprise_messages() as logged:
            try:
                plugin = apprise.Apprise.instantiate(
                    self._target.with_arguments(extra), asset=self._asset, suppress_exceptions=False
                )
            except Exception:
                plugin = None
            if plugin is None:
                return False, f"Apprise refused the {self._target.service} URL with this message's arguments"
            ok = bool(plugin.notify(body=message.body, title=message.title, notify_type=NOTIFY_TYPE[message.level]))
        return ok, "" if ok else failure_reason(logged, time.monotonic() - started, left)

    def _message_arguments(self, message: AlarmMessage) -> dict[str, Any]:
        """The priority for this level (unless the URL set its own), and ntfy's ack button."""
        assert self._target is not None
        given = self._target.arguments
        out: dict[str, Any] = {
            k: v
            for k, v in priority_arguments(
                self._target.service, message.level, message.escalated and message.alert_id not in self._emergency_sent
            ).items()
            if given.get(k) in (None, "")
        }
        if self._target.service == "ntfy" and message.ack_url and "actions" in self._target.plugin_args:
            action = ntfy_ack_action(message.ack_url, message.ack_token)
            mine = given.get("actions")
            out["actions"] = f"{mine}; {action}" if mine else action
        return out


def push_channels(urls: Sequence[str], **options: Any) -> list[PushChannel]:
    """A channel per URL, numbered per service (``push:ntfy``, ``push:ntfy#2``) so that names stay apart."""
    seen: dict[str, int] = {}
    channels = []
    for url in urls:
        parsed = parse_push_url(url)
        sid = parsed.service_id if isinstance(parsed, PushTarget) else _schema_of(url)
        seen[sid] = seen.get(sid, 0) + 1
        channels.append(PushChannel(url, index=seen[sid], **options))
    return channels


def _schema_of(url: str) -> str:
    """A name for a URL Apprise could not read: its schema when it has a plain one, never more of it."""
    head = url.split("://", 1)[0].lower() if isinstance(url, str) and "://" in url else ""
    return head if head.isalnum() and len(head) <= 20 else "invalid"
