"""The push channel against a real HTTP receiver on loopback, through Apprise's own plugins.

``json://`` and ``ntfy://`` point at the receiver (ntfy as a self-hosted
server at host:port); Pushover's plugin posts to a fixed https address, so
its test points the plugin's endpoint at the receiver instead. The timeout
tests run on real time: what they check is that real sockets and real
threads are bounded, which no hand clock can stand in for; their bounds are
loose enough for a loaded machine and each wait is on a condition.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from apprise.plugins.pushover import NotifyPushover

from service.alarm.channel import Delivery
from service.alarm.push import PushChannel, push_channels
from service.alarm.push_url import check_push_url
from service.core.events import AlertLevel
from tests.support.alarm import caramel_message as message
from tests.support.net import free_port
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until_async

ACK_URL = "http://192.168.1.20:8000/api/alerts/c1-a3/ack"
PUSHOVER_USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
PUSHOVER_TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside single or double quotes, each part stripped of blanks and quotes."""
    parts, current, quote = [], "", ""
    for c in text:
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == separator:
            parts.append(current)
            current = ""
            continue
        current += c
    parts.append(current)
    return [p.strip() for p in parts]


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def ntfy_actions(header: str) -> list[dict[str, str]]:
    """ntfy's short ``X-Actions`` form read back: ``action, label, url, key=value…``, actions apart by ``;``."""
    actions = []
    for text in _split(header, ";"):
        fields = _split(text, ",")
        action = {"action": fields[0], "label": _unquoted(fields[1]), "url": _unquoted(fields[2])}
        for extra in fields[3:]:
            key, value = extra.split("=", 1)
            action[key] = _unquoted(value)
        actions.append(action)
    return actions


# ---- what reaches the service ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "kind"),
    [(AlertLevel.INFO, "info"), (AlertLevel.WARNING, "warning"), (AlertLevel.CRITICAL, "failure")],
)
async def test_a_json_webhook_gets_the_title_the_body_and_the_level(
    receiver: Receiver, level: AlertLevel, kind: str
) -> None:
    channel = PushChannel(f"json://127.0.0.1:{receiver.port}/potwatch/hook")
    delivery = await channel.deliver(message(level))
    got = receiver.wait_for(1)
    assert (got.method, got.path) == ("POST", "/potwatch/hook")
    payload = got.json()
    assert payload["title"] == "Caramel at 225 °F"
    assert payload["message"] == "225 °F reached (224.9 °F). Take it off the heat."
    assert payload["type"] == kind  # Apprise's notify type: the level, for services without a priority
    assert delivery.ok and delivery.attempts == 1 and delivery.error is None
    assert delivery.channel == "push:json"


@pytest.mark.parametrize(
    ("level", "escalated", "priority"),
    [
        (AlertLevel.INFO, False, None),  # ntfy's default (3) is sent as no header at all
        (AlertLevel.WARNING, False, "high"),  # 4
        (AlertLevel.CRITICAL, False, "max"),  # 5
        (AlertLevel.CRITICAL, True, "max"),  # already ntfy's highest
    ],
)
async def test_ntfy_on_a_self_hosted_server_gets_the_priority_of_the_level(
    receiver: Receiver, level: AlertLevel, escalated: bool, priority: str | None
) -> None:
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen")
    delivery = await channel.deliver(message(level, escalated=escalated))
    got = receiver.wait_for(1)
    assert got.method == "POST"
    assert got.json() == {
        "topic": "kitchen",
        "title": "Caramel at 225 °F",
        "message": "225 °F reached (224.9 °F). Take it off the heat.",
    }
    assert got.headers.get("x-priority") == priority
    assert delivery.ok and channel.name == "push:ntfy"


async def test_a_priority_written_in_the_url_is_kept(receiver: Receiver) -> None:
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen?priority=low")
    await channel.deliver(message(AlertLevel.CRITICAL, escalated=True))
    assert receiver.wait_for(1).headers.get("x-priority") == "low"


