"""The one line ``systemctl status potwatch`` shows: the cook, its stage, the pot's temperature.

Built from the same status the page draws (``Hub.status()``), in the unit the
alarm speaks (``[alarm] unit``), with the page's words for each stage, so that
whoever looks from a shell reads what the cook reads: "caramel: approaching,
219.4 °F, 225 °F in about 1 min" or "no cook; pot 71.2 °F".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from service.core.units import format_duration
from service.runtime.systemd_notify import Notifier
from service.runtime.views import CookView, ProbeView, StatusView
from service.runtime.words import ALERT_TITLES, STAGE_WORDS

log = logging.getLogger(__name__)

# systemd keeps the last STATUS= it got; more than one a second is noise on its socket
EVERY_S = 1.0
# stages of a reach step still on the way up: the line says how far and how soon
CLIMBING = ("heating", "approaching")


def status_line(status: StatusView, unit: str = "F") -> str:
    probes = {p["id"]: p for p in status["probes"]}
    cook = status["cook"]
    if cook is None:
        readings = ", ".join(f"{p['id']} {_reading(p, unit)}" for p in probes.values())
        line = f"no cook; {readings}" if readings else "no cook; no probe"
    else:
        line = _cook_text(cook, probes.get(cook["probe"]), unit)
        others = len(status["cooks"]) - 1
        if others > 0:
            line += f" (and {others} more cook{'s' if others > 1 else ''})"
    ringing = [a for a in status["alerts"] if a["active"] and not a["acked"] and a["level"] == "critical"]
    if ringing:
        line += f"; ALARM: {ALERT_TITLES.get(ringing[0]['kind'], ringing[0]['kind'])}"
        if len(ringing) > 1:
            line += f" (+{len(ringing) - 1})"
    return line


def _cook_text(cook: CookView, probe: ProbeView | None, unit: str) -> str:
    parts = [f"{cook['step']}: {STAGE_WORDS.get(cook['stage'], cook['stage'])}"]
    parts.append(_reading(probe, unit) if probe is not None else f"probe {cook['probe']} unknown")
    target = cook["target_f"] if unit == "F" else cook["target_c"]
    if cook["step_kind"] == "reach" and target is not None and cook["stage"] in CLIMBING:
        eta = cook["eta_s"]
        goal = _degrees(target, unit, None)
        parts.append(
            f"{goal} in about {format_duration(max(eta, 1.0))}" if eta is not None else f"on the way to {goal}"
        )
    elif cook["step_kind"] == "hold" and cook["hold_remaining_s"] is not None and cook["stage"] != "done":
        parts.append(f"{format_duration(cook['hold_remaining_s'])} to go")
    return ", ".join(parts)


def _reading(probe: ProbeView, unit: str) -> str:
    value = probe["fahrenheit"] if unit == "F" else probe["celsius"]
    if probe["state"] == "ok" and value is not None:
        return _degrees(value, unit, 1)
    if probe["state"] == "waiting":
        return "waiting for a reading"
    return f"probe {probe['id']} {probe['state']}"


def _degrees(value: float, unit: str, decimals: int | None) -> str:
    """``decimals=None``: a target as written, "225 °F", or "215.9 °F" once shifted by the calibration."""
    text = f"{value:.{1 if decimals is None else decimals}f}"
    if decimals is None and text.endswith(".0"):
        text = text[:-2]
    return f"{text} °{unit}"


async def report_status(
    notifier: Notifier, line: Callable[[], str], every_s: float = EVERY_S, sent: str | None = None
) -> None:
    """Send the line when it changed, at most once every ``every_s``; a bug here never stops the service.

    ``sent``: the line already sent (with READY=1).
    """
    broken = False
    while True:
        await asyncio.sleep(every_s)
        try:
            text = line()
        except Exception:
            if not broken:
                log.exception("cannot build the status line for systemd")
            broken = True
        else:
            broken = False
            if text != sent and notifier.status(text):
                sent = text
