"""Every configured probe opened once and read for a few seconds, through the service's own drivers.

All probes are read at once, so the command takes the window once, not once
per probe. Each stops early at its first good reading. What a probe said is
judged in the words its driver uses (the same notices ``potwatch probe``
prints), plus the line that was read and the format it was read as, so that
``format=auto`` can be pinned.

A serial port is opened exclusively: while the service runs it is busy. Then
the running service is asked how that probe reads, instead of calling it a
failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers import Probe, ProbeDown, ProbeError, ProbeEvent, ProbeNotice, Reading, open_probe, parse_probe_url
from service.config import Config, ProbeConfig
from service.core.units import c_to_f
from service.doctor.devices import stable_names
from service.doctor.report import Finding
from service.probe_watch import pump

DEFAULT_WINDOW_S = 8.0
"""Long enough for an Arduino to come out of the reset that opening its port causes (1–2 s) and print a
line or two at 1 Hz, and for the serial driver's own 5 s "no data" notice to say what to check."""

STATUS_TIMEOUT_S = 2.0


@dataclass(slots=True)
class Heard:
    """What one probe said within the window."""

    readings: list[Reading] = field(default_factory=list)
    notices: list[ProbeNotice] = field(default_factory=list)
    downs: list[ProbeDown] = field(default_factory=list)
    connected: bool | None = None  # MQTT: whether the broker was reached, at the end of the window
    error: str | None = None

    @property
    def good(self) -> list[Reading]:
        return [r for r in self.readings if r.celsius is not None]

    @property
    def live(self) -> list[Reading]:
        return [r for r in self.good if r.live]

    def last_warning(self) -> str | None:
        warnings = [n.message for n in self.notices if n.level in ("warning", "error")]
        return warnings[-1] if warnings else None


async def listen(probe: Probe, window: float, settle: Callable[[Heard], bool], heard: Heard) -> Heard:
    """Events of ``probe`` into ``heard`` until ``settle`` says enough, or ``window`` seconds pass."""
    stop = asyncio.Event()

    def on_event(event: ProbeEvent) -> None:
        if isinstance(event, Reading):
            heard.readings.append(event)
        elif isinstance(event, ProbeNotice):
            heard.notices.append(event)
        elif isinstance(event, ProbeDown):
            heard.downs.append(event)
        if settle(heard):
            stop.set()

    def window_over() -> None:
        link = getattr(probe, "link", None)  # an MQTT probe's connection, kept for diagnostics
        if link is not None:
            heard.connected = bool(link.connected)
        stop.set()

    timer = asyncio.get_running_loop().call_later(window, window_over)
    try:
        await pump(probe, on_event, stop)
    except ProbeError as exc:
        heard.error = str(exc)
    finally:
        timer.cancel()
    return heard


def _settled(heard: Heard) -> bool:
    """A live temperature is enough; so is the device being gone (waiting longer changes nothing)."""
    return bool(heard.live) or bool(heard.downs)


async def check_probes(config: Config, window: float) -> list[Finding]:
    found = await asyncio.gather(*(check_probe(config, p, i, window) for i, p in enumerate(config.probes)))
    if not config.probes:
        return [Finding("probes", "warn", "no [[probes]] in the config", "add one: potwatch probe URL finds its URL")]
    return list(found)


async def check_probe(config: Config, probe: ProbeConfig, index: int, window: float) -> Finding:
    check = f"probe {probe.id}"
    url = parse_probe_url(probe.url)
    shown = url.redacted()
    if url.scheme == "serial":
        refused = await _serial_refused(config, probe, index, check)
        if refused is not None:
            return refused
    try:
        driver = open_probe(probe.id, probe.url)
    except ProbeError as exc:
        return Finding(check, "FAIL", f"{shown}: {exc}", f"fix probes[{index}].url (potwatch check-config says how)")
    started = time.monotonic()
    heard = await listen(driver, window, _settled, Heard())
    took = time.monotonic() - started
    if url.scheme in ("mqtt", "mqtts"):
        return _mqtt_verdict(check, shown, driver, heard, took)
    return _verdict(check, shown, probe, index, heard, took)


async def _serial_refused(config: Config, probe: ProbeConfig, index: int, check: str) -> Finding | None:
    """Open the port once as the driver does; None when it opens (it is closed again at once)."""
    from drivers.serial_probe import OpenFailure, OpenProblem, open_port, settings_from_url

    settings = settings_from_url(parse_probe_url(probe.url))
    port = await asyncio.to_thread(open_port, settings.path, settings.baud)
    if not isinstance(port, OpenFailure):
        port.close()
        return None
    if port.problem is OpenProblem.BUSY:
        return await _busy(config, probe, check, port.message)
    if port.problem is OpenProblem.MISSING:
        plugged = [name for names in stable_names().values() for name in names]
        now = f"; plugged in now: {', '.join(plugged)}" if plugged else "; no adapter is listed in /dev/serial/by-id/"
        fix = f"plug the probe in, or put the path of the one plugged in into probes[{index}].url{now}"
        return Finding(check, "FAIL", f"{settings.path} does not exist", fix)
    if port.problem is OpenProblem.FORBIDDEN:
        detail, _, fix = port.message.partition(": add the user")
        return Finding(check, "FAIL", detail, f"add the user{fix}".removesuffix("; retrying."))
    return Finding(check, "FAIL", port.message.removesuffix("; retrying."), "ls -l " + settings.path)


