"""The ``[mqtt]`` broker reached as the service would reach it, and what Home Assistant said there.

It connects with the service's own settings (host, port, TLS, credentials)
but under a client id of its own and *without* the service's last will, so
that a doctor run never tells Home Assistant that potwatch went offline.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import replace

from drivers.mqtt_link import LinkDown, LinkUp, Message, MqttLink
from service.config import Config
from service.doctor.report import Finding

HA_WAIT_S = 2.0
"""Retained messages come right after the subscription is acknowledged; Home Assistant's birth message
(``online`` on ``homeassistant/status``) is not retained by default and only comes when it starts, so
waiting longer than this would mostly wait for nothing."""


async def check_broker(config: Config) -> list[Finding]:
    from service.mqtt.publisher import link_settings

    mqtt = config.mqtt
    if mqtt is None:
        return [Finding("mqtt", "info", "no [mqtt] in the config: nothing is published (Home Assistant sees nothing)")]
    settings = link_settings(mqtt.url, f"potwatch-doctor-{secrets.token_hex(3)}")
    settings = replace(settings, will=None, reconnect_max=settings.connect_timeout)
    status_topic = f"{mqtt.discovery_prefix}/status" if mqtt.discovery_prefix else None
    availability = f"{mqtt.base_topic}/availability"
    subscriptions = [t for t in (status_topic, availability) if t]
    link = MqttLink(settings, subscriptions=subscriptions, name="doctor-mqtt", quiet=True)
    where = f"{'mqtts' if settings.tls else 'mqtt'}://{settings.server}"
    async with link:
        try:
            async with asyncio.timeout(settings.connect_timeout + 2.0):
                first = await _first_state(link)
        except TimeoutError:
            return [Finding("mqtt", "FAIL", f"no answer from {where}", "is the address right, and the broker running?")]
        if isinstance(first, LinkDown):
            return [Finding("mqtt", "FAIL", first.reason, _fix(first.reason))]
        findings = [Finding("mqtt", "ok", f"broker {where} reached" + (" (TLS)" if settings.tls else ""))]
        if first.refused:
            findings.append(
                Finding(
                    "mqtt",
                    "warn",
                    f"the broker refused the subscription to {', '.join(first.refused)}",
                    "check its ACL for this user: potwatch subscribes to its ack topic too",
                )
            )
        seen = await _retained(link, HA_WAIT_S, stop_at=status_topic)
    findings += _home_assistant(status_topic, seen)
    if availability in seen:
        said = seen[availability][0]
        state = "connected to this broker" if said == "online" else "not running, or not connected"
        findings.append(Finding("potwatch", "info", f"{availability} is {said!r}: the service is {state}"))
    return findings


async def _first_state(link: MqttLink) -> LinkUp | LinkDown:
    while True:
        event = await link.get()
        if isinstance(event, LinkUp | LinkDown):
            return event


async def _retained(link: MqttLink, wait: float, stop_at: str | None) -> dict[str, tuple[str, bool]]:
    """Topic → (payload, retained) of what came within ``wait`` seconds (at once for retained ones)."""
    seen: dict[str, tuple[str, bool]] = {}
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            async with asyncio.timeout(left):
                event = await link.get()
        except TimeoutError:
            break
        if isinstance(event, Message):
            seen[event.topic] = (event.payload.decode("utf-8", "replace").strip(), event.retain)
            if event.topic == stop_at:
                break
    return seen


def _home_assistant(topic: str | None, seen: dict[str, tuple[str, bool]]) -> list[Finding]:
    if topic is None:
        return [Finding("home assistant", "info", 'discovery is off ([mqtt] discovery_prefix = "")')]
    if topic not in seen:
        return [
            Finding(
                "home assistant",
                "info",
                f"{topic} not seen in {HA_WAIT_S:g} s: Home Assistant says it when it starts (not retained by "
                "default), so this is no failure; its entities appear once its MQTT integration uses this broker",
            )
        ]
    payload, retained = seen[topic]
    how = "retained" if retained else "just now"
    if payload.lower() == "online":
        return [Finding("home assistant", "ok", f"{topic} is 'online' ({how}): Home Assistant uses this broker")]
    return [
        Finding(
            "home assistant",
            "warn",
            f"{topic} is {payload!r} ({how})",
            "Home Assistant is stopped or lost the broker: potwatch announces itself again when it says online",
        )
    ]


def _fix(reason: str) -> str:
    text = reason.lower()
    if "refused the connection" in text:
        return "check the user and password in [mqtt] url (mosquitto: the password file, allow_anonymous)"
    if "refused" in text:
        return "start the broker (sudo systemctl status mosquitto), or fix the host:port in [mqtt] url"
    if "resolve" in text:
        return "fix the host name in [mqtt] url, or use the broker's IP address"
    if "tls" in text or "certificate" in text:
        return "mqtts:// needs the broker's TLS port (8883) and, for a private CA, ?cafile= in [mqtt] url"
    return "check [mqtt] url and that the broker is reachable from this machine"
