"""The alarm self-test from the command line: asked of the running service, or run here.

The running service owns the buzzer's pin and the speaker, so it is asked
first (``POST /api/alarm/test``); only when nothing answers are the channels
built from the config and tried from this process, then released. Both
``potwatch alarm-test`` and ``potwatch doctor`` use this, so they agree on what
a working alarm is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from service.config import Config

LOCAL_HOSTS = ("0.0.0.0", "::", "")
ASK_CONNECT_S = 2.0
ASK_ANSWER_S = 30.0  # the service waits up to 20 s for its slowest channel
LOCAL_SOUND_S = 2.0  # a buzzer started from here sounds this long before the command lets go of the pin


class NoService(Exception):
    """Nothing answers where the config says the service listens."""


def service_url(config: Config, path: str) -> str:
    """Where the running service answers on this machine, by the config's ``[server]``."""
    server = config.server
    host = "127.0.0.1" if server.host in LOCAL_HOSTS else server.host
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if server.tls else "http"
    return f"{scheme}://{host}:{server.port}{path}"


def ask_service(config: Config) -> dict[str, Any]:
    """``POST /api/alarm/test`` on the running service: its pins, its speaker, its connections."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines are not the answer
    server = config.server
    url = service_url(config, "/api/alarm/test")
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    try:
        # the service's certificate is its own (self-signed): this talks to it on this machine
        response = httpx.post(
            url, headers=headers, timeout=httpx.Timeout(ASK_ANSWER_S, connect=ASK_CONNECT_S), verify=False
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise NoService(f"no service answers at {url} ({exc})") from None
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the service at {url} did not answer the test: {exc}") from None
    if response.status_code in (404, 405):  # no such route: the page's files answer the path
        raise RuntimeError(f"the service at {url} runs without alarm channels (its config has none)")
    if response.status_code in (401, 403):
        raise RuntimeError(f"the service at {url} refused the test: {response.json().get('detail', response.text)}")
    if response.status_code != 200:
        raise RuntimeError(f"the service at {url} answered {response.status_code}: {response.text[:200]}")
    answer: dict[str, Any] = response.json()
    return {"via": "service", "url": url, **answer}


async def run_here(config: Config, say: Callable[[str], None]) -> dict[str, Any]:
    """The channels built from the config, tried from this process, then released; ``say`` gets their notices."""
    from service.alarm.channels import build_channels
    from service.alarm.part import AlarmPart, rules_from_config

    part = AlarmPart(build_channels(config), rules_from_config(config.alarm), unit=config.alarm.unit)
    for channel in part.channels:
        for notice in channel.notices():
            say(f"{channel.name}: {notice}")
    try:
        answer = await part.self_test()
        if any(c.kind == "buzzer" for c in part.channels):
            await asyncio.sleep(LOCAL_SOUND_S)  # let the test pattern be heard before the pin is let go
    finally:
        await part.close()
    return {"via": "local", **answer}