async def _busy(config: Config, probe: ProbeConfig, check: str, message: str) -> Finding:
    """A busy port is fine when it is the running service that holds it, and reads it."""
    status = await asyncio.to_thread(running_status, config)
    seen = next((p for p in status.get("probes", []) if p.get("id") == probe.id), None) if status else None
    if seen is None:
        detail = message.removesuffix(" Close it; retrying.")
        return Finding(check, "FAIL", detail, "close the program that holds it, then run potwatch doctor again")
    state, celsius = seen.get("state"), seen.get("celsius")
    reading = f": {c_to_f(celsius):.1f} °F ({celsius:.1f} °C)" if isinstance(celsius, int | float) else ""
    detail = f"in use by the running potwatch, which reads it{reading}, state {state}"
    if state == "ok":
        return Finding(check, "ok", detail)
    return Finding(
        check, "FAIL", detail, "the service has the port but no good reading: journalctl -u potwatch says why"
    )


def running_status(config: Config) -> dict[str, Any] | None:
    """``GET /api/status`` of the service running on this machine, or None when none answers."""
    import httpx

    from service.alarm.selftest import service_url

    try:
        response = httpx.get(service_url(config, "/api/status"), timeout=STATUS_TIMEOUT_S, verify=False)
        answer: dict[str, Any] = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return None
    return answer or None


def _sample(reading: Reading) -> str:
    assert reading.celsius is not None
    channel = f" [{reading.channel}]" if reading.channel else ""
    return f"{c_to_f(reading.celsius):.1f} °F ({reading.celsius:.1f} °C){channel}"


def _line_format(probe: ProbeConfig, reading: Reading) -> str:
    """The serial format the line was read as: the URL's, or the one ``format=auto`` recognised."""
    from drivers.formats import decode_line, make_line_decoder

    url = parse_probe_url(probe.url)
    fmt = url.option("format", "auto").lower()
    if url.scheme != "serial":
        return ""
    if fmt != "auto":
        return f"format={fmt} (from the URL)"
    decoder = make_line_decoder("auto", url.unit(), url.option("channel", "") or None)
    _, result = decode_line(decoder, reading.raw.encode())
    guessed = result.fmt or "?"
    return f"format={guessed} (guessed by format=auto: add format={guessed} to the URL to pin it)"


def _verdict(check: str, shown: str, probe: ProbeConfig, index: int, heard: Heard, took: float) -> Finding:
    if heard.error:
        return Finding(check, "FAIL", f"{shown}: {heard.error}", f"fix probes[{index}].url")
    if heard.live:
        first = heard.live[0]
        fmt = _line_format(probe, first)
        line = f" from the line {first.raw!r}" if first.raw else ""
        detail = f"{shown}: {_sample(first)}{line}" + (f", {fmt}" if fmt else "") + f" ({took:.1f} s)"
        return Finding(check, "ok", detail)
    if heard.downs:
        return Finding(
            check, "FAIL", f"{shown}: {heard.downs[-1].reason}", "is it plugged in? ls -l /dev/serial/by-id/"
        )
    faults = [r for r in heard.readings if r.celsius is None]
    if faults:
        last = faults[-1]
        return Finding(
            check,
            "FAIL",
            f"{shown}: it answers, with a fault: {last.fault} (line {last.raw!r})",
            "check the sensor and its wiring (an open thermocouple reads NaN, a DS18B20 without its pull-up -127)",
        )
    advice = heard.last_warning() or "is the baud right? a board that only answers when asked needs format=tc4"
    return Finding(check, "FAIL", f"{shown}: no reading in {took:.0f} s", advice)


def _mqtt_verdict(check: str, shown: str, driver: Probe, heard: Heard, took: float) -> Finding:
    from drivers.mqtt_probe import MqttProbe, silence_advice

    if heard.error:
        return Finding(check, "FAIL", f"{shown}: {heard.error}", "fix the probe's URL")
    topic = driver.settings.topic if isinstance(driver, MqttProbe) else shown
    if heard.live:
        first = heard.live[0]
        return Finding(check, "ok", f"{_sample(first)} on {topic}: {first.raw[:80]!r} ({took:.1f} s)")
    if heard.downs:
        return Finding(
            check, "warn", f"{heard.downs[-1].reason}", "is the device on, and on the Wi-Fi? (its availability topic)"
        )
    if heard.good:
        old = heard.good[-1]
        return Finding(
            check,
            "warn",
            f"only a retained (old) value on {topic} in {took:.0f} s: {_sample(old)}",
            "is the device on? a live report comes at its own interval; "
            + (silence_advice(driver.settings) if isinstance(driver, MqttProbe) else ""),
        )
    if heard.connected:
        advice = silence_advice(driver.settings) if isinstance(driver, MqttProbe) else "is anything publishing there?"
        return Finding(check, "warn", f"connected, but no message on {topic} in {took:.0f} s", advice)
    reason = heard.last_warning() or "the broker did not answer"
    return Finding(check, "FAIL", f"{shown}: {reason}", "is the broker running, and is the URL's host:port right?")
