"""The alarm reaching a cook whose phone is asleep: a real ``potwatch run`` pushing through Apprise.

A serial thermometer on a pty, a caramel cook, and ``[notify]`` pointed at a
local HTTP receiver that speaks for a self-hosted ntfy server (Apprise's own
``ntfy://`` URL at loopback). The alarm at 225 °F is pushed at ntfy's highest
priority, with an "Acknowledge" action that posts to the service with its
token; it repeats every ``push_every`` until acknowledged; and one
acknowledgement, from the push's action or from the page in Chromium, stops
it. After the acknowledgement the receiver is watched for two more repeat
intervals: that no push comes can only be seen by waiting, so the window is
bounded by the interval, not a guess.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from service.runtime.ack_keys import ack_key
from tests.support.net import free_port
from tests.support.phone import Phone
from tests.support.power_cut import until
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.receiver import Received, Receiver
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

TOKEN = "kitchen-token-1"
PUSH_EVERY_S = 5.0  # the shortest the config allows, so the test sees repeats in seconds


@pytest.fixture
def ntfy() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def service(tmp_path: Path, device: PtyDevice, receiver: Receiver, *, token: str = TOKEN) -> ServiceProcess:
    config = tmp_path / "potwatch.toml"
    server = f'[server]\ntoken = "{token}"\n\n' if token else ""
    config.write_text(
        f'{server}[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "5s"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n\n'
        f'[notify]\nurls = ["ntfy://{receiver.host}:{receiver.port}/kitchen"]\n\n'
        f'[alarm]\npush_every = "{PUSH_EVERY_S:g}s"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


def critical_pushes(receiver: Receiver) -> list[Received]:
    return [r for r in receiver.requests if r.headers.get("x-priority") in ("5", "max", "urgent")]


def action_of(push: Received) -> tuple[str, dict[str, str]]:
    """The "Acknowledge" button ntfy would show: the URL it posts to and its headers."""
    actions = push.headers.get("x-actions", "")
    assert actions.startswith("http, Acknowledge, "), actions
    fields = [f.strip() for f in actions.split(",")]
    url = fields[2]
    headers = {}
    for extra in fields[3:]:
        key, _, value = extra.partition("=")
        if key.startswith("headers."):
            headers[key.removeprefix("headers.")] = value.strip('"')
    assert "method=POST" in fields
    return url, headers


def quiet_for_two_intervals(receiver: Receiver, after: float) -> list[Received]:
    """Every push that arrived after ``after`` (perf_counter), watched for two repeat intervals."""
    end = time.monotonic() + 2 * PUSH_EVERY_S + 1.0
    wait_until(lambda: time.monotonic() >= end, 3 * PUSH_EVERY_S, "two repeat intervals to pass")
    return [r for r in receiver.requests if r.at > after]


def reach_the_target(thermometer: Thermometer, svc: ServiceProcess) -> dict[str, Any]:
    thermometer.fahrenheit = 226.0
    found: list[dict[str, Any]] = until(
        svc, "target_reached", lambda s: [a for a in s["alerts"] if a["kind"] == "target_reached"]
    )
    return found[0]


def test_the_alarm_is_pushed_repeated_and_stopped_by_the_push_action(
    tmp_path: Path, kitchen: tuple[PtyDevice, Thermometer], ntfy: Receiver
) -> None:
    device, thermometer = kitchen
    svc = service(tmp_path, device, ntfy).start()
    try:
        reached = reach_the_target(thermometer, svc)
        ntfy.wait_until(lambda: len(critical_pushes(ntfy)) >= 2, 3 * PUSH_EVERY_S, "the alarm pushed twice")
        first, second = critical_pushes(ntfy)[:2]
        body = first.json()
        assert body["topic"] == "kitchen"
        assert "225" in body["title"] and "Take it off the heat" in body["message"]
        # ≤ 1 push per alert per repeat interval (a little slack for the dispatcher's 0.2 s tick)
        assert second.at - first.at >= PUSH_EVERY_S - 0.3
        assert "still not acknowledged" in second.json()["title"] and "s ago" in second.json()["message"]

        url, headers = action_of(first)
        assert urlsplit(url).path == f"/api/alerts/{reached['id']}/ack"
        # the button carries a key for this alert's ack alone, never the token (ntfy.sh would see it)
        assert headers == {"Authorization": f"Bearer {ack_key(TOKEN, reached['id'])}"}
        assert TOKEN not in first.headers.get("x-actions", "")
        refused = httpx.post(svc.base + "/api/cooks/current/stop", headers=headers, timeout=5.0)
        assert refused.status_code == 401
        # what the ntfy server does when the cook taps the button: no Origin, the key as a bearer
        answer = httpx.post(svc.base + urlsplit(url).path, headers=headers, timeout=5.0)
        assert answer.status_code == 200, answer.text
        tapped = time.perf_counter()  # a push already on the wire when the ack landed is not "after" it
        acked = svc.get("/api/status")["alerts"]
        assert next(a for a in acked if a["id"] == reached["id"])["acked"]

        after = quiet_for_two_intervals(ntfy, tapped)
        assert after == [], [r.json() for r in after]
        health = svc.get("/healthz")["alarm"]["channels"]
        (push,) = [h for name, h in health.items() if name.startswith("push")]
        assert push["sent"] >= 2 and push["failed"] == 0
    finally:
        svc.stop()


def test_the_page_acknowledges_and_the_pushes_stop(
    tmp_path: Path, kitchen: tuple[PtyDevice, Thermometer], ntfy: Receiver, phone: Phone
) -> None:
    device, thermometer = kitchen
    svc = service(tmp_path, device, ntfy, token="").start()  # tokenless: the page's taps are same-origin
    page = phone.page
    try:
        page.goto(svc.base + "/")
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=15_000)
        reach_the_target(thermometer, svc)
        ntfy.wait_until(lambda: len(critical_pushes(ntfy)) >= 1, 3 * PUSH_EVERY_S, "the alarm pushed")
        expect(page.locator("#alarm")).to_be_visible(timeout=15_000)
        page.locator("#ack").click()
        expect(page.locator("#alarm")).to_be_hidden(timeout=10_000)
        wait_until(
            lambda: all(a["acked"] for a in svc.get("/api/status")["alerts"] if a["level"] == "critical"),
            5.0,
            "the page's acknowledgement to reach the service",
        )
        tapped = time.perf_counter()
        late = [r for r in quiet_for_two_intervals(ntfy, tapped) if re.search(r"225", r.json().get("title", ""))]
        assert late == [], [r.json() for r in late]
    finally:
        svc.stop()
