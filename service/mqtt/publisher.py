"""The MQTT part: the kitchen's state, alerts and Home Assistant discovery on a broker, and acks back.

It reads the hub's bus like any other listener (a bounded queue: a dead broker
never holds up the pot) and turns events into messages:

- ``<base>/availability`` ``online``/``offline``, retained; ``offline`` is the
  last will, and ``close`` publishes it itself (a will is not sent on a clean
  disconnect);
- ``<base>/probe/<id>/temperature``, retained, QoS 0: the reading, its state,
  the filtered value and the rate of rise;
- ``<base>/probe/<id>/availability``, retained: ``offline`` while the probe is
  lost, so Home Assistant shows it unavailable from the stale timeout on;
- ``<base>/cook/state``, retained, QoS 1: the cook (stage, target, ETA with its
  uncertainty, sugar stage…) and its alerts with their acked flags;
- ``<base>/cook/ack/availability``, retained: ``online`` while commands are
  taken, the Home Assistant button's availability (never withdrawn, so it
  stays one entity with the user's name and area);
- ``<base>/cook/alert``, QoS 1, not retained: each alert once, with its stable
  id so that a redelivered duplicate is recognisable;
- Home Assistant discovery (``discovery.py``), on every (re)connect and every
  time Home Assistant announces itself on ``homeassistant/status``.

On every (re)connect it also reads back its own retained discovery topics and
per-probe topics and clears (an empty retained message) every one it no
longer announces: a probe removed from the config leaves no ghost entity, and
nothing depends on a state directory remembering what was announced before.

It listens to ``<base>/cook/ack`` (an alert id or ``all``) and the Home
Assistant button's topic; an ack goes through ``hub.request`` exactly like the
API's, so the page, SSE and everyone else hear it.

With ``[[heaters]]``, each heater's view goes to ``<base>/heater/<id>/state``
(retained, at each of the bus's ``heater`` events: on a change, its duty at
most every 10 s), and ``<base>/heater/<id>/override`` takes ``off``,
``auto`` or ``on`` like the API's override: ``off`` always (it can only make
the kitchen safer), the others only where acks are taken.

The connection is ``drivers.mqtt_link.MqttLink``: paho driven by the event
loop (no network thread: a publish is written in the caller's turn),
reconnecting within 2 s of a broker's return. Every ``LinkUp``
republishes discovery, availability and state. While the broker is away,
readings and state are not queued (they are superseded, and republished on
reconnect); alerts are handed to paho at QoS 1, which keeps them and sends
them once when the connection is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from drivers.mqtt_link import DEFAULT_PORT, DEFAULT_TLS_PORT, LinkDown, LinkSettings, LinkUp, MqttLink, Will
from drivers.mqtt_link import Message as LinkMessage
from service import __version__
from service.core.events import Acknowledge, AlertRaised, CommandRefused, Output
from service.core.heat.events import OVERRIDE_WORDS, OverrideMode
from service.mqtt.discovery import (
    ACK_PRESS,
    HeaterInfo,
    Instance,
    Message,
    ProbeInfo,
    Topics,
    announce,
    config_wildcard,
    expire_after,
    probe_message,
    probe_topics,
    status_topic,
)
from service.runtime.pages import page_urls
from service.runtime.views import (
    ALERT_STATE_KEYS,
    COOK_STATE_KEYS,
    AlertSummary,
    AlertView,
    CookStateView,
    HeaterView,
    MqttAlertEvent,
    MqttCookState,
    MqttProbeReading,
    ReadingEvent,
    alert_json,
    both,
    probe_json,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from service.config import Config, MqttConfig
    from service.runtime.bus import BusEvent, Subscription
    from service.runtime.hub import Hub

log = logging.getLogger(__name__)

# How far behind the hub this part may fall before it is cut off, resubscribes and republishes
# the state (the readings in between are lost to MQTT): in seconds like a phone, since a count
# that is seconds for one pot is one second for a restaurant line (2,000 events were cut 27
# times in a minute at 1,000 probes), with a count as the memory bound
BUS_BEHIND_S = 10.0
BUS_QUEUE = 20_000
ALERT_BACKLOG = 500  # alerts paho may hold (QoS 1) while the broker is away
KEEPALIVE_S = 10  # [mqtt] keepalive's default: the broker sends our will 1.5 × this after a silent death
# QoS 1, as README and docs/mqtt.md say: the state is what a Home Assistant automation
# triggers on (target reached, an alert acked), and a broker holding a persistent session for
# a subscriber that is briefly away queues QoS 1 messages for it but drops QoS 0 ones, so a
# stage change at QoS 0 could be lost without anything reconnecting.
COOK_STATE_QOS = 1
# QoS 1 too, though a newer reading supersedes it: everything a subscriber gets from us at one
# QoS. A subscriber answers a QoS 1 message with a PUBACK, and that makes its kernel delay its
# next ACKs (Linux's "interactive" mode); a QoS 0 reading it got next went un-ACKed for up to
# 40 ms, and Mosquitto's Nagle held the reading after it until then (~20 ms at p99). A reading
# at QoS 1 is answered at once too, its PUBACK carries the ACK, and nothing waits (docs/mqtt.md).
PROBE_QOS = 1
# a reading is not handed to paho while the broker has left a publish unacknowledged this long
# (a silently dead link, before the liveness check cuts it): paho would keep every one and send
# them all, stale, when the broker answers again; the last one is republished on reconnect
READING_HOLD_S = 1.0
HELD_RETRY_S = 0.25  # how often a held-back reading looks again whether the broker answers
STATE_COALESCE_S = 0.005  # the cook state follows a burst of events by this much, once
CLOSE_WAIT_S = 1.0  # the service gives each part 1.5 s to close
CLOSE_ACK_WAIT_S = 0.3  # of which this for the broker to acknowledge the last state and "offline"
INACTIVE_ALERTS_IN_STATE = 5
EXPIRE_CHANGE = 0.2  # republish a probe's expire_after when its stale timeout moved this much
ALERT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
WARN_IGNORED = 20  # after this many ignored commands, say so at debug level only

REACHED_STAGES = ("reached", "overshoot")
PROBE_LEAVES = ("temperature", "availability")  # what we publish under <base>/probe/<id>/
GHOST_STATE_DELAY_S = 2.0  # a removed probe's state topics are emptied this long after its discovery config


# ---- payloads: pure functions of what the hub says ---------------------------------------


FAILURE_LOG_EVERY_S = 60.0


def dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def probe_payload(
    reading: Mapping[str, Any], level_c: float | None = None, rate_c_per_s: float | None = None
) -> MqttProbeReading:
    """A probe's temperature message: the reading as the API shows it, plus the tracker's filtered view."""
    filtered_c, filtered_f = both(level_c)
    rate_c = None if rate_c_per_s is None else round(rate_c_per_s * 60.0, 2)
    return MqttProbeReading(
        probe=reading["probe"],
        channel=reading.get("channel", ""),
        celsius=reading.get("celsius"),
        fahrenheit=reading.get("fahrenheit"),
        at=reading.get("at"),
        state=reading.get("state"),
        fault=reading.get("fault"),
        filtered_c=filtered_c,
        filtered_f=filtered_f,
        rate_c_per_min=rate_c,
        rate_f_per_min=None if rate_c is None else round(rate_c * 1.8, 2),
    )


def state_alert(alert: AlertView) -> AlertSummary:
    """An alert as the cook's state lists it: the API's, without its temperatures."""
    return cast(AlertSummary, {key: alert.get(key) for key in ALERT_STATE_KEYS})


def cook_state_payload(status: CookStateView) -> MqttCookState:
    """``<base>/cook/state``: the newest running cook (or ``idle``) and the alerts worth showing."""
    cook = status.get("cook")
    payload: dict[str, Any] = {"cook": None, **dict.fromkeys(COOK_STATE_KEYS)}
    if cook is not None:
        payload["cook"] = cook["id"]
        payload.update({key: cook.get(key) for key in COOK_STATE_KEYS})
    else:
        payload["stage"] = "idle"
    rate = payload["rate_f_per_min"]
    payload["rate_c_per_min"] = None if rate is None else round(rate / 1.8, 2)
    payload["target_reached"] = bool(
        cook is not None and cook["step_kind"] == "reach" and cook["stage"] in REACHED_STAGES
    )
    alerts = status["alerts"]
    active = [a for a in alerts if a["active"]]
    recent = [a for a in alerts if not a["active"]][:INACTIVE_ALERTS_IN_STATE]
    payload["active_alerts"] = len(active)
    payload["alerts"] = [state_alert(a) for a in active + recent]
    return cast(MqttCookState, payload)


def alert_payload(alert: AlertView) -> MqttAlertEvent:
    """An alert as the API shows it; ``event_type`` is what Home Assistant's event entity reads."""
    return MqttAlertEvent(event_type=alert["kind"], **alert)