async def test_ntfy_gets_an_acknowledge_button_that_posts_to_the_ack_url_with_the_token(receiver: Receiver) -> None:
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen")
    assert channel.notices() == []  # this Apprise's ntfy plugin carries actions (else a notice says so)
    await channel.deliver(message(ack_url=ACK_URL, ack_token="k3y,with;separators"))
    await channel.deliver(message(ack_url=ACK_URL))
    await channel.deliver(message())
    with_token, without_token, no_ack = (receiver.wait_for(n) for n in (1, 2, 3))

    assert ntfy_actions(with_token.headers["x-actions"]) == [
        {
            "action": "http",
            "label": "Acknowledge",
            "url": ACK_URL,
            "method": "POST",
            "headers.Authorization": "Bearer k3y,with;separators",
            "clear": "true",
        }
    ]
    assert ntfy_actions(without_token.headers["x-actions"]) == [
        {"action": "http", "label": "Acknowledge", "url": ACK_URL, "method": "POST", "clear": "true"}
    ]
    assert "x-actions" not in no_ack.headers


async def test_pushover_rises_to_emergency_with_retry_once_escalated_and_only_once(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NotifyPushover, "notify_url", f"http://127.0.0.1:{receiver.port}/1/messages.json")
    channel = PushChannel(f"pover://{PUSHOVER_USER}@{PUSHOVER_TOKEN}")
    sent = [
        message(AlertLevel.INFO),
        message(AlertLevel.WARNING),
        message(AlertLevel.CRITICAL),
        message(AlertLevel.CRITICAL, escalated=True),
        message(AlertLevel.CRITICAL, escalated=True),  # its next repeat: Pushover is re-alerting already
    ]
    for m in sent:
        assert (await channel.deliver(m)).ok
    forms = [receiver.wait_for(n).form() for n in range(1, 6)]
    assert [f["priority"] for f in forms] == ["0", "1", "1", "2", "1"]
    assert all("retry" not in f and "expire" not in f for f in forms[:3] + forms[4:])
    assert (forms[3]["retry"], forms[3]["expire"]) == ("30", "300")
    assert forms[3]["title"] == "Caramel at 225 °F" and forms[3]["token"] == PUSHOVER_TOKEN
    assert channel.name == "push:pushover"


# ---- failures, retries and timeouts -----------------------------------------------------------------


async def test_a_500_is_retried_and_the_attempts_counted(receiver: Receiver) -> None:
    receiver.fail(1, 500)
    channel = PushChannel(f"json://127.0.0.1:{receiver.port}/hook", retry_backoff_s=0.05)
    delivery = await channel.deliver(message())
    assert delivery.ok and delivery.attempts == 2
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body


async def test_a_service_that_keeps_failing_is_tried_once_plus_the_retries_and_says_why(receiver: Receiver) -> None:
    receiver.fail(10, 500)
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen", retries=2, retry_backoff_s=0.05)
    first = await channel.deliver(message())
    assert not first.ok and first.attempts == 3 and len(receiver.requests) == 3
    assert first.error == "the service answered HTTP 500"
    second = await channel.deliver(message())  # 7 failures still queued at the receiver
    assert not second.ok
    assert second.error == "the service answered HTTP 500"


async def test_a_refused_connection_fails_with_a_reason_and_no_traceback() -> None:
    port = free_port()  # nobody listens there
    channel = PushChannel(f"json://127.0.0.1:{port}/hook", retries=1, retry_backoff_s=0.01)
    delivery = await channel.deliver(message())
    assert (delivery.ok, delivery.attempts, delivery.error) == (False, 2, "could not connect")


async def test_a_hanging_service_times_out_while_another_delivers_and_the_loop_keeps_turning() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    with Receiver() as hanging, Receiver() as good:
        hanging.hang()
        slow = PushChannel(f"ntfy://127.0.0.1:{hanging.port}/kitchen", timeout_s=1.5)
        fast = PushChannel(f"json://127.0.0.1:{good.port}/hook", timeout_s=1.5)
        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        stuck = asyncio.create_task(slow.deliver(message()))
        await wait_until_async(lambda: hanging.open_requests == 1, 5, "the hanging request to be open")
        ticks_at_hang = ticks

        other = await fast.deliver(message())
        assert other.ok
        assert good.wait_for(1).json()["title"] == "Caramel at 225 °F"
        assert hanging.open_requests == 1 and not stuck.done()  # the good one got through during the hang

        delivery = await stuck
        elapsed = time.monotonic() - started
        ticker.cancel()
    assert not delivery.ok and delivery.error is not None and delivery.error.startswith("timed out")
    assert 1.4 <= delivery.latency_s <= 2.5 and elapsed <= 3.0
    assert delivery.attempts == 1
    # 10 ms ticks through the hang: the loop was never blocked for long (loose: a busy machine)
    assert ticks - ticks_at_hang >= 30


