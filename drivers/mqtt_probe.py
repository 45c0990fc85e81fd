"""Wi-Fi and radio probes over MQTT: ESPHome, Tasmota, rtl_433, OpenMQTTGateway / Theengs, any JSON.

``mqtt://user:pass@host:1883/<topic>?format=tasmota&channel=DS18B20-1`` (``mqtts://``
for TLS, port 8883 by default). The topic is the URL path without its first
slash; MQTT wildcards are allowed (``+`` as is, ``#`` written ``%23``, since a
bare ``#`` starts a URL fragment).

What this driver adds to the decoders (drivers/payloads.py) and the
connection (drivers/mqtt_link.py), which every probe on the same broker shares
(drivers/mqtt_shared.py: one connection, messages routed by topic):

* every reading is stamped with the injected clock when it reached the event
  loop; a retained message delivered on (re)subscribe is ``live=False``: an
  old value, shown but not proof that the device is alive;
* the source's own availability (its LWT topic: Tasmota ``tele/<t>/LWT``,
  ESPHome ``<node>/status``, …) turning offline is a ``ProbeDown`` at once;
  online again is a notice;
* notices for the person setting the probe up: what it connects to and waits
  for, the format and channels it recognised, a broker it cannot reach (once
  per change, not per retry), a topic that stays silent, payloads it drops.

``from_url`` checks every option before any I/O; ``events()`` runs until
cancelled, reconnecting by itself, and disconnects cleanly when cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from drivers.base import Clock, Decoded, ProbeDown, ProbeEvent, ProbeNotice, ProbeUrlError, Reading
from drivers.mqtt_link import (
    DEFAULT_PORT,
    DEFAULT_TLS_PORT,
    LinkDown,
    LinkEvent,
    LinkSettings,
    LinkUp,
    Message,
    MqttLink,
    check_topic_filter,
    has_wildcard,
    topic_matches,
)
from drivers.mqtt_shared import POOL, LinkPool, Tap
from drivers.payloads import (
    FORMATS,
    SOURCE_NAMES,
    DecoderOptions,
    PayloadDecoder,
    PayloadResult,
    default_lwt_topic,
    guess_format,
    make_decoder,
    parse_availability,
    safe_raw,
)
from drivers.registry import ProbeUrl

log = logging.getLogger(__name__)

OPTIONS: Final = ("format", "channel", "unit", "lwt", "model", "id", "cafile")

# What to check when a topic stays silent, per source.
_SILENCE_HINTS: Final = {
    "tasmota": "Tasmota sends SENSOR every TelePeriod, 300 s by default: type TelePeriod 10 in its console",
    "number": "ESPHome publishes at each update_interval, 60 s by default",
    "rtl_433": "is rtl_433 running with -F mqtt, and the thermometer on and in range?",
    "omg": "is the thermometer on, and in range of the gateway?",
}


def silence_advice(settings: MqttSettings) -> str:
    """What to check when a topic stays silent, and the command that shows what arrives there."""
    hint = _SILENCE_HINTS.get(settings.fmt, "is anything publishing there?")
    link = settings.link
    return f"{hint}; see what arrives with: mosquitto_sub -h {link.host} -p {link.port} -v -t '{settings.topic}'"


# ---------------------------------------------------------------------------
# settings


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """An MQTT probe URL, checked once before any I/O."""

    link: LinkSettings
    topic: str
    decoder: DecoderOptions
    lwt: str | None = None
    fmt_guessed: bool = False
    url: str = ""  # redacted: safe to show and log

    @property
    def fmt(self) -> str:
        return self.decoder.fmt

    @property
    def subscriptions(self) -> list[str]:
        return [self.topic] if self.lwt is None or self.lwt == self.topic else [self.topic, self.lwt]


def settings_from_url(url: ProbeUrl) -> MqttSettings:
    """Validate an ``mqtt://``/``mqtts://`` URL; ProbeUrlError says what is wrong and how to write it."""
    _check_options(url)
    topic = topic_of(url)
    fmt, guessed = _format(url, topic)
    options = DecoderOptions(
        fmt=fmt,
        unit=url.unit(),
        channel=url.option("channel", "") or None,
        model=url.option("model", "") or None,
        device_id=url.option("id", "") or None,
        per_topic=has_wildcard(topic),
    )
    if fmt == "number" and options.channel and not options.per_topic:
        raise ProbeUrlError(
            "format=number carries one value per topic: channel= only picks a topic on a wildcard "
            "subscription (kitchen/sensor/+/state); drop it, or put the sensor's topic in the URL"
        )
    if (options.model or options.device_id) and fmt not in ("rtl_433", "omg", "auto"):
        raise ProbeUrlError("model= and id= pick a device on a shared topic: they apply to format=rtl_433 and omg")
    return MqttSettings(
        link=link_settings(url),
        topic=topic,
        decoder=options,
        lwt=_lwt(url, fmt, topic),
        fmt_guessed=guessed,
        url=url.redacted(),
    )


