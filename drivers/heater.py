"""Heat actuators (a smart plug under the hotplate): what every driver offers, and their URLs.

A heater is named by a URL, as a probe is:

* ``mqtt://HOST:1883/<topic>?kind=tasmota`` — a Tasmota plug, ``<topic>`` its
  Tasmota ``Topic`` (``cmnd/<topic>/POWER``, ``stat/<topic>/POWER``, …);
* ``mqtt://HOST:1883/<device-id>?kind=shelly`` — a Shelly Gen2 plug over MQTT
  RPC, ``<device-id>`` its MQTT topic prefix (``shellyplusplugs-a8032ab12345``
  by default);
* ``mqtt://HOST:1883/<friendly_name>?kind=z2m`` — a Zigbee plug or switch
  behind Zigbee2MQTT, ``<friendly_name>`` its name there (it may hold ``/``);
  ``&base=<topic>`` when Zigbee2MQTT's ``base_topic`` is not ``zigbee2mqtt``;
* ``mqtt://HOST:1883/<node>/<switch_id>?kind=esphome`` — an ESPHome switch
  over MQTT, ``<node>`` its topic prefix (the node name by default) and
  ``<switch_id>`` the switch's object id;
* ``mqtt://HOST:1883/<name>?kind=homeassistant`` — a Home Assistant switch
  entity, bridged by the automations of docs/heat-drivers.md under
  ``potwatch/ha-switch/<name>/`` (``<name>`` one topic level).

``mqtts://`` is TLS (port 8883 by default, ``cafile=`` for a private CA), and
``user:password@`` logs in, as for probes.

The one rule every actuator keeps: **a command is never taken for its
effect**. ``command()`` only sends; ``reported`` is what the device itself
last said (None again after every reconnect until the device answers), and
``available`` whether it can be used at all (the link is up, the device's own
last will says online, and none of its settings defeats the dead-man's
switch), ``link_up`` whether the first of those holds. A controller compares what
it asked for with ``reported`` and raises the mismatch; it never reads its
own wish back. ``hold_s`` is the dead-man's switch: the device turns itself
off that long after an ON unless it is commanded ON again, so a crashed Pi
or a lost Wi-Fi link cannot leave the heat on.

This module is the contract and the URL parser; ``drivers/mqtt_plug.py``
holds what the MQTT plugs share, ``tasmota_plug.py``, ``shelly_plug.py``,
``z2m_plug.py``, ``esphome_plug.py`` and ``homeassistant_plug.py`` their topics and payloads.
``service/runtime/heaters.py`` drives them for ``[[heaters]]``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from drivers.base import Clock
from drivers.mqtt_link import DEFAULT_PORT, DEFAULT_TLS_PORT, LinkSettings, check_topic_filter

KINDS: Final = ("tasmota", "shelly", "z2m", "esphome", "homeassistant")
OPTIONS: Final = ("kind", "cafile", "base")
Z2M_BASE: Final = "zigbee2mqtt"  # Zigbee2MQTT's default base_topic
SCHEMES: Final = ("mqtt", "mqtts")
# What a heater is called by (``[[heaters]] id``, each actuator's ``heater_id``): the one rule for it,
# which the config checks and the API's paths (``/api/heaters/<id>/…``) match.
HEATER_ID: Final = r"[A-Za-z0-9_-]{1,32}"


class HeaterUrlError(ValueError):
    """The heater URL cannot be used: says what is wrong and how to write it (fatal, not retried)."""


# ---------------------------------------------------------------------------
# what an actuator reports


@dataclass(frozen=True, slots=True)
class StateReport:
    """The device said its relay is ``on``; ``at`` is when that reached us (the injected clock).

    ``retained`` is True for a retained message the broker handed over on
    (re)subscribing: the device's state as it was some time ago, not news.
    """

    heater: str
    on: bool
    at: float
    topic: str
    retained: bool = False


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    """The actuator became reachable or not, and why (link down, the device's will said offline)."""

    heater: str
    available: bool
    at: float
    reason: str


HeaterEvent = StateReport | AvailabilityChange


class Actuator(Protocol):
    """A switch for the heat, over whatever link. Start it with ``async with``.

    ``dropped`` counts reports that could not be read (garbage payloads): an
    int that only grows, never an exception.
    """

    heater_id: str

    @property
    def reported(self) -> bool | None:
        """The last state the device itself reported; None until it has said one."""
        ...

    @property
    def available(self) -> bool:
        """The link is up, the device says it is online, and nothing holds it (an unsafe or unread setting)."""
        ...

    @property
    def link_up(self) -> bool:
        """The way to the device works (an MQTT plug: its broker connection is up), whatever the device says.

        What tells "link down" from "device offline" while ``available`` is
        False: the controller reports the two differently, and it must not
        have to guess from the words of a reason meant for people.
        """
        ...

    @property
    def dropped(self) -> int: ...

    async def command(self, on: bool, *, hold_s: float) -> bool:
        """Ask for ``on``, the device turning itself off ``hold_s`` after an ON unless re-commanded.

        True when the command was handed to a live link to an available
        device; False when it was not sent (the actuator is unavailable). Even
        True says nothing of the effect: watch ``reported``.
        """
        ...

    def events(self) -> AsyncIterator[HeaterEvent]:
        """Every state report and availability change, in order, as they arrive."""
        ...

    async def __aenter__(self) -> Actuator: ...

    async def __aexit__(self, *exc: object) -> None: ...


# ---------------------------------------------------------------------------
# URLs


@dataclass(frozen=True, slots=True)
class HeaterUrl:
    """A heater URL, checked once before any I/O.

    ``target`` is the Tasmota topic, the Shelly device id, the Zigbee2MQTT
    friendly name, the ESPHome ``<node>/<switch_id>`` or the Home Assistant
    bridge's ``<name>``; ``base`` is
    Zigbee2MQTT's base topic (None for the other kinds).
    """

    kind: str
    link: LinkSettings
    target: str
    text: str  # redacted: safe to log
    base: str | None = None

    @property
    def server(self) -> str:
        return self.link.server


def url_options(shown: str, query: str, known: tuple[str, ...]) -> dict[str, str]:
    """A heater URL's ``?options``: each at most once, each one the driver knows."""
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in options:
            raise HeaterUrlError(f"heater URL {shown!r}: option {key!r} given twice")
        options[key] = value
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise HeaterUrlError(f"heater URL {shown!r}: unknown option {unknown[0]!r} (known: {', '.join(known)})")
    return options


def parse_heater_url(text: str) -> HeaterUrl:
    """Split and check a heater URL; HeaterUrlError says what is wrong, with an example."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    shown = _redacted(text, parts.password)
    if scheme not in SCHEMES:
        raise HeaterUrlError(
            f"heater URL {shown!r}: scheme {parts.scheme!r} is not supported (expected mqtt, mqtts or gpio), "
            "e.g. mqtt://192.168.1.10:1883/kitchen_plug?kind=tasmota or gpio://17"
        )
    if parts.fragment or "#" in text:
        raise HeaterUrlError(f"heater URL {shown!r}: '#' has no place in a heater URL (a plug has one topic)")
    try:
        port = parts.port
    except ValueError as exc:
        raise HeaterUrlError(f"heater URL {shown!r}: bad port: {exc}") from None
    if not parts.hostname:
        raise HeaterUrlError(f"heater URL {shown!r}: the broker's host is missing, e.g. mqtt://192.168.1.10:1883/...")
    query = url_options(shown, parts.query, OPTIONS)
    kind = query.get("kind", "").strip().lower()
    if not kind:
        raise HeaterUrlError(f"heater URL {shown!r}: say which plug it is: ?kind={' or ?kind='.join(KINDS)}")
    if kind not in KINDS:
        raise HeaterUrlError(f"heater URL {shown!r}: kind={query['kind']!r} is not one of {', '.join(KINDS)}")
    if "cafile" in query and scheme != "mqtts":
        raise HeaterUrlError(f"heater URL {shown!r}: cafile= only applies to mqtts:// (TLS)")
    if "base" in query and kind != "z2m":
        raise HeaterUrlError(f"heater URL {shown!r}: base= is Zigbee2MQTT's base topic: it only applies to kind=z2m")
    base = _base(shown, query.get("base", Z2M_BASE)) if kind == "z2m" else None
    target = _target(shown, kind, unquote(parts.path))
    tls = scheme == "mqtts"
    link = LinkSettings(
        host=parts.hostname,
        port=port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        tls=tls,
        cafile=query.get("cafile") or None,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
    return HeaterUrl(kind=kind, link=link, target=target, text=shown, base=base)


_EXAMPLE: Final = {
    "tasmota": "mqtt://192.168.1.10:1883/kitchen_plug?kind=tasmota (its Topic, as in cmnd/kitchen_plug/POWER)",
    "shelly": "mqtt://192.168.1.10:1883/shellyplusplugs-a8032ab12345?kind=shelly (its MQTT topic prefix)",
    "z2m": "mqtt://192.168.1.10:1883/kitchen_plug?kind=z2m (its friendly name, as in zigbee2mqtt/kitchen_plug/set)",
    "esphome": "mqtt://192.168.1.10:1883/kitchen-plug/relay?kind=esphome (as in kitchen-plug/switch/relay/command)",
    "homeassistant": "mqtt://192.168.1.10:1883/hotplate?kind=homeassistant (as in potwatch/ha-switch/hotplate/set)",
}
_WHAT: Final = {
    "tasmota": "Tasmota topic",
    "shelly": "Shelly device id",
    "z2m": "Zigbee2MQTT friendly name",
    "esphome": "ESPHome node and switch id",
    "homeassistant": "Home Assistant bridge's name",
}
Z2M_RESERVED: Final = ("set", "get", "availability")  # Zigbee2MQTT's own sub-topics of a device


def _base(shown: str, base: str) -> str:
    """Zigbee2MQTT's ``base_topic``: a plain topic, as its configuration.yaml allows."""
    if not base or "+" in base or "#" in base:
        raise HeaterUrlError(f"heater URL {shown!r}: base={base!r}: give Zigbee2MQTT's base_topic, no wildcards")
    if base.startswith("/") or base.endswith("/") or "//" in base:
        raise HeaterUrlError(f"heater URL {shown!r}: base={base!r} has an empty topic level")
    return base


def _target(shown: str, kind: str, path: str) -> str:
    target = path[1:] if path.startswith("/") else path
    if not target:
        raise HeaterUrlError(
            f"heater URL {shown!r}: the {_WHAT[kind]} is missing after the port, e.g. {_EXAMPLE[kind]}"
        )
    if "+" in target or "#" in target:
        raise HeaterUrlError(f"heater URL {shown!r}: {target!r}: a plug is one device, no MQTT wildcards")
    if kind == "tasmota" and "/" in target:
        raise HeaterUrlError(
            f"heater URL {shown!r}: {target!r}: give the Tasmota Topic alone (one level), "
            f"not a full topic; e.g. {_EXAMPLE['tasmota']}"
        )
    if kind == "homeassistant" and ("/" in target or target.startswith("switch.")):
        raise HeaterUrlError(
            f"heater URL {shown!r}: {target!r}: give the bridge's name alone (one topic level, as in the "
            f"automations' potwatch/ha-switch/<name>/…), not a topic or an entity id; e.g. {_EXAMPLE['homeassistant']}"
        )
    if target.startswith("/") or target.endswith("/") or "//" in target:
        raise HeaterUrlError(f"heater URL {shown!r}: {target!r} has an empty topic level")
    if kind == "esphome" and "/" not in target:
        raise HeaterUrlError(
            f"heater URL {shown!r}: {target!r}: give the node and the switch's object id, e.g. {_EXAMPLE['esphome']}"
        )
    if kind == "z2m" and (target == "bridge" or target.startswith("bridge/")):
        raise HeaterUrlError(f"heater URL {shown!r}: {target!r} is Zigbee2MQTT's own bridge, not a device")
    if kind == "z2m" and target.rsplit("/", 1)[-1] in Z2M_RESERVED:
        raise HeaterUrlError(
            f"heater URL {shown!r}: {target!r}: give the friendly name alone, not one of its topics "
            f"(…/set, …/get, …/availability); e.g. {_EXAMPLE['z2m']}"
        )
    problem = check_topic_filter(target)
    if problem is not None:
        raise HeaterUrlError(f"heater URL {shown!r}: {target!r}: {problem}")
    return target


def _redacted(text: str, password: str | None) -> str:
    if not password:
        return text
    return text.replace(f":{password}@", ":***@", 1)


def is_gpio(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() == "gpio"


def heater_identity(url: str) -> tuple[str, str, str]:
    """(kind, where, which) of the device ``url`` drives, to find two heaters on one relay; checks the URL."""
    if is_gpio(url):
        from drivers.gpio_relay import parse_gpio_url

        gpio = parse_gpio_url(url)
        return gpio.kind, gpio.server, gpio.target
    parsed = parse_heater_url(url)
    return parsed.kind, parsed.server, parsed.target


def open_heater(heater_id: str, url: str, *, clock: Clock = time.monotonic) -> Actuator:
    """A driver for ``url`` (not connected yet: ``async with`` it); HeaterUrlError for a URL it cannot use."""
    if is_gpio(url):
        from drivers.gpio_relay import GpioRelay, parse_gpio_url

        return GpioRelay(heater_id, parse_gpio_url(url), clock=clock)
    parsed = parse_heater_url(url)
    if parsed.kind == "tasmota":
        from drivers.tasmota_plug import TasmotaPlug

        return TasmotaPlug(heater_id, parsed, clock=clock)
    if parsed.kind == "z2m":
        from drivers.z2m_plug import Z2mPlug

        return Z2mPlug(heater_id, parsed, clock=clock)
    if parsed.kind == "esphome":
        from drivers.esphome_plug import EsphomePlug

        return EsphomePlug(heater_id, parsed, clock=clock)
    if parsed.kind == "homeassistant":
        from drivers.homeassistant_plug import HomeAssistantPlug

        return HomeAssistantPlug(heater_id, parsed, clock=clock)
    from drivers.shelly_plug import ShellyPlug

    return ShellyPlug(heater_id, parsed, clock=clock)
