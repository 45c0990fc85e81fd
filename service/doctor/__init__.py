"""``potwatch doctor``: one command that says what is wrong with this install, and what to do.

Each check is a module of its own (the serial devices, the probes, the broker,
the state directory, the clock, the alarm); this one runs them, at once where
they wait on something (the probes' few seconds, the broker, the alarm's
self-test), and puts their findings in a fixed order. A config that cannot be
used is reported as ``check-config`` reports it; the checks that need no
config (devices, state directory, clock) still run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from service.config import Config
from service.config_check import config_problems
from service.doctor.alarm import check_alarm
from service.doctor.broker import check_broker
from service.doctor.clock import check_clock
from service.doctor.devices import alarm_device_findings, serial_findings
from service.doctor.probes import DEFAULT_WINDOW_S, check_probes
from service.doctor.report import Finding, Report
from service.doctor.state import check_state
from service.doctor.user import NoSuchUser, installed_unit, service_user

__all__ = ["DEFAULT_WINDOW_S", "Options", "examine"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Options:
    config: Path
    user: str | None = None
    state_dir: str | None = None
    window: float = DEFAULT_WINDOW_S
    alarm_test: bool = False


def _config_finding(path: Path) -> tuple[Config | None, Finding]:
    config, problems = config_problems(path)
    if problems or config is None:
        fix = f"fix these lines, then potwatch check-config {path}"
        if not path.exists():
            fix = f"write one: sudo ./scripts/install does, or copy the starter (config/potwatch.toml) to {path}"
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        return None, Finding("config", "FAIL", f"{path} cannot be used ({count})", fix, tuple(problems))
    parts = [f"{len(config.probes)} probe{'s' if len(config.probes) != 1 else ''}"]
    if config.cook is not None:
        parts.append(f"cook {config.cook.profile} on {config.cook.probe}")
    if config.mqtt is not None:
        parts.append("MQTT")
    if config.alarm_channels:
        parts.append("alarm channels")
    return config, Finding("config", "ok", f"{path} is valid ({', '.join(parts)})")


def _serial_paths(config: Config | None) -> list[str]:
    from drivers import parse_probe_url

    if config is None:
        return []
    urls = [parse_probe_url(p.url) for p in config.probes]
    return [u.path for u in urls if u.scheme == "serial"]


async def _guarded(name: str, check: Awaitable[list[Finding]]) -> list[Finding]:
    """A check that breaks is one FAIL line naming it, never a traceback that hides the other checks."""
    try:
        return await check
    except Exception as exc:  # a bug in one check must not cost the whole report
        log.debug("doctor: the %s check broke", name, exc_info=True)
        return [Finding(name, "FAIL", f"doctor could not check this: {exc!r}", "potwatch -v doctor shows where")]


async def _run(name: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    async def call() -> list[Finding]:
        return check()

    return await _guarded(name, call())


async def examine(options: Options) -> Report:
    """Every check, in the order a Pi owner fixes things: the file, the user, the devices, then the rest."""
    config, config_line = _config_finding(options.config)
    unit = installed_unit()
    try:
        user = service_user(options.user, unit)
    except NoSuchUser as exc:
        report = Report(str(options.config), options.user or "?", config_usable=config is not None)
        report.add([config_line, Finding("user", "FAIL", str(exc), "name a user that exists, or create it")])
        return report
    report = Report(str(options.config), user.name, config_usable=config is not None)
    report.add([config_line])
    if config is not None:
        report.add(Finding("config", "info", note) for note in config.alarm.route_notes())
    report.add([Finding("user", "info", f"judging for {user.name} ({user.why})")])
    report.add(await _run("serial", lambda: serial_findings(user, _serial_paths(config))))
    if config is not None:
        buzzer, voice = config.alarm.buzzer_pin is not None, config.alarm.voice
        report.add(await _run("alarm devices", lambda: alarm_device_findings(user, buzzer, voice)))
    clock = _guarded("clock", asyncio.to_thread(check_clock))
    if config is None:
        report.add([Finding("probes", "info", "not read: the config cannot be used")])
        report.add(await _run("state dir", lambda: check_state(None, options.state_dir, unit, user)))
        report.add(await clock)
        return report
    probes, broker, alarm, clock_found = await asyncio.gather(
        _guarded("probes", check_probes(config, options.window)),
        _guarded("mqtt", check_broker(config)),
        _guarded("alarm", check_alarm(config, options.alarm_test)),
        clock,
    )
    report.add(probes)
    report.add(broker)
    report.add(await _run("state dir", lambda: check_state(config, options.state_dir, unit, user)))
    report.add(clock_found)
    report.add(alarm)
    return report