def _new_workers(before: set[threading.Thread]) -> int:
    return sum(1 for t in threading.enumerate() if t not in before and t.name.startswith("alarm-push"))


async def test_messages_sent_while_one_hangs_do_not_pile_up_threads(receiver: Receiver) -> None:
    receiver.hang()
    before = set(threading.enumerate())
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen", timeout_s=1.0, retries=0)
    first = asyncio.create_task(channel.deliver(message()))
    await wait_until_async(lambda: receiver.open_requests == 1, 5, "the first request to hang")
    second = asyncio.create_task(channel.deliver(message(AlertLevel.WARNING)))
    await asyncio.sleep(0)  # one turn of the loop: the second runs up to its wait for the worker (no timing)
    third = asyncio.create_task(channel.deliver(message(escalated=True)))
    superseded = await second
    assert superseded.error == "superseded by a newer message" and superseded.attempts == 0
    assert _new_workers(before) == 1
    results = await asyncio.gather(first, third)
    assert [d.ok for d in results] == [False, False]
    assert _new_workers(before) == 1
    assert len(receiver.requests) <= 2  # the first, and perhaps the third: never the superseded one


async def test_silence_stops_the_retries(receiver: Receiver) -> None:
    receiver.fail(10, 500)
    channel = PushChannel(f"json://127.0.0.1:{receiver.port}/hook", retries=5, retry_backoff_s=2.0)
    sending = asyncio.create_task(channel.deliver(message()))
    await wait_until_async(lambda: len(receiver.requests) == 1, 5, "the first attempt")
    started = time.monotonic()
    await channel.silence()
    delivery = await asyncio.wait_for(sending, 1.0)
    assert time.monotonic() - started < 1.0
    assert not delivery.ok and delivery.attempts == 1 and "silenced" in (delivery.error or "")
    assert len(receiver.requests) == 1
    await channel.close()
    after = await channel.deliver(message())
    assert (after.ok, after.error) == (False, "the channel is closed")


async def test_an_ack_drops_only_its_own_alerts_push_not_a_warning_waiting_behind_it(receiver: Receiver) -> None:
    """The caramel's alarm acknowledged while the side probe's warning waits behind it: the warning still goes."""
    receiver.hang()
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen", timeout_s=5.0, retries=0)
    alarm = message()
    sending = asyncio.create_task(channel.deliver(alarm))  # on the wire, unanswered
    await wait_until_async(lambda: receiver.open_requests == 1, 5, "the alarm's request on the wire")
    side = dataclasses.replace(message(AlertLevel.WARNING), alert_id="1-c1-a9", title="side probe lost")
    waiting = asyncio.create_task(channel.deliver(side))
    # the warning's turn taken (nothing outside the channel shows a message waiting for the worker)
    await wait_until_async(lambda: side.alert_id in channel._waiting, 5, "the warning waiting its turn")
    await channel.silence((alarm.alert_id,))  # what the alarm part does on the cook's ack
    receiver.release()
    await sending
    delivered = await asyncio.wait_for(waiting, 10)
    assert delivered.ok, f"the warning was dropped by another alert's ack: {delivered.error}"
    assert [r for r in receiver.requests if "side probe lost" in str(r)], receiver.requests
    await channel.close()


# ---- URLs and names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "ntfy://127.0.0.1:8080/kitchen",
        "ntfys://ntfy.example.org/kitchen",
        "https://ntfy.sh/kitchen",
        f"pover://{PUSHOVER_USER}@{PUSHOVER_TOKEN}",
        f"tgram://{TELEGRAM_TOKEN}/12345678",
        "hassio://homeassistant.local/llat_abcdef123456",
    ],
)
def test_urls_apprise_understands_pass_the_check(url: str) -> None:
    assert check_push_url(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty: expected an Apprise URL"),
        ("ntfy.example.org/kitchen", "not an Apprise URL: expected SERVICE://"),
        ("nosuchservice://host/x", "nosuchservice:// is not a service Apprise knows"),
        ("pover://onlyauser", "this Pushover URL has a missing or malformed part; its form: https://"),
        ("tgram://not-a-bot-token", "Apprise cannot read this Telegram URL; its form: https://"),
        ("ntfy://", "this ntfy URL names no topic (ntfy://HOST/TOPIC)"),
    ],
)
def test_urls_apprise_cannot_use_get_one_clear_line(url: str, reason: str) -> None:
    said = check_push_url(url)
    assert said is not None and said.startswith(reason) and "\n" not in said
    assert check_push_url(url, index=2) == f"notify.urls[2]: {said}"


