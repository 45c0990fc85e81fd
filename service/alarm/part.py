"""The alarm part: the hub's alerts → the dispatcher → push, buzzer and voice, each on its own task.

The hub's hook only tells the dispatcher and starts tasks: a delivery is
never awaited in the hub's step, nor one after another, so a push service
that takes 10 s never delays the buzzer, another service or a reading. An
acknowledgement (from the page, the API, MQTT, Home Assistant's button or a
push action: all go through the hub) cancels what is still on its way for
the alert and silences every channel at once.

``run`` ticks the dispatcher on the hub's clock (repeats, escalation, held
messages) every ``TICK_S``; the words of each send are taken from the
kitchen at that moment (``service/alarm/messages.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import APIRouter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from service.alarm.channel import AlarmMessage, Channel, Delivery
from service.alarm.dispatcher import Action, AlertInfo, Dispatcher, Rules, Send, Silence
from service.alarm.messages import AlertFacts, alarm_message, self_test_message
from service.core.alert_text import probe_name
from service.core.events import (
    Acknowledge,
    Alert,
    AlertAcked,
    AlertCleared,
    AlertLevel,
    AlertPushed,
    AlertRaised,
    CookEnded,
    MarkPushed,
    Output,
)
from service.runtime.ack_keys import ack_key
from service.runtime.views import AlarmChannelHealth, AlarmHealth, AlarmTestEntry, AlarmTestView, cook_json

if TYPE_CHECKING:
    from service.config import AlarmConfig
    from service.runtime.hub import Hub

log = logging.getLogger(__name__)

TICK_S = 0.2  # real seconds between two looks at the repeats: an escalation is late by at most this
SILENCE_S = 0.9  # each channel's silence() is given this long: the last one is quiet within 1 s
CLOSE_S = 1.2  # the service gives each part 1.5 s to close
TEST_S = 20.0  # a self-test waits this long for the slowest channel (push: timeout × retries)


def rules_from_config(alarm: AlarmConfig) -> Rules:
    routes = {level: frozenset(alarm.routes.of(level)) for level in ("info", "warning", "critical")}
    return Rules(
        routes=routes,
        push_every=alarm.push_every,
        voice_every=alarm.voice_every,
        escalate_after=alarm.escalate_after,
        escalate_to=frozenset(alarm.escalate_to),
    )


def _info(alert: Alert) -> AlertInfo:
    return AlertInfo(alert.id, alert.kind.value, alert.level, alert.probe, alert.cook_id, alert.step)


class AlarmPart:
    """The ``Part`` that makes the alarm reach the cook while the page is dark."""

    name = "alarm"

    def __init__(
        self,
        channels: list[Channel],
        rules: Rules,
        *,
        unit: str = "F",
        page_url: str | None = None,
        token: str = "",
        mqtt_connected: Callable[[], bool] | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        self.channels = channels
        self.tick_s = tick_s
        self.dispatcher = Dispatcher(rules, {c.kind for c in channels})
        self.unit = unit
        self.page_url = page_url  # the page's LAN address: a push action posts the ack there
        self.token = token
        self.mqtt_connected = mqtt_connected  # None: no [mqtt], no entry in the self-test
        self.last_silence_s: float | None = None
        self.ticked_at = float("-inf")  # the hub-clock time of the last look at the repeats
        self.ticks = 0  # looks taken: a test waits for some to pass rather than for time to
        self._hub: Hub | None = None
        self._alerts: dict[str, Alert] = {}  # the alerts a send may still word (the kitchen forgets old ones)
        self._inflight: dict[str, set[asyncio.Task[None]]] = {}
        self._silencing: set[asyncio.Task[None]] = set()
        self._pending: list[Action] = []  # decided before the loop ran (alerts resumed at start)
        self._marked: set[str] = set()  # alerts whose first accepted push was told to the hub
        # what each channel found wrong at start: its notices() may look at the disk and the
        # sound server, which /healthz must not do on the loop
        self._start_notices: dict[str, list[str]] = {}
        self._closing = False

    @classmethod
    def from_config(
        cls,
        channels: list[Channel],
        alarm: AlarmConfig,
        *,
        page_url: str | None,
        token: str,
        mqtt_connected: Callable[[], bool] | None = None,
    ) -> AlarmPart:
        return cls(
            channels,
            rules_from_config(alarm),
            unit=alarm.unit,
            page_url=page_url,
            token=token,
            mqtt_connected=mqtt_connected,
        )

    # ---- Part ----------------------------------------------------------------------------

    def attach(self, hub: Hub) -> None:
        self._hub = hub
        hub.on_output.append(self._on_output)
        # A cook resumed after a power cut may have alerts the cut kept from the cook: they are
        # sent again, as if raised now (a critical's repeats and escalation start afresh, rather
        # than all falling due at once for the time the service was down). One of a cook that
        # ended (stopped, done) stays quiet.
        now = hub.clock.monotonic()
        for alert in hub.kitchen.active_alerts():
            cook = hub.kitchen.cooks.get(alert.cook_id or "")
            if (cook is None or cook.ended_at is None) and self._resend(alert):
                self._alerts[alert.id] = alert
                self._pending += self.dispatcher.raised(_info(alert), now)

    def _resend(self, alert: Alert) -> bool:
        """Whether an alert still active at a restart is sent again.

        A critical one rings until answered, pushed before the cut or not. A
        warning is sent once: again only if its push never got through (the
        service down, or the plug pulled first), which the history says
        (``Alert.pushed_at``); so only where its route has a push channel. An info
        alert is never active: a moment's news (in the window, probe back), stale
        by the time the Pi is back.
        """
        if alert.level is AlertLevel.CRITICAL:
            return True
        if alert.level is not AlertLevel.WARNING or alert.pushed_at is not None:
            return False
        routed = self.dispatcher.rules.routes.get(alert.level.value, frozenset())
        return "push" in routed and any(c.kind == "push" for c in self.channels)

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.post("/api/alarm/test", tags=["commands"])
        async def alarm_test() -> AlarmTestView:
            """Send a test through every alarm channel at once; per channel, whether it was accepted and how fast."""
            return await self.self_test()

        return [router]

    def health(self) -> dict[str, object]:
        return {"alarm": self.health_view()}

    async def run(self) -> None:
        hub = self._require_hub()
        for channel in self.channels:
            self._start_notices[channel.name] = notices = await asyncio.to_thread(channel.notices)
            for notice in notices:
                log.warning("alarm: %s", notice if notice.startswith(channel.name) else f"{channel.name}: {notice}")
        kinds = ", ".join(f"{c.name}" for c in self.channels) or "none"
        log.info("alarm: channels %s", kinds)
        self._act(self._pending)
        self._pending = []
        while True:
            now = hub.clock.monotonic()
            try:
                if not self._closing:  # the channels are closing or closed: nothing to send on
                    self._act(self.dispatcher.tick(now))
            except Exception:
                # a bug in wording one message must not end the part (and with it the service,
                # which would resume the same alert and fail again): said, and the next tick goes on
                log.exception("alarm: a tick failed")
            self.ticked_at = now
            self.ticks += 1
            await asyncio.sleep(self.tick_s)

    async def close(self) -> None:
        self._closing = True
        for tasks in self._inflight.values():
            for task in tasks:
                task.cancel()
        results = await asyncio.gather(
            *(asyncio.wait_for(c.close(), CLOSE_S) for c in self.channels), return_exceptions=True
        )
        for channel, result in zip(self.channels, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("alarm: %s did not close cleanly: %s", channel.name, result)

    # ---- the hub's outputs → the dispatcher ---------------------------------------------------

    def _on_output(self, out: Output) -> None:
        """The hub's hook: tell the dispatcher, start what it says; never waits."""
        if isinstance(out, AlertRaised):
            self._alerts[out.alert.id] = out.alert
            # Sent now, so its repeats count from now. An alert may be dated earlier than the step
            # that raises it: a probe whose stale timeout ran out while the service was down is lost
            # at that deadline, seconds back; from its own date, its first repeat fell due at the
            # next tick and it was pushed twice within milliseconds.
            now = out.at if self._hub is None else max(out.at, self._hub.clock.monotonic())
            actions = self.dispatcher.raised(_info(out.alert), now)
        elif isinstance(out, AlertAcked):
            followers = self.dispatcher.followers(out.alert_id)
            actions = self.dispatcher.acked(out.alert_id, out.at)
            self._ack_followers(followers, out.at)
        elif isinstance(out, AlertCleared):
            actions = self.dispatcher.cleared(out.alert_id, out.at)
        elif isinstance(out, CookEnded):
            actions = self.dispatcher.cook_ended(out.cook_id, out.at)
        elif isinstance(out, AlertPushed):
            self._marked.discard(out.alert_id)  # the kitchen holds the mark now
            return
        else:
            return
        self._act(actions)
        live = set(self.dispatcher.active())
        for alert_id in [i for i in self._alerts if i not in live]:
            del self._alerts[alert_id]

    def _ack_followers(self, followers: list[str], at: float) -> None:
        """Alerts merged into the one acknowledged are acknowledged with it, in the kitchen too.

        Otherwise the page and MQTT would go on showing them, and a restart would
        ring them again, though the cook answered the alarm they were part of.
        """
        hub = self._hub
        if hub is None:
            return
        for alert_id in followers:
            alert = hub.kitchen.alerts.get(alert_id)
            if alert is not None and not alert.acked:
                hub.post(Acknowledge(at, alert_id))

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Silence):
                self._silence(action.alert_ids, action.quiet)
            else:
                self._send(action)

    def _send(self, send: Send) -> None:
        if self._closing:
            return
        message = self._message(send)
        if message is None:
            return
        for channel in self.channels:
            if channel.kind != send.channel:
                continue
            task = asyncio.get_running_loop().create_task(
                self._deliver(channel, message), name=f"alarm {channel.name} {send.alert_id}"
            )
            tasks = self._inflight.setdefault(send.alert_id, set())
            tasks.add(task)
            task.add_done_callback(functools.partial(self._finished, send.alert_id))

    def _finished(self, alert_id: str, task: asyncio.Task[None]) -> None:
        tasks = self._inflight.get(alert_id)
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                del self._inflight[alert_id]

    async def _deliver(self, channel: Channel, message: AlarmMessage) -> None:
        delivery = await _bounded(channel, message)
        channel.health.record(delivery)
        if delivery.ok and channel.kind == "push":
            self._mark_pushed(message.alert_id, channel.name)
        if delivery.ok:
            log.info(
                "alarm: %s %s %s (repeat %d%s) in %.0f ms",
                channel.name,
                message.kind,
                message.alert_id,
                message.repeat,
                ", escalated" if message.escalated else "",
                delivery.latency_s * 1000,
            )
        else:
            log.warning("alarm: %s could not send %s: %s", channel.name, message.alert_id, delivery.error)

    def _mark_pushed(self, alert_id: str, channel: str) -> None:
        """The first push of an alert that got through goes to the hub, so that the history records it.

        Per alert, not per channel: a restart sends an alert to every push
        channel of its route at once, so resending to one service that failed
        would ring again on the others that had it. One accepted push means the
        phone has it. Posted, never awaited: the delivery's task ends now.
        """
        hub = self._hub
        if hub is None or alert_id in self._marked:
            return
        alert = hub.kitchen.alerts.get(alert_id)
        if alert is None or alert.pushed_at is not None:
            return
        self._marked.add(alert_id)
        hub.post(MarkPushed(hub.clock.monotonic(), alert_id, channel))

    def _silence(self, alert_ids: tuple[str, ...], quiet: bool) -> None:
        """Cancel what is on its way for these alerts, and (``quiet``) make every channel quiet at once."""
        for alert_id in alert_ids:
            for task in self._inflight.pop(alert_id, set()):
                task.cancel()
        if not quiet:
            return  # another critical alert still rings: its buzzer and voice go on
        task = asyncio.get_running_loop().create_task(self._quiet_all(alert_ids), name="alarm silence")
        self._silencing.add(task)
        task.add_done_callback(self._silencing.discard)

    async def _quiet_all(self, alert_ids: tuple[str, ...]) -> None:
        start = time.monotonic()
        results = await asyncio.gather(
            *(asyncio.wait_for(c.silence(alert_ids), SILENCE_S) for c in self.channels), return_exceptions=True
        )
        self.last_silence_s = time.monotonic() - start
        for channel, result in zip(self.channels, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("alarm: %s was not silenced in time: %s", channel.name, result)

    # ---- words ----------------------------------------------------------------------------

    def _message(self, send: Send) -> AlarmMessage | None:
        alert = self._alerts.get(send.alert_id)
        hub = self._hub
        if alert is None or hub is None:
            return None
        return alarm_message(
            self._facts(hub, alert),
            self.unit,
            repeat=send.repeat,
            escalated=send.escalated,
            folded=send.folded,
            ack_url=self._ack_url(alert.id),
            ack_token=ack_key(self.token, alert.id) if self.token else None,
        )

    def _ack_url(self, alert_id: str) -> str | None:
        if not self.page_url:
            return None
        return f"{self.page_url.rstrip('/')}/api/alerts/{alert_id}/ack"

    def _facts(self, hub: Hub, alert: Alert) -> AlertFacts:
        """The alert with what the kitchen knows now: the pot's level, the step's target, the ETA."""
        now = hub.clock.monotonic()
        facts = AlertFacts(
            alert_id=alert.id,
            kind=alert.kind.value,
            level=alert.level,
            step=alert.step,
            probe=probe_name(alert.probe, hub.labels.get(alert.probe)),
            message=alert.message,
            celsius=alert.celsius,
            since_s=max(now - alert.at, 0.0),
        )
        cook = hub.kitchen.cooks.get(alert.cook_id or "")
        if cook is None or cook.step.name != alert.step:
            return facts
        view = cook_json(hub.kitchen, cook, hub.clock)
        level_c = view["level_c"]
        return replace(
            facts,
            celsius=level_c if level_c is not None and cook.ended_at is None else alert.celsius,
            target_c=view["target_c"],
            overshoot_c=view["overshoot_c"],
            low_c=view["low_c"],
            high_c=view["high_c"],
            eta_s=view["eta_s"],
        )

    # ---- the self-test ----------------------------------------------------------------------

    async def self_test(self) -> AlarmTestView:
        """Every channel at once, each bounded; the page and MQTT say whether they could carry an alarm now."""
        message = self_test_message(f"test-{int(time.time())}", self.unit)
        deliveries = await asyncio.gather(*(_bounded(c, message, TEST_S) for c in self.channels))
        entries: list[AlarmTestEntry] = []
        for channel, delivery in zip(self.channels, deliveries, strict=True):
            channel.health.record(delivery)
            entries.append(
                AlarmTestEntry(
                    channel=channel.name,
                    kind=channel.kind,
                    ok=delivery.ok,
                    latency_ms=round(delivery.latency_s * 1000, 1),
                    error=delivery.error,
                )
            )
        hub = self._hub
        if hub is not None:
            phones = hub.bus.phones
            entries.append(
                AlarmTestEntry(
                    channel="page",
                    kind="page",
                    ok=phones > 0,
                    latency_ms=None,
                    error=None if phones else "no phone is following the page (/api/events) right now",
                )
            )
        if self.mqtt_connected is not None:
            up = self.mqtt_connected()
            entries.append(
                AlarmTestEntry(
                    channel="mqtt",
                    kind="mqtt",
                    ok=up,
                    latency_ms=None,
                    error=None if up else "not connected to the broker",
                )
            )
        log.info(
            "alarm: self-test: %s",
            ", ".join(f"{e['channel']} {'ok' if e['ok'] else 'FAILED'}" for e in entries) or "no channel",
        )
        return AlarmTestView(ok=all(e["ok"] for e in entries), channels=entries)

    # ---- health and metrics -----------------------------------------------------------------

    def health_view(self) -> AlarmHealth:
        stats = self.dispatcher.stats
        return AlarmHealth(
            channels={
                c.name: AlarmChannelHealth(
                    kind=c.kind,
                    sent=c.health.sent,
                    failed=c.health.failed,
                    last_latency_s=None if c.health.last_latency_s is None else round(c.health.last_latency_s, 4),
                    last_error=c.health.last_error,
                    notices=list(c.health.notices) or self._start_notices.get(c.name, []),
                )
                for c in self.channels
            },
            active=len(self.dispatcher.active()),
            held=stats.held,
            merged=stats.merged,
            repeated_warning=stats.repeated_warning,
            last_silence_ms=None if self.last_silence_s is None else round(self.last_silence_s * 1000, 1),
        )

    def collector(self) -> Collector:
        return AlarmCollector(self)

    def _require_hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("AlarmPart.run before attach")
        return self._hub


async def _bounded(channel: Channel, message: AlarmMessage, limit_s: float | None = None) -> Delivery:
    """A delivery that answers whatever happens: a channel that raises or hangs is its own failure."""
    start = time.monotonic()
    try:
        if limit_s is None:
            return await channel.deliver(message)
        return await asyncio.wait_for(channel.deliver(message), limit_s)
    except TimeoutError:
        return Delivery(channel.name, ok=False, latency_s=time.monotonic() - start, error=f"no answer in {limit_s:g} s")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the contract says a channel never raises; one that does is counted, not fatal
        log.exception("alarm: %s raised on delivery", channel.name)
        return Delivery(
            channel.name, ok=False, latency_s=time.monotonic() - start, error=f"{type(exc).__name__}: {exc}"
        )


class AlarmCollector(Collector):
    """Per-channel counters for ``/metrics``, read from the channels' health at scrape time."""

    def __init__(self, part: AlarmPart) -> None:
        self.part = part

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        by = ["channel", "kind"]
        sent = CounterMetricFamily("potwatch_alarm_sent", "Alarm messages a channel accepted", labels=by)
        failed = CounterMetricFamily("potwatch_alarm_failed", "Alarm messages a channel failed", labels=by)
        latency = GaugeMetricFamily("potwatch_alarm_last_latency_seconds", "How long the last delivery took", labels=by)
        for c in self.part.channels:
            labels = [c.name, c.kind]
            sent.add_metric(labels, c.health.sent)
            failed.add_metric(labels, c.health.failed)
            if c.health.last_latency_s is not None:
                latency.add_metric(labels, c.health.last_latency_s)
        yield sent
        yield failed
        yield latency
        active = GaugeMetricFamily("potwatch_alarm_active", "Alerts the alarm still repeats or holds")
        active.add_metric([], len(self.part.dispatcher.active()))
        yield active