def _check_options(url: ProbeUrl) -> None:
    unknown = sorted(set(url.query) - set(OPTIONS))
    if unknown:
        raise ProbeUrlError(f"unknown option {unknown[0]!r} in {url.redacted()!r} (known: {', '.join(OPTIONS)})")
    if "#" in url.text:
        raise ProbeUrlError(
            "write the MQTT wildcard '#' as %23 in a probe URL (a bare # starts a URL fragment), "
            "e.g. mqtt://host:1883/rtl_433/%23?format=rtl_433"
        )
    if not url.host:
        raise ProbeUrlError(f"{url.redacted()!r}: the broker's host is missing, e.g. mqtt://192.168.1.10:1883/<topic>")
    if "cafile" in url.query and url.scheme != "mqtts":
        raise ProbeUrlError("cafile= only applies to mqtts:// (TLS)")


def topic_of(url: ProbeUrl) -> str:
    """The topic after the port, checked: every MQTT source names one (a probe, a barometer)."""
    topic = url.path[1:] if url.path.startswith("/") else url.path
    if not topic:
        raise ProbeUrlError(
            f"{url.redacted()!r}: the topic is missing: put it after the port, "
            "e.g. mqtt://host:1883/tele/kitchen/SENSOR?format=tasmota"
        )
    problem = check_topic_filter(topic)
    if problem is not None:
        raise ProbeUrlError(f"topic {topic!r}: {problem}")
    return topic


