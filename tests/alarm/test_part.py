"""The alarm part on a running hub: real alerts from a caramel crossing 225 °F, recording channels, the real app.

The hub runs on a hand clock: the part's repeats and escalation are judged on
it, so the test moves time and waits (with a timeout) for what must follow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from service.alarm.part import AlarmPart, rules_from_config
from service.api.app import AppSettings
from service.config import AlarmConfig, AlarmRoutes
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import (
    Acknowledge,
    Alert,
    AlertKind,
    AlertLevel,
    AlertRaised,
    MarkPushed,
    Sample,
    StartCook,
    StopCook,
    Tick,
)
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.ack_keys import ack_key
from service.runtime.hub import Hub
from tests.support.alarm import RecordingChannel
from tests.support.api import client_for
from tests.support.clock import HandClock
from tests.support.waiting import wait_until_async

PAGE = "http://192.168.1.20:8000/"


@dataclass
class Kitchen1:
    hub: Hub
    clock: HandClock
    part: AlarmPart
    push: RecordingChannel
    buzzer: RecordingChannel
    voice: RecordingChannel

    @property
    def channels(self) -> list[RecordingChannel]:
        return [self.push, self.buzzer, self.voice]

    async def caramel_to_225(self) -> Alert:
        """Start the caramel and climb through its target: the tracker raises target_reached."""
        hub, clock = self.hub, self.clock
        await hub.request(StartCook(clock.t, hub.profiles["caramel"], "pot"))
        for i in range(90):
            clock.t += 1.0
            await hub.request(Sample(clock.t, "pot", "", f_to_c(220.0 + 0.1 * i)))
            reached = [a for a in hub.kitchen.alerts.values() if a.kind.value == "target_reached"]
            if reached:
                return reached[0]
        raise AssertionError("the caramel never reached 225 °F")

    async def ticked(self) -> None:
        """Wait until the part has looked at the repeats at the clock's present time."""
        await wait_until_async(lambda: self.part.ticked_at >= self.clock.t, 5, "the part to tick")

    async def at(self, t: float) -> None:
        """Move the hand clock to ``t`` a second at a time, letting the part tick at each."""
        while self.clock.t < t:
            self.clock.t = min(self.clock.t + 1.0, t)
            await self.ticked()


async def start(
    config: AlarmConfig | None = None, push_delay_s: float = 0.0
) -> tuple[Kitchen1, list[asyncio.Task[None]]]:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles(), labels={"pot": "Caramel pot"})
    push = RecordingChannel("push", delay_s=push_delay_s)
    buzzer = RecordingChannel("buzzer")
    voice = RecordingChannel("voice")
    part = AlarmPart.from_config([push, buzzer, voice], config or AlarmConfig(), page_url=PAGE, token="s3cret")
    part.tick_s = 0.01  # the hand clock moves a second per look: the looks need not take 0.2 s each
    part.attach(hub)
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(part.run())]
    return Kitchen1(hub, clock, part, push, buzzer, voice), tasks


@pytest.fixture
async def kitchen() -> AsyncIterator[Kitchen1]:
    k, tasks = await start()
    yield k
    await k.part.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def settings(k: Kitchen1, token: str = "s3cret") -> AppSettings:
    s = AppSettings(token=token, routers=k.part.routers(), collectors=[k.part.collector()])
    s.health.append(k.part.health)
    return s


AUTH = {"Authorization": "Bearer s3cret"}


async def test_a_critical_alert_reaches_every_channel_in_words_a_cook_can_act_on(kitchen: Kitchen1) -> None:
    reached = await kitchen.caramel_to_225()
    for channel in kitchen.channels:
        await wait_until_async(lambda c=channel: c.messages(reached.id), 5, f"{channel.kind} to get the alarm")
    message = kitchen.push.messages(reached.id)[0]
    assert message.title == "Caramel at 225 °F"
    assert message.spoken == "Caramel at 225 degrees. Take it off the heat."
    assert "Take it off the heat." in message.body and "°F" in message.body
    assert message.level.value == "critical" and message.repeat == 0 and not message.escalated
    assert message.ack_url == f"{PAGE}api/alerts/{reached.id}/ack"
    # a key for this alert's ack alone: the token itself never leaves for a push service
    assert message.ack_token == ack_key("s3cret", reached.id) and "s3cret" not in message.ack_token