# ---- the connection ------------------------------------------------------------------------


def link_settings(url: str, client_id: str, will: Message | None = None, keepalive: int = KEEPALIVE_S) -> LinkSettings:
    """``mqtt://user:pass@host:port`` (``mqtts://`` for TLS, ``?cafile=`` for a private CA) → the link's settings.

    ``potwatch doctor`` connects as the service would, but without a will: it
    must never tell Home Assistant that potwatch went offline.
    """
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    query = dict(parse_qsl(parts.query))
    return LinkSettings(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        tls=tls,
        cafile=query.get("cafile"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        client_id=client_id,
        keepalive=keepalive,
        will=Will(will.topic, will.payload.encode(), will.qos, will.retain) if will is not None else None,
    )


# ---- the part ----------------------------------------------------------------------------


def heater_payload(view: HeaterView) -> dict[str, Any]:
    """``<base>/heater/<id>/state``: the status's view, the duty to the percent (to 1e-4 it would change,
    and be sent again, at every look while the heat is on)."""
    return {**view, "duty": round(view["duty"], 2)}


class MqttPublisher:
    """The ``Part`` that mirrors the kitchen onto MQTT and takes acks back."""

    name = "mqtt"

    def __init__(
        self,
        config: MqttConfig,
        probes: Sequence[ProbeInfo] = (),
        *,
        accept_commands: bool = True,
        page_url: str | None = None,
        client_id: str = "",
        heaters: Sequence[HeaterInfo] = (),
    ) -> None:
        self.config = config
        self.topics = Topics(config.base_topic)
        self.accept_commands = accept_commands
        self._probes = {p.id: p for p in probes}
        self._heaters = tuple(heaters)
        self._page_url = page_url
        will = Message(self.topics.availability, "offline", retain=True)
        self.settings = link_settings(config.url, client_id, will, config.keepalive)
        self._hub: Hub | None = None
        self._sub: Subscription | None = None
        self._link: MqttLink | None = None
        self._last_id = 0
        self._last_state: str | None = None
        self._state_timer: asyncio.TimerHandle | None = None
        self._held_alerts: list[str] = []  # ids of alerts raised while disconnected, oldest first
        self._announced_expiry: dict[str, int | None] = {}
        self._probe_online: dict[str, str] = {}  # the last availability sent per probe, since the last connect
        self._last_reading: dict[str, MqttProbeReading] = {}  # the last reading per probe, sent or held back
        self._held_readings: set[str] = set()  # probes whose last reading was held back (READING_HOLD_S)
        self._held_timer: asyncio.TimerHandle | None = None
        self.stats = {
            "published": 0,
            "skipped": 0,
            "held_back": 0,  # readings not handed over while the broker was not acknowledging (READING_HOLD_S)
            "refused": 0,
            "connects": 0,
            "commands": 0,
            "ignored": 0,
            "cleared": 0,
            "not_resent": 0,  # held alerts acknowledged or cleared before the broker came back
            "failed": 0,  # hub events that raised on their way out (a bug): logged once a minute per kind
        }
        self._failure_logged: dict[tuple[str, str], float] = {}  # (event, exception) → when last logged

    @classmethod
    def from_config(cls, config: Config, host: str | None = None, port: int | None = None) -> MqttPublisher:
        """The publisher for ``potwatch run``: commands obey the same token rule as the API."""
        assert config.mqtt is not None
        scheme = "https" if config.server.tls else "http"
        page = page_urls(scheme, host or config.server.host, port or config.server.port)[0]
        accept = not config.server.token or config.mqtt.accept_commands
        if not accept:
            log.info("mqtt: a token is set and [mqtt] accept_commands is false: acks over MQTT are refused")
        probes = [ProbeInfo(p.id, p.label) for p in config.probes]
        heaters = [HeaterInfo(h.id, h.probe) for h in config.heaters]
        return cls(config.mqtt, probes, accept_commands=accept, page_url=page, heaters=heaters)

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    # ---- Part ----

    def attach(self, hub: Hub) -> None:
        self._hub = hub
        # subscribe now: nothing the hub says between start-up and our first connect is missed
        self._sub = hub.bus.subscribe(BUS_QUEUE, behind_s=BUS_BEHIND_S)
        hub.on_output.append(self._on_output)
        hub.on_reading.append(self._on_reading)
        for probe_id in hub.kitchen.probes:
            self._probes.setdefault(probe_id, ProbeInfo(probe_id))

    def routers(self) -> list[APIRouter]:
        return []

    def health(self) -> dict[str, object]:
        link = self._link
        return {
            "mqtt": {
                "state": "connected" if self.connected else "disconnected",
                "broker": f"{'mqtts' if self.settings.tls else 'mqtt'}://{self.settings.server}",
                "thread_alive": link is not None and link.thread_alive,
                "callback_errors": link.callback_errors if link is not None else 0,
                **self.stats,
            }
        }

    async def run(self) -> None:
        hub = self._require_hub()
        subscriptions: list[tuple[str, int]] = []
        if self.accept_commands:
            subscriptions += [(self.topics.cook_ack, 1), (self.topics.ack_button, 1)]
        instance = self._instance()
        birth = status_topic(instance)
        if birth:
            subscriptions.append((birth, 1))
        # read back what we left retained, to clear what is no longer ours to announce: the
        # discovery configs first (the broker replays in subscription order), so that Home
        # Assistant drops a ghost entity before its state topic is emptied under it (an
        # entity that still exists logs "Erroneous JSON" and a template error on the empty state)
        announced = config_wildcard(instance)
        if announced:
            subscriptions.append((announced, 1))
        # QoS 0: our own readings come back on it, and at QoS 1 each would cost us a PUBACK
        subscriptions.append((self.topics.probes_wildcard, 0))
        if self._heaters:
            # the overrides, and our own retained heater states read back (to clear a removed one's);
            # always: "off" is taken even where other commands are refused
            subscriptions.append((self.topics.heaters_wildcard, 1))
        link = self._link = MqttLink(self.settings, subscriptions=subscriptions, name="mqtt")
        link.start()
        log.info("mqtt: publishing to %s under %s/", self.settings.server, self.topics.base)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._pump_bus(hub))
            tasks.create_task(self._pump_link(hub, link))

    async def close(self) -> None:
        link = self._link
        if link is None:
            return
        timer, hub = self._state_timer, self._hub
        if timer is not None:
            timer.cancel()
            self._state_timer = None
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        if hub is not None:
            # The last state goes before our "offline", always, read from the hub itself: the bus
            # may not have brought us its last events (the service closes every listener before
            # the parts, and the hub runs on until cancelled), and a coalescing timer is pending
            # only for 5 ms after one. Forced: one message, and the broker surely holds the last word.
            try:
                self._send_cook_state(hub, force=True)
            except Exception:
                log.exception("mqtt: could not publish the last cook state")
        was_up = link.connected
        # Our own "offline": the will is not sent on a clean disconnect. paho writes
        # this PUBLISH before the DISCONNECT on the same stream, so the broker has it.
        link.publish(self.topics.availability, "offline", qos=1, retain=True)
        if was_up:
            self.stats["published"] += 1
        # the broker's PUBACKs before our DISCONNECT: gone sooner, the broker may drop us as unclean
        await link.acknowledged(CLOSE_ACK_WAIT_S)
        await link.stop(timeout=CLOSE_WAIT_S)
        self._link = None
        # the count a subscriber can check its own against once /healthz is gone (bench/soak.py does)
        log.info(
            "mqtt: %s (%d messages published, %d skipped while disconnected)",
            "offline published, disconnected" if was_up else "stopped (the broker was away)",
            self.stats["published"],
            self.stats["skipped"],
        )

    # ---- the hub's events → messages ----

    async def _pump_bus(self, hub: Hub) -> None:
        while True:
            sub = self._sub
            if sub is None:
                return
            event = await sub.get()
            if event is None:
                if not sub.overflowed:
                    return  # the service is stopping
                self._resubscribe(hub)
                continue
            self._last_id = event.id
            try:
                self._on_event(hub, event)
            except Exception as exc:
                self._failed(hub, event.name, exc)

    def _failed(self, hub: Hub, what: str, exc: Exception) -> None:
        """A traceback the first time, then at most once a minute: a reading at 10 Hz that fails must not
        write ten tracebacks a second to the SD card. Every failure is counted in /healthz."""
        self.stats["failed"] += 1
        key, now = (what, type(exc).__name__), hub.clock.monotonic()
        last = self._failure_logged.get(key)
        if last is not None and now - last < FAILURE_LOG_EVERY_S * hub.clock.speed:
            log.debug("mqtt: could not publish %s: %r", what, exc)
            return
        self._failure_logged[key] = now
        log.exception(
            "mqtt: could not publish %s (%d failed so far; told again in a minute at most)", what, self.stats["failed"]
        )

    def _resubscribe(self, hub: Hub) -> None:
        """We fell behind and were cut off: catch up on the alerts, republish the rest."""
        log.warning("mqtt: fell behind the hub; resubscribing")
        self._sub = hub.bus.subscribe(BUS_QUEUE, behind_s=BUS_BEHIND_S)
        self._last_id = hub.bus.last_id  # alerts went out from the hook; the rest is state, republished now
        if self.connected:
            self._announce_state(hub)

    def _on_event(self, hub: Hub, event: BusEvent) -> None:
        name, data = event.name, event.data
        if name == "alert":
            self._cook_state_soon(hub)  # the alert itself went out from _on_output
        elif name == "probe":  # (readings went out from _on_reading, in the hub's step)
            self._send_probe_change(hub, data["probe"], data["state"])
        elif name in ("cook", "stage", "ack", "cook_ended"):
            self._cook_state_soon(hub)
        elif name == "heater":
            self._send_heater(cast("HeaterView", data))

    def _cook_state_soon(self, hub: Hub) -> None:
        """The state once for a burst of events, a moment after it: not on the alert's way.

        One hub step (the reading that rings) makes an alert, a stage and a cook event; each
        used to rebuild the whole status on the loop, before the phones got their events.
        """
        if self._state_timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._state_timer = loop.call_later(STATE_COALESCE_S, self._cook_state_now, hub)

    def _cook_state_now(self, hub: Hub) -> None:
        self._state_timer = None
        try:
            self._send_cook_state(hub)
        except Exception:
            log.exception("mqtt: could not publish the cook state")

    def _send(self, message: Message) -> bool:
        """Publish now; while disconnected nothing goes (it is superseded, and republished on reconnect)."""
        link = self._link
        if link is None or not link.connected:
            self.stats["skipped"] += 1
            return False
        link.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        self.stats["published"] += 1
        return True

    def _on_output(self, out: Output) -> None:
        """The hub's hook, in the hub's step: an alert goes on the wire before anything else runs.

        Sent from here rather than from the bus: the bus is read a few tasks later,
        and an alert step is exactly when other parts wake up (the history recorder
        commits at once after an alert, on its own thread, and holds the GIL for
        milliseconds). The link's publish appends to paho's queue and makes one
        non-blocking send: a hand-over, as the hook must be.
        """
        if isinstance(out, AlertRaised) and self._hub is not None:
            self._send_alert(alert_json(out.alert, self._hub.clock))

    def _on_reading(self, reading: ReadingEvent) -> None:
        """The hub's reading hook, in its step: the reading is on the wire before the phones' turn.

        From the bus it waited for this part's task to come round after the hub's
        step, behind every phone's write of the same reading: a millisecond or more
        at p99 of the MQTT probe bench, the one path over its 5 ms goal.
        """
        hub = self._hub
        if hub is None or not reading.get("live", True):
            return
        try:
            self._send_reading(hub, reading)
        except Exception as exc:
            self._failed(hub, "reading", exc)

    def _send_alert(self, alert: AlertView) -> None:
        """An alert is news, not state: while the broker is away it is held here, and sent once it is back."""
        link = self._link
        if link is None:
            self.stats["refused"] += 1
            return
        if not link.connected:
            if len(self._held_alerts) >= ALERT_BACKLOG:
                self.stats["refused"] += 1
                log.warning(
                    "mqtt: %d alerts wait for the broker; alert %s dropped", len(self._held_alerts), alert["id"]
                )
                return
            self._held_alerts.append(alert["id"])
            return
        link.publish(self.topics.cook_alert, dumps(alert_payload(alert)), qos=1, retain=False)
        self.stats["published"] += 1

    def _send_held_alerts(self, hub: Hub) -> None:
        """The alerts raised while the broker was away, as they stand now: the acknowledged and the cleared left out.

        Held here rather than in paho's queue, which would send them as they were
        raised: an alarm the cook stopped meanwhile would reach Home Assistant as
        unacknowledged, and its automation would notify the phone of it.
        """
        held, self._held_alerts = self._held_alerts, []
        for alert_id in held:
            alert = hub.kitchen.alerts.get(alert_id)
            if alert is None or alert.acked or alert.cleared:
                self.stats["not_resent"] += 1
                continue
            self._send_alert(alert_json(alert, hub.clock))

    def _send_reading(self, hub: Hub, reading: Mapping[str, Any]) -> None:
        probe_id = reading["probe"]
        track = hub.kitchen.tracks.get((probe_id, reading.get("channel", "")))
        payload = probe_payload(reading, track.level if track else None, track.rate if track else None)
        self._send_probe_online(probe_id, reading.get("state"))
        self._last_reading[probe_id] = payload
        link = self._link
        if link is not None and link.connected and link.unacknowledged_for() > READING_HOLD_S:
            self.stats["held_back"] += 1
            self._held_readings.add(probe_id)
            self._retry_held_soon()
        else:
            self._send(Message(self.topics.probe(probe_id), dumps(payload), retain=True, qos=PROBE_QOS))
            self._held_readings.discard(probe_id)
        self._check_expiry(hub, probe_id)

    def _retry_held_soon(self) -> None:
        if self._held_timer is None:
            self._held_timer = asyncio.get_running_loop().call_later(HELD_RETRY_S, self._send_held)

    def _send_held(self) -> None:
        """The last reading of each probe held back, once the broker answers again.

        Not left to the probe's next reading: an ESPHome or Tasmota probe may
        report once a minute or less, and its retained value would stay a whole
        interval behind. After a reconnection everything is republished anyway.
        """
        self._held_timer = None
        link = self._link
        if not self._held_readings or link is None or not link.connected:
            self._held_readings.clear()
            return
        if link.unacknowledged_for() > READING_HOLD_S:
            self._retry_held_soon()
            return
        for probe_id in sorted(self._held_readings):
            payload = self._last_reading.get(probe_id)
            if payload is not None:
                self._send(Message(self.topics.probe(probe_id), dumps(payload), retain=True, qos=PROBE_QOS))
        self._held_readings.clear()

    def _send_probe_change(self, hub: Hub, probe_id: str, state: str) -> None:
        """A probe's new state, on the last reading this part sent for it.

        Read from the bus, behind the hub, while readings go out from the hub's step: a state
        the probe has left since (lost, and a reading already brought it back) is skipped, or
        the newest reading would go out again as ``lost`` and the probe ``offline`` until the
        next event. The state it is in now follows on the bus; a resubscribe republishes it.
        """
        health = hub.kitchen.probes.get(probe_id)
        if health is not None and health.state.value != state:
            return
        last = self._last_reading.get(probe_id)
        if last is None:
            self._send_probe(hub, probe_id)
            return
        payload = cast(MqttProbeReading, {**last, "state": state})
        self._send_probe_online(probe_id, state)
        self._send(Message(self.topics.probe(probe_id), dumps(payload), retain=True, qos=PROBE_QOS))

    def _send_probe(self, hub: Hub, probe_id: str) -> None:
        health = hub.kitchen.probes.get(probe_id)
        if health is None:
            return
        view = probe_json(health, hub.clock)
        track = hub.kitchen.tracks.get((probe_id, health.channel))
        reading = {**view, "probe": probe_id}
        payload = probe_payload(reading, track.level if track else None, track.rate if track else None)
        self._send_probe_online(probe_id, reading.get("state"))
        self._send(Message(self.topics.probe(probe_id), dumps(payload), retain=True, qos=PROBE_QOS))

    def _send_probe_online(self, probe_id: str, state: object) -> None:
        """``offline`` exactly while potwatch judges the probe lost; sent before the reading that says so.

        Home Assistant's ``expire_after`` restarts on every message, the lost one
        too: without this the sensor went ``unknown`` at the stale timeout and
        ``unavailable`` only at twice it.
        """
        online = "offline" if state == "lost" else "online"
        if self._probe_online.get(probe_id) == online:
            return
        if self._send(Message(self.topics.probe_availability(probe_id), online, retain=True, qos=1)):
            self._probe_online[probe_id] = online

    def _send_cook_state(self, hub: Hub, *, force: bool = False) -> None:
        text = dumps(cook_state_payload(hub.cook_state()))
        if text == self._last_state and not force:
            return
        if self._send(Message(self.topics.cook_state, text, retain=True, qos=COOK_STATE_QOS)):
            self._last_state = text

    # ---- discovery and announcements ----

    def _instance(self) -> Instance:
        return Instance(
            base_topic=self.config.base_topic,
            discovery_prefix=self.config.discovery_prefix,
            name=self.config.device_name,
            rate_unit=self.config.unit,
            version=__version__,
            probes=tuple(self._probe_info(p) for p in self._probes.values()),
            page_url=self._page_url,
            commands=self.accept_commands,
            heaters=self._heaters,
        )

    def _probe_info(self, probe: ProbeInfo) -> ProbeInfo:
        hub = self._hub
        health = hub.kitchen.probes.get(probe.id) if hub is not None else None
        if health is None or hub is None:
            return probe
        return ProbeInfo(probe.id, probe.label, expire_after(health.stale_timeout, hub.clock.speed))

    def _check_expiry(self, hub: Hub, probe_id: str) -> None:
        """A probe without a configured stale timeout learns its interval: keep Home Assistant's expiry matched."""
        announced = self._announced_expiry.get(probe_id)
        probe = self._probes.get(probe_id)
        if announced is None or probe is None or not self.config.discovery_prefix:
            return
        now = self._probe_info(probe).expire_after_s
        if now is None or abs(now - announced) <= EXPIRE_CHANGE * announced:
            return
        message = probe_message(self._instance(), self._probe_info(probe))
        if message is not None and self._send(message):
            self._announced_expiry[probe_id] = now

    def _announce_all(self, hub: Hub) -> None:
        """Discovery, availability and every current state: a broker or Home Assistant that forgot gets it all."""
        instance = self._instance()
        for message in announce(instance):
            self._send(message)
        for probe in instance.probes:
            self._announced_expiry[probe.id] = probe.expire_after_s
        self._send(Message(self.topics.availability, "online", retain=True))
        commands = "online" if self.accept_commands else "offline"
        self._send(Message(self.topics.commands_availability, commands, retain=True))
        self._announce_state(hub)

    def _announce_state(self, hub: Hub) -> None:
        for probe_id in hub.kitchen.probes:
            self._send_probe(hub, probe_id)
        self._send_cook_state(hub, force=True)
        for view in hub.heater_views():
            self._send_heater(view)

    # ---- the heaters ----

    def _send_heater(self, view: HeaterView) -> None:
        """One heater's view: the bus's ``heater`` event comes only when it changed (the heater sees to that),
        and every connect sends them all again, so nothing here remembers what went."""
        payload = json.dumps(heater_payload(view), separators=(",", ":"))
        self._send(Message(self.topics.heater_state(view["id"]), payload, retain=True))

    def _override_target(self, topic: str) -> str | None:
        """The heater id of ``<base>/heater/<id>/override``, else None."""
        head = f"{self.topics.base}/heater/"
        if not topic.startswith(head) or not topic.endswith("/override"):
            return None
        heater_id = topic[len(head) : -len("/override")]
        return heater_id if heater_id and "/" not in heater_id else None

    async def _override(self, hub: Hub, heater_id: str, text: str, event: LinkMessage) -> None:
        mode = OVERRIDE_WORDS.get(text.lower())
        if mode is None:
            self._ignore(f"expected one of {', '.join(OVERRIDE_WORDS)}", event)
            return
        if mode is not OverrideMode.FORCE_OFF and not self.accept_commands:
            self._ignore("only 'off' is taken over MQTT while a token is set (see [mqtt] accept_commands)", event)
            return
        if not hub.heater_override(heater_id, mode):
            self._ignore(f"no heater {heater_id!r}", event)
            return
        self.stats["commands"] += 1
        log.info("mqtt: heater %s override %s from %s", heater_id, mode, event.topic)

    # ---- the broker's messages → commands ----

    async def _pump_link(self, hub: Hub, link: MqttLink) -> None:
        birth = status_topic(self._instance())
        async for event in link:
            try:
                if isinstance(event, LinkUp):
                    self.stats["connects"] += 1
                    self._probe_online.clear()  # a broker that lost its retained state gets them again
                    self._announce_all(hub)
                    self._send_held_alerts(hub)
                elif isinstance(event, LinkDown):
                    pass  # the link logged it; readings and state wait for the next LinkUp
                elif event.topic == birth:
                    if event.payload.strip() == b"online":
                        log.info("mqtt: Home Assistant is online: announcing again")
                        self._announce_all(hub)
                elif self._is_ours(event.topic):
                    self._clear_if_gone(event)
                elif event.topic.startswith(f"{self.topics.base}/probe/"):
                    pass  # someone's retained note under a probe, read back with ours: not a command
                elif event.topic.startswith(f"{self.topics.base}/heater/") and not self._override_target(event.topic):
                    pass  # a heater's state (ours, live), or someone's note beside it: not a command
                else:
                    await self._command(hub, event)
            except Exception:
                log.exception("mqtt: could not handle %r", event)

    def _is_ours(self, topic: str) -> bool:
        """A topic we publish retained (per probe, or discovery under our node id), not a command."""
        topics = self.topics
        parts = topic.split("/")
        if topic.startswith(f"{topics.base}/probe/") and len(parts) == len(topics.probes_wildcard.split("/")):
            return parts[-1] in PROBE_LEAVES  # someone else's retained note under a probe is not ours to clear
        if topic.startswith(f"{topics.base}/heater/") and len(parts) == len(topics.heaters_wildcard.split("/")):
            return parts[-1] == "state"
        pattern = config_wildcard(self._instance())
        if pattern is None:
            return False
        want = pattern.split("/")
        return len(parts) == len(want) and all(w in ("+", p) for w, p in zip(want, parts, strict=True))

    def _clear_if_gone(self, event: LinkMessage) -> None:
        """A retained message of ours we no longer announce (a probe since removed): clear it on the broker.

        Only retained messages count: those are what the broker replays at
        subscription, and what a Home Assistant installed later would discover.
        Our own live messages echo back unretained, and a clear comes back empty.
        """
        if not event.retain or not event.payload or not self._is_ghost(event.topic):
            return
        if self.config.discovery_prefix and event.topic.startswith(
            (f"{self.topics.base}/probe/", f"{self.topics.base}/heater/")
        ):
            # Home Assistant drops the entity a moment after its config is cleared (the configs
            # come back first); a state emptied under a live entity logs a JSON and a template error
            asyncio.get_running_loop().call_later(GHOST_STATE_DELAY_S, self._clear_ghost, event.topic)
            return
        self._clear_ghost(event.topic)

    def _is_ghost(self, topic: str) -> bool:
        instance = self._instance()
        return topic not in probe_topics(instance) | {m.topic for m in announce(instance) if m.payload}

    def _clear_ghost(self, topic: str) -> None:
        if self._is_ghost(topic) and self._send(Message(topic, "", retain=True, qos=1)):
            self.stats["cleared"] += 1
            log.info("mqtt: cleared %s (no longer announced)", topic)

    def _ignore(self, why: str, event: LinkMessage) -> None:
        self.stats["ignored"] += 1
        level = logging.WARNING if self.stats["ignored"] <= WARN_IGNORED else logging.DEBUG
        log.log(level, "mqtt: ignored %r on %s: %s", event.payload[:80], event.topic, why)

    async def _command(self, hub: Hub, event: LinkMessage) -> None:
        heater_id = self._override_target(event.topic)
        if not self.accept_commands and heater_id is None:
            self._ignore("commands over MQTT are off (a token is set; see [mqtt] accept_commands)", event)
            return
        if event.retain:
            # a retained ack would acknowledge again after every reconnect
            self._ignore("a retained command is never acted on", event)
            return
        if event.truncated:
            self._ignore("far too long for a command", event)
            return
        try:
            text = event.payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            self._ignore("not UTF-8", event)
            return
        if heater_id is not None:
            await self._override(hub, heater_id, text, event)
            return
        if event.topic == self.topics.ack_button:
            if text.upper() != ACK_PRESS:
                self._ignore(f"the button sends {ACK_PRESS!r}", event)
                return
            alert_id = "all"
        elif event.topic == self.topics.cook_ack:
            if not ALERT_ID.match(text):
                self._ignore("expected an alert id or 'all'", event)
                return
            alert_id = text
        else:
            self._ignore("not a topic potwatch listens to", event)
            return
        outputs = await hub.request(Acknowledge(hub.clock.monotonic(), alert_id))
        refused = [o for o in outputs if isinstance(o, CommandRefused)]
        if refused:
            self._ignore(refused[0].reason, event)
            return
        self.stats["commands"] += 1
        log.info("mqtt: ack %s from %s (%d acknowledged)", alert_id, event.topic, len(outputs))

    def _require_hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("MqttPublisher.run before attach")
        return self._hub