def _format(url: ProbeUrl, topic: str) -> tuple[str, bool]:
    fmt = url.option("format", "auto").strip().lower().replace("-", "_")
    fmt = {"rtl433": "rtl_433", "esphome": "number", "theengs": "omg", "openmqttgateway": "omg"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ProbeUrlError(f"format={url.query['format']!r} is not one of {', '.join(FORMATS)}")
    if fmt == "auto":
        guessed = guess_format(topic)
        if guessed is not None:
            return guessed, True
    return fmt, False


def _lwt(url: ProbeUrl, fmt: str, topic: str) -> str | None:
    if "lwt" not in url.query:
        return default_lwt_topic(fmt, topic)
    lwt = url.query["lwt"].strip()
    if not lwt:
        return None  # lwt= turns availability off
    problem = check_topic_filter(lwt)
    if problem is not None:
        raise ProbeUrlError(f"lwt={lwt!r}: {problem}")
    return lwt


def link_settings(url: ProbeUrl) -> LinkSettings:
    """Broker, TLS and credentials of an mqtt:// or mqtts:// URL: every MQTT source has them."""
    tls = url.scheme == "mqtts"
    return LinkSettings(
        host=url.host,
        port=url.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        tls=tls,
        cafile=url.option("cafile", "") or None,
        username=url.username,
        password=url.password,
    )


def from_url(probe_id: str, url: ProbeUrl, clock: Clock) -> MqttProbe:
    """The registry's entry point: validate now, connect only in ``events()``."""
    return MqttProbe(probe_id, settings_from_url(url), clock)


# ---------------------------------------------------------------------------
# what the stream of link events means: pure decisions, time passed in


@dataclass(frozen=True, slots=True)
class Timing:
    """How long the driver waits before it says something (tests shrink them)."""

    tick: float = 1.0
    silence_notice: float = 60.0
    garbage_notice_every: float = 60.0


@dataclass(slots=True)
class MqttMonitor:
    """Everything the driver decides about link events and time: no I/O, no clock.

    Feed it ``on_link(event)`` and ``on_tick(now)``; it returns the events to
    yield. It owns the decoder and the counters (one task touches it).
    """

    probe_id: str
    settings: MqttSettings
    timing: Timing = field(default_factory=Timing)
    decoder: PayloadDecoder = field(init=False)
    up_since: float | None = None
    last_data_at: float | None = None
    silence_told_at: float | None = None
    source_online: bool | None = None
    announced: bool = False
    devices: list[str] = field(default_factory=list)
    several_told: bool = False
    unreadable: int = 0
    garbage_pending: int = 0
    garbage_told_at: float | None = None
    readings: int = 0
    channels_seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.decoder = make_decoder(self.settings.decoder)

    # -- what to say before connecting

    def start_message(self) -> str:
        s = self.settings
        how = "guessed from the topic" if s.fmt_guessed else "from the URL"
        fmt = "auto (from the first payload)" if s.fmt == "auto" else f"{s.fmt} ({how})"
        lwt = f", availability from {s.lwt}" if s.lwt else ", no availability topic (set lwt= to add one)"
        return f"MQTT probe {s.url}: format {fmt}, topic {s.topic}{lwt}; connecting to {s.link.server}"

    # -- input

    def on_link(self, event: LinkEvent) -> list[ProbeEvent]:
        if isinstance(event, Message):
            return self._message(event)
        if isinstance(event, LinkUp):
            return self._up(event)
        return self._down(event)

    def on_tick(self, now: float) -> list[ProbeEvent]:
        if self.up_since is None:
            return []
        quiet_since = max(self.up_since, self.last_data_at or self.up_since)
        quiet = now - quiet_since
        if quiet < self.timing.silence_notice:
            return []
        if self.silence_told_at is not None and self.silence_told_at >= quiet_since:
            return []
        self.silence_told_at = now
        text = f"no message on {self.settings.topic} for {quiet:.0f} s ({silence_advice(self.settings)})"
        return [ProbeNotice(self.probe_id, now, text, "warning")]

    # -- connection

    def _up(self, event: LinkUp) -> list[ProbeEvent]:
        self.up_since = event.at
        self.source_online = None  # its retained LWT, if any, comes again now
        s = self.settings
        source = SOURCE_NAMES.get(s.fmt, s.fmt)
        text = f"connected to {event.server}; waiting for {s.topic} ({source})"
        out: list[ProbeEvent] = [ProbeNotice(self.probe_id, event.at, text)]
        if event.refused:
            refused = ", ".join(event.refused)
            text = f"the broker refused the subscription to {refused}: check its ACL for this user"
            out.append(ProbeNotice(self.probe_id, event.at, text, "error"))
        return out

    def _down(self, event: LinkDown) -> list[ProbeEvent]:
        self.up_since = None
        what = "reconnecting" if event.was_up else "retrying"
        text = f"{event.reason}; {what} every ≤ {self.settings.link.reconnect_max:g} s"
        return [ProbeNotice(self.probe_id, event.at, text, "warning")]

    # -- messages

    def _message(self, msg: Message) -> list[ProbeEvent]:
        lwt = self.settings.lwt
        if lwt is not None and topic_matches(lwt, msg.topic):
            return self._availability(msg)
        self.last_data_at = msg.at
        if msg.truncated:
            result = PayloadResult(unreadable=f"payload of {msg.size} bytes is too big to be a reading")
        else:
            result = self.decoder.decode(msg.topic, msg.payload)
        if result.unreadable is not None:
            return self._garbage(msg, result.unreadable)
        out = self._several_devices(msg, result)
        if result.skipped is not None:
            log.debug("%s: skipped a message on %s: %s", self.probe_id, msg.topic, result.skipped)
            return out
        out.extend(self._announce(msg, result))
        raw = safe_raw(msg.payload)
        out.extend(self._reading(msg, value, raw) for value in self._values(result))
        return out

    def _values(self, result: PayloadResult) -> list[Decoded]:
        """The result's channels; a fault that names none (a payload of only "nan") is a fault
        of every channel the probe has shown, so the channel a cook follows hears of it."""
        if not result.device_wide:
            for value in result.values:
                if value.channel not in self.channels_seen:
                    self.channels_seen.append(value.channel)
            return list(result.values)
        reason = result.values[0].fault if result.values else "the sensor has no value"
        return [Decoded(channel, None, reason) for channel in self.channels_seen or [""]]

    def _reading(self, msg: Message, value: Decoded, raw: str) -> Reading:
        self.readings += 1
        log.debug("%s: %s %s %s (retained=%s)", self.probe_id, msg.topic, value.channel, value.celsius, msg.retain)
        return Reading(self.probe_id, value.channel, value.celsius, msg.at, raw, value.fault, live=not msg.retain)

    def _availability(self, msg: Message) -> list[ProbeEvent]:
        online = parse_availability(msg.payload)
        word = safe_raw(msg.payload, 32)
        if online is None:
            log.debug("%s: unknown availability payload %r on %s", self.probe_id, word, msg.topic)
            return []
        was, self.source_online = self.source_online, online
        source = SOURCE_NAMES.get(self.settings.fmt, "the source")
        if not online:
            if was is False:
                return []
            reason = f"{source} says {word!r} on {msg.topic} (it lost power, Wi-Fi or the broker)"
            return [ProbeDown(self.probe_id, msg.at, reason)]
        if was is True:
            return []
        return [ProbeNotice(self.probe_id, msg.at, f"{source} says {word!r} on {msg.topic}")]

    def _announce(self, msg: Message, result: PayloadResult) -> list[ProbeEvent]:
        if self.announced:
            return []
        self.announced = True
        fmt = result.fmt or self.decoder.name
        source = SOURCE_NAMES.get(fmt, fmt)
        names = [c or "(main)" for c in result.channels]
        if self.settings.decoder.channel is None and len(names) > 1:
            what = f"channels {', '.join(names)}: each is a reading; pick one with channel="
        else:
            picked = result.values[0].channel if result.values else ""
            others = [n for n in names if n != (picked or "(main)")]
            what = f"channel {picked or '(main)'}" + (f" (also in the message: {', '.join(others)})" if others else "")
        old = " (a retained, old value)" if msg.retain else ""
        text = f"recognised {source} on {msg.topic}{old}: {what}"
        return [ProbeNotice(self.probe_id, msg.at, text)]

    def _several_devices(self, msg: Message, result: PayloadResult) -> list[ProbeEvent]:
        d = self.settings.decoder
        if not result.device or d.model or d.device_id or result.device in self.devices:
            return []
        self.devices.append(result.device)
        if len(self.devices) < 2 or self.several_told:
            return []
        self.several_told = True
        text = (
            f"several devices publish on {self.settings.topic} ({', '.join(self.devices[:4])}): "
            "pick yours with model= and id= in the URL"
        )
        return [ProbeNotice(self.probe_id, msg.at, text, "warning")]

    def _garbage(self, msg: Message, reason: str) -> list[ProbeEvent]:
        self.unreadable += 1
        self.garbage_pending += 1
        log.debug("%s: dropped a payload on %s: %s: %s", self.probe_id, msg.topic, reason, safe_raw(msg.payload, 80))
        told = self.garbage_told_at
        if told is not None and msg.at - told < self.timing.garbage_notice_every:
            return []
        count, self.garbage_pending, self.garbage_told_at = self.garbage_pending, 0, msg.at
        many = f"{count} unreadable payloads" if count > 1 else "an unreadable payload"
        text = f"dropped {many} on {msg.topic}: {reason} (e.g. {safe_raw(msg.payload, 60)!r})"
        return [ProbeNotice(self.probe_id, msg.at, text, "warning")]


# ---------------------------------------------------------------------------
# the driver


class MqttProbe:
    """An MQTT probe: ``events()`` subscribes for ever, through broker restarts and bad payloads.

    What the user must read is yielded (ProbeNotice, ProbeDown), not logged:
    the consumer (service runtime, ``potwatch probe``) decides where it goes,
    so it is printed once. The driver and its link log only at debug.
    """

    def __init__(
        self,
        probe_id: str,
        settings: MqttSettings,
        clock: Clock,
        timing: Timing | None = None,
        pool: LinkPool | None = None,
    ):
        self.probe_id = probe_id
        self.settings = settings
        self._clock = clock
        self._timing = timing or Timing()
        self._pool = pool or POOL
        self.link: MqttLink | None = None  # the connection (shared per broker), for tests and diagnostics
        self._tap: Tap | None = None
        self._monitor: MqttMonitor | None = None

    @property
    def dropped(self) -> int:
        """Payloads dropped so far: unreadable ones, and those its full queue refused (``/metrics``)."""
        unreadable = self._monitor.unreadable if self._monitor is not None else 0
        return unreadable + (self._tap.dropped if self._tap is not None else 0)

    async def events(self) -> AsyncIterator[ProbeEvent]:
        monitor = self._monitor = MqttMonitor(self.probe_id, self.settings, self._timing)
        yield ProbeNotice(self.probe_id, self._clock(), monitor.start_message())
        # one connection per broker (drivers/mqtt_shared.py): this probe's subscriptions and queue on it
        shared, tap = self._pool.attach(self.settings.link, self.settings.subscriptions, self._clock)
        self.link, self._tap = shared.link, tap
        try:
            while True:
                for event in await self._next(tap, monitor):
                    yield event
        finally:
            await self._pool.detach(shared, tap)

    async def _next(self, tap: Tap, monitor: MqttMonitor) -> list[ProbeEvent]:
        # asyncio.timeout around a direct await: on timeout the queue keeps
        # its item (wait_for on 3.11 could lose one that arrived at the edge).
        try:
            async with asyncio.timeout(self._timing.tick):
                event = await tap.get()
        except TimeoutError:
            return monitor.on_tick(self._clock())
        return monitor.on_link(event)