async def test_the_unit_of_the_words_is_the_configs() -> None:
    k, tasks = await start(AlarmConfig(unit="C"))
    try:
        reached = await k.caramel_to_225()
        await wait_until_async(lambda: k.voice.messages(reached.id), 5, "the voice to get the alarm")
        assert k.voice.messages(reached.id)[0].spoken == "Caramel at 107.2 degrees. Take it off the heat."
        assert k.push.messages(reached.id)[0].title == "Caramel at 107.2 °C"
    finally:
        await k.part.close()
        for task in tasks:
            task.cancel()


async def test_it_repeats_until_the_ack_url_is_posted_then_every_channel_is_silent_within_a_second(
    kitchen: Kitchen1,
) -> None:
    reached = await kitchen.caramel_to_225()
    await kitchen.at(kitchen.clock.t + 31.0)
    await wait_until_async(lambda: len(kitchen.push.messages(reached.id)) >= 3, 5, "two repeats of the push")
    assert [m.repeat for m in kitchen.push.messages(reached.id)] == [0, 1, 2]
    assert all("still not acknowledged" in m.title for m in kitchen.push.messages(reached.id)[1:])
    # what a push action does: POST the message's ack URL with its token
    last = kitchen.push.messages(reached.id)[-1]
    assert last.ack_url is not None and last.ack_token is not None
    async with client_for(kitchen.hub, settings(kitchen)) as client:
        asked = time.monotonic()
        r = await client.post(urlsplit(last.ack_url).path, headers={"Authorization": f"Bearer {last.ack_token}"})
        assert r.status_code == 200 and r.json() == {"acked": [reached.id]}
        await wait_until_async(
            lambda: all(c.silent_since is not None and c.silent_since >= asked for c in kitchen.channels),
            1.0,
            "every channel to be silenced within 1 s of the ack",
        )
    pushes = len(kitchen.push.messages(reached.id))
    await kitchen.at(kitchen.clock.t + 120.0)
    assert len(kitchen.push.messages(reached.id)) == pushes
    assert len(kitchen.voice.messages(reached.id)) <= 3 and len(kitchen.buzzer.messages(reached.id)) == 1


async def test_escalation_on_the_hub_clock_raises_push_and_brings_the_buzzer_and_voice() -> None:
    config = AlarmConfig.model_validate(
        {"escalate_after": "60s", "routes": {"critical": ["page", "mqtt", "push"]}, "push_every": "15s"}
    )
    k, tasks = await start(config)
    try:
        reached = await k.caramel_to_225()
        raised_at = reached.at
        await k.at(raised_at + 59.0)
        assert k.buzzer.messages() == [] and k.voice.messages() == []
        assert not any(m.escalated for m in k.push.messages())
        await k.at(raised_at + 60.0)
        await wait_until_async(lambda: k.buzzer.messages() and k.voice.messages(), 5, "the buzzer and voice to join")
        assert k.buzzer.messages()[0].escalated and k.voice.messages()[0].escalated
        assert k.push.messages()[-1].escalated and k.push.messages()[-1].repeat == 4
    finally:
        await k.part.close()
        for task in tasks:
            task.cancel()


