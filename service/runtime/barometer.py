"""The kitchen's barometer: station pressure over MQTT → ``SetPressure`` for the hub.

Water boils lower when the air is thinner: about 1 °F per 550 ft of altitude,
and a few tenths of a degree with the weather. With a barometer in the kitchen
every probe without a measured boiling point follows today's air instead of
the standard atmosphere at the configured altitude (``service.core``, the
Kitchen's ``SetPressure``).

Two pieces, as for the probes:

* ``BarometerMonitor``: every decision, with the time passed in (no I/O, no
  clock, table-tested): decode, convert, refuse what no kitchen's air can be,
  post a change of at least ``MIN_CHANGE_HPA`` or the value again after
  ``REPOST_EVERY_S``, forget a reading older than ``stale_after``. A dropped
  payload is counted and logged at debug; a warning is said once per change
  of state (unreadable, out of range, good again), never per payload.
* ``Barometer``: the ``Part`` that shuttles ``MqttLink`` events into the
  monitor and its decisions to the hub, on the event loop (the link's paho
  runs there too, and hands frozen messages over).

Retained messages (ESPHome retains its states) are old values: one is taken
only while there is no reading at all, and never the very payload whose value
was just forgotten as stale, or a dead sensor's last value would come back
with every reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drivers.barometer import BarometerSettings, PressureValue, barometer_settings, decode
from drivers.mqtt_link import LinkDown, LinkUp, MqttLink
from drivers.payloads import safe_raw
from service.core.events import SetPressure
from service.core.units import (
    PRESSURE_MAX_HPA,
    PRESSURE_MIN_HPA,
    c_to_f,
    format_duration,
    pressure_at_altitude_hpa,
    pressure_to_hpa,
    water_boils_at_c,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from service.config import Config
    from service.runtime.hub import Hub

log = logging.getLogger(__name__)

MIN_CHANGE_HPA = 0.3  # ~0.01 °C of boiling point: less is the sensor's noise
REPOST_EVERY_S = 600.0  # the value again, so the record shows the barometer is alive
STALE_AFTER_S = 6 * 3600.0
# The weather keeps station pressure within about ±50 hPa of the standard
# atmosphere's; further off at a configured altitude, the barometer is most
# likely reporting a sea-level (adjusted) value, which says water boils at
# 100 °C anywhere.
SEA_LEVEL_SUSPECT_HPA = 60.0
TICK_S = 1.0
CLOSE_WAIT_S = 1.2  # the service gives each part 1.5 s to close


# ---- what the monitor decides -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Post:
    """Tell the hub: the kitchen's pressure is ``hpa`` (None: there is no reading any more)."""

    at: float
    hpa: float | None


@dataclass(frozen=True, slots=True)
class Note:
    """A line for the journal, at a ``logging`` level."""

    level: int
    text: str


Decision = Post | Note


