"""A task of the service that dies takes the service down with a non-zero code.

systemd restarts a service that exits non-zero, and the cook resumes from
history; a service whose hub died but whose page stays up would show a pot that
nobody tracks. Each test runs the real ``Service.run`` (HTTP on a free port, a
simulated probe) in this event loop and kills one of its parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import httpx
import pytest

from service.config import load_config
from service.profiles import load_profiles
from service.runtime.hub import Hub
from service.serve import Service
from tests.support.net import free_port

CONFIG = """
[[probes]]
id = "pot"
url = "{url}"

[cook]
profile = "caramel"
probe = "pot"
"""


def service(tmp_path: Path, url: str = "sim://?kind=caramel", extra: str = "") -> Service:
    path = tmp_path / "potwatch.toml"
    path.write_text(CONFIG.format(url=url) + extra)
    config = load_config(path)
    return Service(config, load_profiles(), host="127.0.0.1", port=free_port(), state=tmp_path)


async def answering(svc: Service, path: str = "/healthz", timeout: float = 20.0) -> httpx.Response:
    """Wait until the service's HTTP answers ``path`` with 200."""
    async with httpx.AsyncClient() as client, asyncio.timeout(timeout):
        while True:
            try:
                got = await client.get(f"http://127.0.0.1:{svc.port}{path}", timeout=1.0)
                if got.status_code == 200:
                    return got
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)


def task_named(name: str) -> asyncio.Task[object]:
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == name]
    return task


class Crashing:
    """A part (like MQTT or history) whose task fails once the service is up."""

    name = "crashing part"

    def __init__(self) -> None:
        self.fail = asyncio.Event()
        self.closed = False

    def attach(self, hub: Hub) -> None:
        pass

    def routers(self) -> list[object]:
        return []

    def health(self) -> dict[str, object]:
        return {}

    async def run(self) -> None:
        await self.fail.wait()
        raise RuntimeError("the broker's socket went away in a way nobody handled")

    async def close(self) -> None:
        self.closed = True


async def test_a_killed_hub_exits_non_zero_and_says_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    svc = service(tmp_path)
    caplog.set_level(logging.INFO, logger="service.serve")
    running = asyncio.create_task(svc.run())
    await answering(svc)
    task_named("hub").cancel()
    async with asyncio.timeout(10):
        code = await running
    assert code == 1
    assert any("hub stopped" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


async def test_a_part_that_fails_exits_non_zero_after_closing_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = service(tmp_path)
    part = Crashing()
    svc.parts.append(part)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, logger="service.serve")
    running = asyncio.create_task(svc.run())
    await answering(svc)
    part.fail.set()
    async with asyncio.timeout(10):
        code = await running
    assert code == 1
    assert part.closed, "the orderly stop (close every part) still runs"
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("crashing part stopped (RuntimeError" in m for m in messages), messages


async def test_a_bad_probe_url_keeps_the_service_up_and_says_so(tmp_path: Path) -> None:
    """A probe URL its driver refuses at open is shown on the page; it is not a crash to restart from.

    check-config refuses such a URL first (tests/service/test_config_probe_urls.py); this is
    the service's own guard for one that got past it (a config built in code, a driver that
    changed its mind).
    """
    svc = service(tmp_path)
    bad = svc.config.probes[0].model_copy(update={"url": "sim://?kind=caramell"})
    svc.config = svc.config.model_copy(update={"probes": [bad]})
    running = asyncio.create_task(svc.run())
    try:

        async def said() -> None:
            while "bad probe URL" not in str((await answering(svc, "/api/status")).json()["alerts"]):
                await asyncio.sleep(0.05)

        async with asyncio.timeout(20):
            await said()
        assert not running.done(), "a bad probe URL stopped the service"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
