"""The page's "Test the alarm" button, in real Chromium against a real service process with alarm channels."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.alarm_service import COMMAND
from tests.support.net import free_port
from tests.support.phone import Phone
from tests.support.service import ServiceProcess, serving

pytestmark = pytest.mark.real_part("chromium")


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    config = tmp_path / "potwatch.toml"
    config.write_text('[[probes]]\nid = "pot"\nurl = "sim://?kind=caramel"\n')
    with serving(
        ServiceProcess(["--config", str(config)], tmp_path / "service.log", free_port(), command=COMMAND)
    ) as svc:
        yield svc


def test_the_button_posts_the_self_test_and_shows_each_channel(phone: Phone, service: ServiceProcess) -> None:
    page = phone.page
    page.goto(service.base + "/")
    page.locator("#alarm-test-box summary").click()
    with page.expect_response(lambda r: r.url.endswith("/api/alarm/test") and r.request.method == "POST") as answer:
        page.locator("#alarm-test").click()
    assert answer.value.status == 200
    items = page.locator("#alarm-test-result li")
    expect(items).to_have_count(3)  # push, voice, and this very page (it follows /api/events)
    expect(page.locator('#alarm-test-result li[data-kind="push"]')).to_have_text(re.compile(r"^push:json: ok, \d+ ms$"))
    failed = page.locator('#alarm-test-result li[data-kind="voice"]')
    expect(failed).to_have_text("voice: failed — espeak-ng not found")
    expect(failed).to_have_attribute("data-ok", "false")
    expect(page.locator('#alarm-test-result li[data-kind="page"]')).to_have_attribute("data-ok", "true")
    expect(page.locator("#message")).to_contain_text("An alarm channel failed the test")
    phone.screenshot("page-alarm-test.png")
    health = service.get("/healthz")["alarm"]["channels"]
    assert health["push:json"]["sent"] == 1 and health["voice"]["failed"] == 1
