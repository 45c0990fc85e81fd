"""The alarm channels' self-test, as ``potwatch alarm-test`` runs it (service/alarm/selftest.py).

Each channel gets one finding. What the test says of the page (no phone
follows it right now) is information: a doctor is run at a terminal, not
with the phone on the stove.
"""

from __future__ import annotations

import asyncio
from typing import Any

from service.config import Config
from service.doctor.report import Finding

FIXES = {
    "push": "check the URL and the network; ntfy, Pushover and the rest step by step: docs/push.md",
    "buzzer": "the wiring and the gpio group (sudo usermod -aG gpio potwatch): docs/voice-and-buzzer.md",
    "voice": "aplay -l lists the cards, the audio group (sudo usermod -aG audio potwatch): docs/voice-and-buzzer.md",
    "mqtt": "the mqtt line above says why",
}


async def check_alarm(config: Config, run: bool) -> list[Finding]:
    from service.alarm.selftest import NoService, ask_service, run_here

    if not config.alarm_channels:
        return [
            Finding(
                "alarm",
                "info",
                "no push, buzzer or voice configured: alarms reach the page and MQTT only",
                "a phone in a pocket needs push: [notify] urls (docs/push.md)",
            )
        ]
    if not run:
        return [
            Finding("alarm", "info", "self-test not sent (--alarm-test sends a real test alarm: buzzer, voice, push)")
        ]
    notices: list[str] = []
    try:
        answer = await asyncio.to_thread(ask_service, config)
        how = "asked the running service"
    except NoService:
        answer = await run_here(config, notices.append)
        how = "tested from here: no service is running"
    except RuntimeError as exc:
        return [Finding("alarm", "FAIL", str(exc), "journalctl -u potwatch says more")]
    findings = [Finding("alarm", "info", f"{how}: a test alarm was sent on every channel")]
    findings += [Finding("alarm", "info", notice) for notice in notices]
    findings += [_entry(entry) for entry in answer.get("channels", [])]
    return findings


def _entry(entry: dict[str, Any]) -> Finding:
    kind = str(entry.get("kind", ""))
    check = f"alarm {entry.get('channel', kind)}"
    latency = entry.get("latency_ms")
    if entry.get("ok"):
        took = f" in {latency:.0f} ms" if isinstance(latency, int | float) else ""
        return Finding(check, "ok", f"accepted{took}")
    error = str(entry.get("error") or "failed")
    if kind == "page":
        return Finding(check, "info", error, "open the page on the phone that will be by the stove")
    if kind == "mqtt":
        return Finding(check, "warn", error, FIXES["mqtt"])
    return Finding(check, "FAIL", error, FIXES.get(kind, "docs/alarm.md"))