async def test_a_slow_push_delays_neither_the_buzzer_nor_the_hub_and_an_ack_cancels_it() -> None:
    k, tasks = await start(push_delay_s=30.0)
    try:
        reached = await k.caramel_to_225()
        raised = time.monotonic()
        await wait_until_async(lambda: k.buzzer.sounding, 1.0, "the buzzer, with the push still on its way")
        assert time.monotonic() - raised < 0.5
        start_request = time.monotonic()
        await k.hub.request(Sample(k.clock.t, "pot", "", f_to_c(226.0)))
        assert time.monotonic() - start_request < 0.2
        assert k.push.deliveries and k.push.deliveries[0].done_at is None
        async with client_for(k.hub, settings(k)) as client:
            assert (await client.post(f"/api/alerts/{reached.id}/ack", headers=AUTH)).status_code == 200
        await wait_until_async(lambda: k.push.cancelled == 1, 1.0, "the slow push to be cancelled by the ack")
    finally:
        await k.part.close()
        for task in tasks:
            task.cancel()


async def test_a_cook_that_ends_stops_the_repeats(kitchen: Kitchen1) -> None:
    reached = await kitchen.caramel_to_225()
    await kitchen.at(kitchen.clock.t + 16.0)
    async with client_for(kitchen.hub, settings(kitchen)) as client:
        assert (await client.post("/api/cooks/current/stop", headers=AUTH)).status_code == 200
    await wait_until_async(lambda: kitchen.buzzer.silences, 1.0, "the buzzer to be silenced as the cook ends")
    pushes = len(kitchen.push.messages(reached.id))
    await kitchen.at(kitchen.clock.t + 60.0)
    assert len(kitchen.push.messages(reached.id)) == pushes


async def test_a_critical_alert_resumed_after_a_restart_rings_again() -> None:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    hub.kitchen.handle(StartCook(clock.t, hub.profiles["caramel"], "pot"))
    for i in range(90):
        clock.t += 1.0
        hub.kitchen.handle(Sample(clock.t, "pot", "", f_to_c(220.0 + 0.1 * i)))
    (reached,) = [a for a in hub.kitchen.alerts.values() if a.kind.value == "target_reached"]
    push = RecordingChannel("push")
    part = AlarmPart([push], rules_from_config(AlarmConfig()))
    part.attach(hub)  # as the wiring does after the history rebuilt the kitchen
    task = asyncio.create_task(part.run())
    try:
        await wait_until_async(lambda: push.messages(reached.id), 5, "the unanswered alarm to ring again")
    finally:
        task.cancel()