@dataclass
class BarometerMonitor:
    """Barometer messages and time in, posts and log lines out. One task owns it."""

    settings: BarometerSettings
    stale_after: float = STALE_AFTER_S
    altitude_m: float | None = None  # the kitchen's, to recognise a sea-level value
    min_change_hpa: float = MIN_CHANGE_HPA
    repost_every_s: float = REPOST_EVERY_S
    hpa: float | None = None  # the reading in force
    heard_at: float | None = None  # when it was last heard (its staleness counts from there)
    posted_hpa: float | None = None  # what the kitchen holds, as far as we told it
    posted_at: float | None = None
    trouble: str | None = None  # the kind of the last dropped payload, until a good one
    suspect: bool = False  # the reading looks like a sea-level value: said once
    counts: dict[str, int] = field(
        default_factory=lambda: {"readings": 0, "posted": 0, "unreadable": 0, "out_of_range": 0, "old": 0, "stale": 0}
    )
    _last_payload: bytes | None = None
    _forgotten: bytes | None = None

    # -- input

    def resume(self, at: float, hpa: float) -> None:
        """The kitchen already holds a reading (restored from history): it goes stale from ``at`` like ours."""
        self.hpa = self.posted_hpa = hpa
        self.heard_at = self.posted_at = at

    def on_message(self, at: float, payload: bytes, *, retained: bool = False, size: int = -1) -> list[Decision]:
        if size > len(payload):
            return self._drop("unreadable", f"payload of {size} bytes is too big to be a reading", payload)
        decoded = decode(self.settings, payload)
        if not isinstance(decoded, PressureValue):
            return self._drop("unreadable", decoded.reason, payload)
        try:
            hpa = pressure_to_hpa(decoded.value, decoded.unit)
        except ValueError as exc:
            return self._drop("unreadable", str(exc), payload)
        if not PRESSURE_MIN_HPA <= hpa <= PRESSURE_MAX_HPA:
            why = (
                f"{decoded.value:g} {decoded.unit} is no kitchen's air pressure "
                f"({PRESSURE_MIN_HPA:g}–{PRESSURE_MAX_HPA:g} hPa)"
            )
            return self._drop("out_of_range", why, payload)
        if retained and (self.hpa is not None or payload == self._forgotten):
            self.counts["old"] += 1  # an old value never stands in for, nor extends, a live one
            return []
        out: list[Decision] = []
        if self.trouble is not None:
            out.append(Note(logging.INFO, f"barometer: readable again ({hpa:.1f} hPa)"))
            self.trouble = None
        if self.hpa is None:
            out.append(Note(logging.INFO, self._first_words(hpa, decoded, retained)))
        out.extend(self._sea_level_check(hpa))
        self.counts["readings"] += 1
        self.hpa, self.heard_at, self._last_payload = hpa, at, payload
        if (
            self.posted_hpa is None
            or self.posted_at is None
            or abs(hpa - self.posted_hpa) >= self.min_change_hpa
            or at - self.posted_at >= self.repost_every_s
        ):
            self.posted_hpa, self.posted_at = hpa, at
            self.counts["posted"] += 1
            out.append(Post(at, hpa))
        return out

    def on_tick(self, now: float) -> list[Decision]:
        """Forget a reading older than ``stale_after``: the probes fall back to their other calibration."""
        if self.hpa is None or self.heard_at is None or now - self.heard_at < self.stale_after:
            return []
        self._forgotten = self._last_payload
        self.hpa = self.posted_hpa = None
        self.counts["stale"] += 1
        self.counts["posted"] += 1
        text = (
            f"barometer: no reading on {self.settings.topic} for {format_duration(now - self.heard_at)}: "
            "forgotten; probes fall back to a measured boil, the altitude, or 100 °C"
        )
        return [Note(logging.WARNING, text), Post(now, None)]

    @property
    def deadline(self) -> float | None:
        """When the reading in force goes stale, if nothing comes meanwhile."""
        if self.hpa is None or self.heard_at is None:
            return None
        return self.heard_at + self.stale_after

    # -- helpers

    def _drop(self, kind: str, reason: str, payload: bytes) -> list[Decision]:
        self.counts[kind] += 1
        out: list[Decision] = [Note(logging.DEBUG, f"barometer: dropped {safe_raw(payload, 80)!r}: {reason}")]
        if self.trouble != kind:
            self.trouble = kind
            keep = f"keeping {self.hpa:.1f} hPa" if self.hpa is not None else "no reading yet"
            text = (
                f"barometer: dropping payloads on {self.settings.topic}: {reason} "
                f"(e.g. {safe_raw(payload, 60)!r}); {keep}"
            )
            out.append(Note(logging.WARNING, text))
        return out

    def _first_words(self, hpa: float, value: PressureValue, retained: bool) -> str:
        boil = water_boils_at_c(hpa)
        where = f" from {value.source}" if value.source else ""
        also = f" (also in the message: {', '.join(value.others)})" if value.others else ""
        old = ", a retained (old) value" if retained else ""
        return (
            f"barometer: {hpa:.1f} hPa{where}{also} on {self.settings.topic}{old}: "
            f"water boils at {boil:.1f} °C ({c_to_f(boil):.1f} °F) here"
        )

    def _sea_level_check(self, hpa: float) -> list[Decision]:
        if self.altitude_m is None:
            return []
        expected = pressure_at_altitude_hpa(self.altitude_m)
        off = abs(hpa - expected) > SEA_LEVEL_SUSPECT_HPA
        if off == self.suspect:
            return []
        self.suspect = off
        if not off:
            return [Note(logging.INFO, f"barometer: {hpa:.1f} hPa agrees with the altitude again")]
        text = (
            f"barometer: {hpa:.1f} hPa is far from the {expected:.0f} hPa of the configured altitude "
            f"({self.altitude_m:.0f} m): is it a sea-level (adjusted) pressure? Water boils by the STATION "
            "pressure (Tasmota's Pressure, not SeaPressure); the reading is used as it is"
        )
        return [Note(logging.WARNING, text)]