@pytest.mark.parametrize(
    ("url", "secrets", "name"),
    [
        (f"pover://{PUSHOVER_USER}@{PUSHOVER_TOKEN}", [PUSHOVER_USER, PUSHOVER_TOKEN], "push:pushover"),
        (f"tgram://{TELEGRAM_TOKEN}/12345678", [TELEGRAM_TOKEN, TELEGRAM_TOKEN.split(":")[1]], "push:telegram"),
        ("ntfys://tk_0123456789abcdef@ntfy.example.org/kitchen", ["tk_0123456789abcdef"], "push:ntfy"),
        ("json://user:hunter2hunter2@127.0.0.1:8080/hook", ["hunter2hunter2"], "push:json"),
        ("pover://hunter2hunter2x", ["hunter2hunter2x"], "push:pover"),  # a URL Apprise refuses
    ],
)
def test_a_channel_shows_no_secret_of_its_url(url: str, secrets: list[str], name: str) -> None:
    channel = PushChannel(url)
    assert channel.name == name
    shown = [channel.name, *channel.notices(), channel.shown_url or "", check_push_url(url) or ""]
    for secret in secrets:
        assert all(secret not in text for text in shown), (secret, shown)


def test_channels_of_one_service_are_numbered_apart() -> None:
    channels = push_channels(["json://127.0.0.1:1/a", "ntfy://127.0.0.1:2/k", "json://127.0.0.1:3/b", "bad"])
    assert [c.name for c in channels] == ["push:json", "push:ntfy", "push:json#2", "push:invalid"]
    assert [c.kind for c in channels] == ["push"] * 4


async def test_a_channel_with_a_bad_url_answers_a_failed_delivery_and_a_notice() -> None:
    channel = PushChannel("nosuchservice://host/x")
    assert channel.notices() == [
        "push:nosuchservice: nosuchservice:// is not a service Apprise knows (https://appriseit.com/services/)"
    ]
    delivery = await channel.deliver(message())
    assert delivery == Delivery(
        "push:nosuchservice", False, delivery.latency_s, channel.notices()[0].split(": ", 1)[1], 0
    )


class _Journal(logging.Handler):
    """What the service's log (the root logger's handlers: the journal) is handed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_apprise_never_writes_to_the_service_log(receiver: Receiver) -> None:
    """A plugin may log the URL it posted to, password or token and all: only our own words reach the log."""
    journal = _Journal()
    root = logging.getLogger()
    root.addHandler(journal)
    try:
        receiver.fail(10)
        channel = PushChannel(f"json://cook:Sekr1tPw@127.0.0.1:{receiver.port}/hook", retries=1, retry_backoff_s=0.01)
        delivery = await channel.deliver(message())
    finally:
        root.removeHandler(journal)
    assert not delivery.ok and delivery.error == "the service answered HTTP 500"  # Apprise's warning was read
    assert [r.name for r in journal.records if r.name.startswith("apprise")] == []
    assert not any("Sekr1tPw" in r.getMessage() for r in journal.records)


async def test_messages_of_other_alerts_wait_their_turn_behind_a_slow_one(receiver: Receiver) -> None:
    """Only a newer message of the same alert supersedes a waiting one: a warning behind the alarm is sent once."""
    receiver.hang()
    channel = PushChannel(f"ntfy://127.0.0.1:{receiver.port}/kitchen", timeout_s=5.0, retries=0)
    first = asyncio.create_task(channel.deliver(message()))
    await wait_until_async(lambda: receiver.open_requests == 1, 5, "the first request to hang")
    lost_pot = dataclasses.replace(message(AlertLevel.WARNING), alert_id="c1-a4", title="pot lost")
    lost_side = dataclasses.replace(message(AlertLevel.WARNING), alert_id="c1-a5", title="side lost")
    second = asyncio.create_task(channel.deliver(lost_pot))
    await asyncio.sleep(0)
    third = asyncio.create_task(channel.deliver(lost_side))
    await asyncio.sleep(0)
    receiver.release()
    results = await asyncio.gather(first, second, third)
    assert [d.ok for d in results] == [True, True, True], [d.error for d in results]
    titles = sorted(r.json()["title"] for r in receiver.requests)
    assert titles == ["Caramel at 225 °F", "pot lost", "side lost"]
