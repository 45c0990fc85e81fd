"""``potwatch demo --heater mqtt://HOST:PORT``: the demo pot heated through a plug that potwatch switches.

Without the flag the simulated cook turns the knob and takes the caramel off
the heat. With it, the demo runs the whole heat loop of docs/heat.md on a
broker the user runs: the simulated pot carries its own emulated Tasmota plug
on that broker (``sim://…&plug=``, drivers/sim_plug.py), its 1.8 kW hotplate
follows that plug's relay and nothing else, and a ``[[heaters]]`` entry drives
the plug, so the page shows potwatch holding the braise in its window and
turning the caramel's heat off at 225 °F. potwatch starts no broker: one that
cannot be reached is said in one line before anything else starts, rather
than left to a heater that waits for its link for the whole demo.

The speed: the controller's timers run on the hub's clock and the plug's pulse
on the pot's, both sped up, so a dead-man period or a mismatch grace given in
seconds shrinks to milliseconds of real time at high speed, less than a busy
machine's broker round trip. The demo keeps them at least the real time they
need (a second of real time for the dead-man, half a second for the grace and
the stale limit), as it does for the probe's stale timeout.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from drivers.heater import HeaterUrl, HeaterUrlError, parse_heater_url
from drivers.mqtt_link import LinkDown, LinkUp, MqttLink
from service.config import Config, HeaterConfig

DEMO_TOPIC: Final = "potwatch_demo"  # the emulated plug's Tasmota Topic when the URL names none
HEATER_ID: Final = "hob"
HEATER_LABEL: Final = "Simulated hotplate"
_OPTIONS: Final = ("cafile",)
# The simulated probe gives out a reading at most every 20 real ms (drivers/simulated.py): at 1000× one per
# 20 s of pot time, in which 1.8 kW move the braise ~5 °F, a quarter of its window. Faster, the heat overruns
# the window between two readings (at 3000×: too hot, too cold, the ceiling's cut), so the demo refuses it.
MAX_SPEED: Final = 1000.0
DEADMAN_REAL_S: Final = 1.0  # real seconds the plug's dead-man period lasts at the least
GRACE_REAL_S: Final = 0.5  # and the mismatch grace and the stale limit


class DemoHeaterError(ValueError):
    """The ``--heater`` value cannot be used; the message is the one line the cook sees."""


def demo_plug_url(text: str) -> str:
    """The heater URL of the demo's plug, from ``mqtt[s]://[user:password@]HOST[:PORT][/TOPIC][?cafile=…]``.

    The plug is the emulated one, so the kind is always Tasmota: the flag takes
    only what differs between kitchens (where the broker is, how to log in, and
    a topic when two demos share one broker). Checked by the heater URL parser
    itself, so the demo accepts what ``[[heaters]] url`` accepts, no more.
    """
    shown = f"--heater {redacted(text)!r}"
    try:
        parts = urlsplit(text.strip())
    except ValueError as exc:
        raise DemoHeaterError(f"{shown}: {exc}; give the MQTT broker's address, e.g. mqtt://127.0.0.1:1883") from None
    if parts.scheme.lower() not in ("mqtt", "mqtts") or not parts.netloc:
        raise DemoHeaterError(f"{shown}: give the MQTT broker's address, e.g. mqtt://127.0.0.1:1883")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise DemoHeaterError(f"{shown}: unknown option {unknown[0]!r} (the plug is always Tasmota)")
    topic = parts.path.strip("/") or DEMO_TOPIC
    query = urlencode({"kind": "tasmota", **options})
    url = f"{parts.scheme}://{parts.netloc}/{quote(topic, safe='')}?{query}"
    try:
        parse_heater_url(url)
    except HeaterUrlError as exc:
        # the parser names the URL built here; the cook typed another: name theirs, with the parser's reason
        reason = str(exc).split("': ", 1)[-1]
        # its example is a [[heaters]] URL (with ?kind=), which the flag refuses: the demo's own instead
        reason = reason.split("; e.g. ", 1)[0].split(", e.g. ", 1)[0] + "; e.g. mqtt://127.0.0.1:1883/my_plug"
        raise DemoHeaterError(f"{shown}: {reason}") from None
    return url


def redacted(text: str) -> str:
    """``text`` with its password starred: the one line of an error goes to a terminal, maybe a screen share."""
    try:
        password = urlsplit(text).password
    except ValueError:
        return text
    return text.replace(f":{password}@", ":***@", 1) if password else text


def speed_problem(speed: float) -> str | None:
    """Why ``--speed`` is too fast for the heater to hold the braise, or None."""
    if speed <= MAX_SPEED:
        return None
    reading_s = 0.020 * speed
    return (
        f"--heater needs --speed {MAX_SPEED:g} or less: at {speed:g}× the simulated probe reads the pot only "
        f"every {reading_s:g} s, too seldom for the heater to hold the braise in its window"
    )


def with_heater(config: Config, plug_url: str, speed: float) -> Config:
    """The demo's config with its pot heated through the plug at ``plug_url``, and a heater driving that plug.

    ``config``'s probes already carry their ``speed``; each gets the plug, its
    ``&`` quoted (a ``sim://`` URL's own options come after it). The heater
    keeps the controller's defaults but for the timers that must last some
    real time (the module's docstring).
    """
    plug = quote(plug_url, safe=":/@[]")
    probes = [p.model_copy(update={"url": f"{p.url}&plug={plug}"}) for p in config.probes]
    heater = HeaterConfig(id=HEATER_ID, url=plug_url, probe=probes[0].id, label=HEATER_LABEL)
    # model_copy does not validate: the numbers are seconds already, and only ever longer than the defaults
    heater = heater.model_copy(
        update={
            "deadman": max(heater.deadman, DEADMAN_REAL_S * speed),
            "mismatch_grace": max(heater.mismatch_grace, GRACE_REAL_S * speed),
            "stale_after": max(heater.stale_after, GRACE_REAL_S * speed),
        }
    )
    return config.model_copy(update={"probes": probes, "heaters": [heater]})


def plug_topic(plug_url: str) -> str:
    """The Tasmota topic of the demo's plug, to tell the cook where to look (``cmnd/<topic>/POWER``)."""
    return parse_heater_url(plug_url).target


async def broker_problem(plug_url: str) -> str | None:
    """Why the broker cannot be used (one line), or None once it accepted a connection.

    One connection attempt, with the link's own words for what went wrong
    (refused, no such host, a TLS or login problem), under a client id of its
    own and with no last will: the check must not look like a plug going away.
    """
    url: HeaterUrl = parse_heater_url(plug_url)
    settings = replace(
        url.link,
        client_id=f"potwatch-demo-check-{secrets.token_hex(3)}",
        will=None,
        reconnect_max=url.link.connect_timeout,
    )
    async with MqttLink(settings, name="demo broker check", quiet=True) as link:
        try:
            async with asyncio.timeout(settings.connect_timeout + 2.0):
                while True:
                    event = await link.get()
                    if isinstance(event, LinkUp):
                        return None
                    if isinstance(event, LinkDown):
                        return event.reason
        except TimeoutError:
            return f"no answer from {url.server} within {settings.connect_timeout + 2.0:g} s"