# ---- the part ------------------------------------------------------------------------------


class Barometer:
    """The ``Part`` that reads the barometer's topic and posts ``SetPressure`` to the hub."""

    name = "pressure"

    def __init__(
        self,
        settings: BarometerSettings,
        stale_after: float = STALE_AFTER_S,
        *,
        altitude_m: float | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        self.settings = settings
        self.monitor = BarometerMonitor(settings, stale_after, altitude_m)
        self.tick_s = tick_s
        self._hub: Hub | None = None
        self._link: MqttLink | None = None
        self.connects = 0
        self.ticks = 0  # times the staleness was looked at without a message

    @classmethod
    def from_config(cls, config: Config) -> Barometer:
        """The barometer of ``[pressure]`` (already validated by the config model)."""
        assert config.pressure is not None
        return cls(barometer_settings(config.pressure.url), config.pressure.stale_after, altitude_m=config.altitude)

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    # ---- Part ----

    def attach(self, hub: Hub) -> None:
        self._hub = hub
        restored = hub.kitchen.pressure_hpa
        if restored is not None:
            # we cannot know how old it is: it goes stale from now unless the barometer speaks
            self.monitor.resume(hub.clock.monotonic(), restored)

    def routers(self) -> list[APIRouter]:
        return []

    def health(self) -> dict[str, object]:
        link, monitor, hub = self._link, self.monitor, self._hub
        age = None
        if monitor.heard_at is not None and monitor.hpa is not None and hub is not None:
            age = round(hub.clock.monotonic() - monitor.heard_at, 1)
        return {
            "pressure": {
                "state": "connected" if self.connected else "disconnected",
                "broker": f"{'mqtts' if self.settings.link.tls else 'mqtt'}://{self.settings.link.server}",
                "topic": self.settings.topic,
                "format": self.settings.fmt,
                "hpa": None if monitor.hpa is None else round(monitor.hpa, 1),
                "age_s": age,
                "thread_alive": link is not None and link.thread_alive,
                "callback_errors": link.callback_errors if link is not None else 0,
                "connects": self.connects,
                **monitor.counts,
            }
        }

    async def run(self) -> None:
        hub = self._require_hub()
        s = self.settings
        how = "guessed from the topic" if s.fmt_guessed else "from the URL"
        log.info("pressure: barometer %s: format %s (%s), topic %s", s.url, s.fmt, how, s.topic)
        link = self._link = MqttLink(s.link, subscriptions=[s.topic], clock=hub.clock.monotonic, name="pressure")
        link.start()
        while True:
            try:
                async with asyncio.timeout(self._timeout(hub)):
                    event = await link.get()
            except TimeoutError:
                self.ticks += 1
                self._act(hub, self.monitor.on_tick(hub.clock.monotonic()))
                continue
            try:
                if isinstance(event, LinkUp):
                    self.connects += 1
                elif isinstance(event, LinkDown):
                    pass  # the link said why; the reading in force goes stale by itself
                else:
                    decisions = self.monitor.on_message(event.at, event.payload, retained=event.retain, size=event.size)
                    self._act(hub, decisions)
            except Exception:
                log.exception("pressure: could not handle %r", event)
            self._act(hub, self.monitor.on_tick(hub.clock.monotonic()))

    async def close(self) -> None:
        link = self._link
        if link is None:
            return
        await link.stop(timeout=CLOSE_WAIT_S)
        self._link = None

    # ---- helpers ----

    def _timeout(self, hub: Hub) -> float:
        deadline = self.monitor.deadline
        if deadline is None:
            return self.tick_s
        left = hub.clock.real_seconds(deadline - hub.clock.monotonic())
        return min(self.tick_s, max(left, 0.01))

    def _act(self, hub: Hub, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Post):
                hub.post(SetPressure(decision.at, decision.hpa))
            else:
                log.log(decision.level, "%s", decision.text)

    def _require_hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("Barometer.run before attach")
        return self._hub
