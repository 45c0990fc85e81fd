"""Probe URLs → drivers. Each scheme's module is imported only when used."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from drivers.base import Clock, Probe, ProbeUrlError
from drivers.values import Unit, unit_word
from service.core.units import parse_duration

SCHEMES = ("serial", "w1", "mqtt", "mqtts", "sim")


@dataclass(frozen=True)
class ProbeUrl:
    """A probe URL split once; drivers read options from ``query``."""

    scheme: str
    host: str
    port: int | None
    path: str
    username: str | None
    password: str | None
    query: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def option(self, name: str, default: str) -> str:
        return self.query.get(name, default)

    def unit(self, default: Unit = "C") -> Unit:
        """``unit=``: what a number that says no unit means, in every driver alike."""
        text = self.option("unit", default)
        unit = unit_word(text.strip())
        if unit is None:
            raise ProbeUrlError(f"unit={text!r} must be C or F")
        return unit

    def duration(self, name: str, default: str, low: float, high: float) -> float:
        """A duration option (``interval=500ms``) in seconds, between ``low`` and ``high``.

        The config's grammar (``service.core.units``), plus the bare number of
        seconds probe URLs have always taken (``interval=1``).
        """
        text = self.option(name, default)
        try:
            seconds = parse_duration(text, bare_seconds=True)
        except ValueError:
            raise ProbeUrlError(f"{name}={text!r} is not a duration (e.g. 1s, 500ms)") from None
        if not low <= seconds <= high:
            raise ProbeUrlError(f"{name}={text!r} must be between {_short(low)} and {_short(high)}")
        return seconds

    def redacted(self) -> str:
        """The URL with its password hidden, for logs and messages."""
        if self.password is None:
            return self.text
        return self.text.replace(f":{self.password}@", ":***@", 1)


def _short(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def parse_probe_url(text: str) -> ProbeUrl:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ProbeUrlError(f"unknown probe scheme {parts.scheme!r} (expected one of {', '.join(SCHEMES)})")
    try:
        port = parts.port
    except ValueError as exc:
        raise ProbeUrlError(f"bad port in {text!r}: {exc}") from None
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in query:
            raise ProbeUrlError(f"option {key!r} given twice in {text!r}")
        query[key] = value
    return ProbeUrl(
        scheme=scheme,
        host=parts.hostname or "",
        port=port,
        path=unquote(parts.path),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        query=query,
        text=text,
    )


def check_probe_url(url: str) -> None:
    """Raise ProbeUrlError for a URL its driver would refuse, touching no device.

    The config's check runs exactly the code ``potwatch probe`` and the
    service run (building the driver validates everything and opens
    nothing), so ``check-config`` can never call a URL good that the service
    then refuses.
    """
    open_probe("check", url)


def open_probe(probe_id: str, url: str, *, clock: Clock = time.monotonic) -> Probe:
    """A driver for ``url``; raises ProbeUrlError for a URL it cannot use."""
    parsed = parse_probe_url(url)
    if parsed.scheme == "serial":
        from drivers import serial_probe

        return serial_probe.from_url(probe_id, parsed, clock)
    if parsed.scheme == "w1":
        from drivers import w1_probe

        return w1_probe.from_url(probe_id, parsed, clock)
    if parsed.scheme in ("mqtt", "mqtts"):
        from drivers import mqtt_probe

        return mqtt_probe.from_url(probe_id, parsed, clock)
    from drivers import simulated

    return simulated.from_url(probe_id, parsed, clock)