async def test_the_self_test_reports_each_channel_and_the_page(kitchen: Kitchen1) -> None:
    kitchen.voice.fail = "espeak-ng not found"
    async with client_for(kitchen.hub, settings(kitchen)) as client:
        assert (await client.post("/api/alarm/test")).status_code == 401  # a command: the token's
        r = await client.post("/api/alarm/test", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    by_kind = {e["kind"]: e for e in body["channels"]}
    assert set(by_kind) == {"push", "buzzer", "voice", "page"}
    assert by_kind["push"]["ok"] and by_kind["push"]["latency_ms"] >= 0 and by_kind["push"]["error"] is None
    assert by_kind["voice"] == {
        "channel": "voice:recording",
        "kind": "voice",
        "ok": False,
        "latency_ms": by_kind["voice"]["latency_ms"],
        "error": "espeak-ng not found",
    }
    assert by_kind["page"]["ok"] is False and "no phone" in by_kind["page"]["error"]
    assert body["ok"] is False
    test = kitchen.push.messages()[0]
    assert test.test and "test" in test.spoken.lower() and test.repeat == 0


async def test_healthz_and_metrics_carry_each_channel(kitchen: Kitchen1) -> None:
    kitchen.voice.fail = "no audio device"
    reached = await kitchen.caramel_to_225()
    await wait_until_async(lambda: kitchen.voice.health.failed == 1, 5, "the voice's failure to be counted")
    await wait_until_async(lambda: kitchen.push.health.sent == 1, 5, "the push to be counted")
    async with client_for(kitchen.hub, settings(kitchen)) as client:
        health = (await client.get("/healthz")).json()["alarm"]
        metrics = (await client.get("/metrics")).text
    assert health["channels"]["push:recording"]["sent"] == 1
    assert health["channels"]["voice:recording"] == {
        "kind": "voice",
        "sent": 0,
        "failed": 1,
        "last_latency_s": health["channels"]["voice:recording"]["last_latency_s"],
        "last_error": "no audio device",
        "notices": [],
    }
    assert health["active"] == 1
    assert 'potwatch_alarm_sent_total{channel="push:recording",kind="push"} 1.0' in metrics
    assert 'potwatch_alarm_failed_total{channel="voice:recording",kind="voice"} 1.0' in metrics
    assert 'potwatch_alarm_last_latency_seconds{channel="push:recording",kind="push"}' in metrics
    assert reached.id


def _reached_in(hub: Hub, clock: HandClock) -> Alert:
    """The caramel through 225 °F, straight on the kitchen (as the history rebuilds it before the parts run)."""
    hub.kitchen.handle(StartCook(clock.t, hub.profiles["caramel"], "pot"))
    for i in range(90):
        clock.t += 1.0
        hub.kitchen.handle(Sample(clock.t, "pot", "", f_to_c(220.0 + 0.1 * i)))
    (reached,) = [a for a in hub.kitchen.alerts.values() if a.kind.value == "target_reached"]
    return reached


async def _ticks(part: AlarmPart, n: int) -> None:
    start = part.ticks
    await wait_until_async(lambda: part.ticks >= start + n, 5, f"{n} looks at the repeats")


async def test_after_an_outage_a_resumed_alarm_rings_once_and_escalates_afresh() -> None:
    """Two minutes down: not every repeat and the escalation at once, but one ring, then the usual pace."""
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    reached = _reached_in(hub, clock)
    clock.t += 120.0
    push, voice = RecordingChannel("push"), RecordingChannel("voice")
    part = AlarmPart([push, voice], rules_from_config(AlarmConfig()), tick_s=0.01)
    part.attach(hub)
    task = asyncio.create_task(part.run())
    try:
        await wait_until_async(lambda: push.messages(reached.id), 5, "the unanswered alarm to ring again")
        await _ticks(part, 5)
        assert [(m.repeat, m.escalated) for m in push.messages(reached.id)] == [(0, False)]
        assert len(voice.messages(reached.id)) == 1
        restarted = clock.t
        while clock.t < restarted + 59.0:
            clock.t += 1.0
            await _ticks(part, 1)
        assert not any(m.escalated for m in push.messages(reached.id))
        clock.t = restarted + 60.0
        await wait_until_async(lambda: push.messages(reached.id)[-1].escalated, 5, "the escalation, 60 s after")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_stopped_cooks_alarm_stays_quiet_after_a_restart() -> None:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    reached = _reached_in(hub, clock)
    hub.kitchen.handle(StopCook(clock.t, reached.cook_id or ""))
    assert hub.kitchen.alerts[reached.id].active  # a critical alert waits for its ack, cook or no cook
    push = RecordingChannel("push")
    part = AlarmPart([push], rules_from_config(AlarmConfig()), tick_s=0.01)
    part.attach(hub)
    task = asyncio.create_task(part.run())
    try:
        await _ticks(part, 5)
        assert push.deliveries == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _lost_in(hub: Hub, clock: HandClock) -> Alert:
    """The caramel's probe silent past its stale timeout, straight on the kitchen: a probe-lost warning, active."""
    hub.kitchen.handle(StartCook(clock.t, hub.profiles["caramel"], "pot"))
    clock.t += 1.0
    hub.kitchen.handle(Sample(clock.t, "pot", "", f_to_c(150.0)))
    clock.t += 11.0
    hub.kitchen.handle(Tick(clock.t))
    (lost,) = [a for a in hub.kitchen.active_alerts() if a.kind is AlertKind.PROBE_LOST]
    assert lost.level is AlertLevel.WARNING and lost.cook_id is not None
    return lost


async def _resumed(hub: Hub, channels: list[RecordingChannel], config: AlarmConfig | None = None) -> AlarmPart:
    """The part as the wiring starts it on a kitchen the history rebuilt; 5 looks at the repeats later."""
    part = AlarmPart(channels, rules_from_config(config or AlarmConfig()), tick_s=0.01)  # type: ignore[arg-type]
    part.attach(hub)
    task = asyncio.create_task(part.run())
    try:
        await _ticks(part, 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return part


async def test_a_warning_the_cut_kept_from_the_phone_is_pushed_once_after_a_restart() -> None:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    lost = _lost_in(hub, clock)
    push = RecordingChannel("push")
    await _resumed(hub, [push])
    assert [(m.alert_id, m.repeat) for m in push.messages()] == [(lost.id, 0)]


async def test_a_warning_pushed_before_a_restart_is_not_pushed_again() -> None:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    lost = _lost_in(hub, clock)
    hub.kitchen.handle(MarkPushed(clock.t, lost.id, "push:recording"))  # as the history replays it
    push = RecordingChannel("push")
    await _resumed(hub, [push])
    assert push.deliveries == []


async def test_a_warning_of_an_ended_cook_or_without_push_in_its_route_stays_quiet_after_a_restart() -> None:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    lost = _lost_in(hub, clock)
    voice = RecordingChannel("voice")
    # no push in the warning's route: nothing records what reached whom, so nothing is said twice
    await _resumed(hub, [voice], AlarmConfig(routes=AlarmRoutes(warning=["page", "voice"])))
    assert voice.deliveries == []
    hub.kitchen.handle(StopCook(clock.t, lost.cook_id or ""))
    assert hub.kitchen.alerts[lost.id].active  # the probe is still lost, the cook is over
    push = RecordingChannel("push")
    await _resumed(hub, [push])
    assert push.deliveries == []


async def test_an_accepted_push_marks_its_alert_through_the_hub_and_a_failed_one_does_not(kitchen: Kitchen1) -> None:
    kitchen.push.fail = "the service answered HTTP 500"
    reached = await kitchen.caramel_to_225()
    await wait_until_async(lambda: kitchen.push.health.failed == 1, 5, "the failed push to be counted")
    await wait_until_async(lambda: kitchen.voice.health.sent == 1, 5, "the voice to have said it")
    assert kitchen.hub.kitchen.alerts[reached.id].pushed_at is None  # the voice is not a push
    kitchen.push.fail = None
    for _ in range(15):  # the pot stays at its target, read each second, until the repeat is due
        kitchen.clock.t += 1.0
        await kitchen.hub.request(Sample(kitchen.clock.t, "pot", "", f_to_c(225.5)))
        await kitchen.ticked()
    await wait_until_async(lambda: kitchen.push.health.sent == 1, 5, "the repeat pushed")
    await wait_until_async(
        lambda: kitchen.hub.kitchen.alerts[reached.id].pushed_at is not None, 5, "the mark to reach the kitchen"
    )
    assert [m.repeat for m in kitchen.push.messages(reached.id)] == [0, 1]


async def test_acknowledging_an_alarm_acknowledges_the_alerts_merged_into_it(kitchen: Kitchen1) -> None:
    """A flapping probe's critical alerts ring as one; one tap answers all of them, on the page and MQTT too."""
    hub = kitchen.hub
    for i in range(3):
        kitchen.clock.t = 4.0 * i
        alert = Alert(f"a{i}", AlertKind.PROBE_LOST, AlertLevel.CRITICAL, kitchen.clock.t, "pot", "lost", cook_id="c1")
        hub.kitchen.alerts[alert.id] = alert  # as the kitchen raised them
        kitchen.part._on_output(AlertRaised(alert.at, alert))
    await wait_until_async(lambda: kitchen.push.messages("a0"), 5, "the first to ring")
    assert kitchen.push.messages("a1") == kitchen.push.messages("a2") == []  # merged into a0
    await hub.request(Acknowledge(kitchen.clock.t, "a0"))
    await wait_until_async(
        lambda: all(hub.kitchen.alerts[i].acked for i in ("a1", "a2")), 5, "the merged alerts acknowledged"
    )
    assert not [a for a in hub.kitchen.active_alerts() if a.id in ("a0", "a1", "a2")]
