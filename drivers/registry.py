"""Probe URLs → drivers. Each scheme's module is imported only when used."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from drivers.base import Clock, Probe, ProbeUrlError

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

    def redacted(self) -> str:
        """The URL with its password hidden, for logs and messages."""
        if self.password is None:
            return self.text
        return self.text.replace(f":{self.password}@", ":***@", 1)


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
