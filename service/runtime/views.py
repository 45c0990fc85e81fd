"""The kitchen as JSON: one shape for the API, SSE, MQTT and history.

Temperatures go out in both units, times as ISO wall-clock strings; the core's
monotonic seconds never leave the process. Durations are on the kitchen's
clock (the demo's runs faster: ``speed`` in the status says how much).
"""

from __future__ import annotations

from typing import Any

from service.core.cook import Cook, Kitchen
from service.core.events import Alert
from service.core.probes import ProbeHealth
from service.core.units import c_to_f
from service.runtime.clock import Clock


def both(value: float | None, digits: int = 2) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    return round(value, digits), round(c_to_f(value), digits)


def calibration_json(health: ProbeHealth) -> dict[str, Any]:
    """Which calibration is in force for a probe, and by how much it moves every target.

    ``calibration_offset_*`` is a difference (water's boil here minus 100 °C /
    212 °F): in °F it is ×1.8, without the 32.
    """
    offset = health.offset_c
    # three digits: the page rounds to one, and 94.945 must not become 94.95, then 95.0
    water_c, water_f = both(health.water_boils_c, 3)
    return {
        "calibration": health.calibration.value,
        "water_boils_c": water_c,
        "water_boils_f": water_f,
        "calibration_offset_c": round(offset, 3),
        "calibration_offset_f": round(offset * 1.8, 3),
        "boil_c": round(health.boil_c, 2) if health.boil_c is not None else None,
        "pressure_hpa": round(health.pressure_hpa, 1) if health.pressure_hpa is not None else None,
        "altitude_m": round(health.altitude_m, 1) if health.altitude_m is not None else None,
    }


def probe_json(health: ProbeHealth, clock: Clock, label: str = "") -> dict[str, Any]:
    celsius, fahrenheit = both(health.celsius)
    now = clock.monotonic()
    return {
        "id": health.id,
        "label": label or health.id,
        "state": health.state.value,
        "celsius": celsius,
        "fahrenheit": fahrenheit,
        "at": clock.iso(health.last_at) if health.last_at is not None else None,
        "age_s": round(now - health.last_at, 1) if health.last_at is not None else None,
        "channel": health.channel,
        "interval_s": round(health.interval, 2) if health.interval is not None else None,
        "stale_after_s": round(health.stale_timeout, 1),
        "lag_s": health.lag_s,
        **calibration_json(health),
        "fault": health.fault_reason if health.state.value == "fault" else None,
    }


def cook_json(kitchen: Kitchen, cook: Cook, clock: Clock) -> dict[str, Any]:
    view = kitchen.cook_view(cook, clock.monotonic() if cook.ended_at is None else cook.ended_at)
    target_c, target_f = both(view.get("target_c"))
    over_c, over_f = both(view.get("overshoot_c"))
    level_c, level_f = both(view.get("level_c"))
    low_c, low_f = both(view.get("low_c"))
    high_c, high_f = both(view.get("high_c"))
    water_c, water_f = both(view.get("water_boils_c"), 3)
    rate = view.get("rate_c_per_s")
    return {
        "id": cook.id,
        "profile": cook.profile.name,
        "title": cook.profile.title,
        "probe": cook.probe,
        "channel": cook.channel,
        "step": view["step"],
        "step_index": view["step_index"],
        "step_kind": view["step_kind"],
        "steps": view["steps"],
        "stage": str(view["stage"]),
        "started_at": clock.iso(cook.started_at),
        "ended_at": clock.iso(cook.ended_at) if cook.ended_at is not None else None,
        "outcome": cook.outcome,
        "target_c": target_c,
        "target_f": target_f,
        "overshoot_c": over_c,
        "overshoot_f": over_f,
        "level_c": level_c,
        "level_f": level_f,
        "rate_f_per_min": round(rate * 108.0, 2) if rate is not None else None,
        "eta_s": view.get("eta_s"),
        "eta_sigma_s": view.get("eta_sigma_s"),
        "on_boil": view.get("on_boil"),
        "eta_water_boils_c": view.get("eta_water_boils_c"),
        "lag_s": view.get("lag_s"),
        "pot_c": round(view["pot_c"], 2) if view.get("pot_c") is not None else None,
        "sugar_stage": view.get("sugar_stage"),
        "next_sugar_stage": view.get("next_sugar_stage"),
        "next_sugar_stage_eta_s": view.get("next_sugar_stage_eta_s"),
        "low_c": low_c,
        "low_f": low_f,
        "high_c": high_c,
        "high_f": high_f,
        "hold_elapsed_s": view.get("hold_elapsed_s"),
        "hold_remaining_s": view.get("hold_remaining_s"),
        "measured_boil_c": view.get("measured_boil_c"),
        "calibration": view["calibration"],
        "water_boils_c": water_c,
        "water_boils_f": water_f,
        "calibration_offset_c": round(view["calibration_offset_c"], 3),
        "calibration_offset_f": round(view["calibration_offset_c"] * 1.8, 3),
    }


def alert_json(alert: Alert, clock: Clock) -> dict[str, Any]:
    celsius, fahrenheit = both(alert.celsius)
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "level": alert.level.value,
        "active": alert.active,
        "acked": alert.acked,
        "at": clock.iso(alert.at),
        "acked_at": clock.iso(alert.acked_at) if alert.acked_at is not None else None,
        "probe": alert.probe,
        "cook": alert.cook_id,
        "step": alert.step,
        "celsius": celsius,
        "fahrenheit": fahrenheit,
        "message": alert.message,
    }
