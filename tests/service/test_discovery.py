"""Home Assistant discovery messages, checked against the keys Home Assistant documents.

Home Assistant's discovery schemas are built with ``extra=vol.REMOVE_EXTRA``: an
unknown key is dropped without a word, so ``unit_of_measurment`` would leave a
temperature sensor without a unit and nobody would notice. This validator is
strict instead: every key must be one the platform's schema accepts.

The key sets are taken from Home Assistant's MQTT integration
(homeassistant/components/mqtt/: ``schemas.py`` MQTT_ENTITY_COMMON_SCHEMA and
the availability schemas, ``config.py`` MQTT_BASE/RO/RW_SCHEMA, and each
platform's ``_PLATFORM_SCHEMA_BASE``: sensor.py, binary_sensor.py, button.py,
event.py, number.py; ``abbreviations.py`` for the short forms) and its
documentation pages (integrations/sensor.mqtt, binary_sensor.mqtt, button.mqtt,
event.mqtt, number.mqtt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import pytest

from service.mqtt.discovery import (
    IDLE,
    Instance,
    Message,
    ProbeInfo,
    announce,
    entities,
    expire_after,
    node_id,
    probe_message,
    stage_options,
)
from service.mqtt.publisher import alert_payload, cook_state_payload, probe_payload

# ---- what Home Assistant accepts ---------------------------------------------------------

AVAILABILITY = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
}
COMMON = AVAILABILITY | {
    "device",
    "origin",
    "enabled_by_default",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "object_id",
    "default_entity_id",
    "unique_id",
    "platform",
}
BASE = {"qos", "encoding"}
RO = BASE | {"state_topic", "value_template"}
RW = BASE | {"command_topic", "optimistic", "retain", "state_topic"}

PLATFORMS: dict[str, tuple[set[str], set[str]]] = {
    # platform: (allowed keys, required keys)
    "sensor": (
        COMMON
        | RO
        | {
            "device_class",
            "expire_after",
            "force_update",
            "last_reset_value_template",
            "name",
            "options",
            "suggested_display_precision",
            "state_class",
            "unit_of_measurement",
        },
        {"state_topic"},
    ),
    "binary_sensor": (
        COMMON
        | RO
        | {"device_class", "expire_after", "force_update", "name", "off_delay", "payload_off", "payload_on"},
        {"state_topic"},
    ),
    "button": (
        COMMON | BASE | {"command_template", "command_topic", "device_class", "name", "payload_press", "retain"},
        {"command_topic"},
    ),
    "event": (COMMON | RO | {"device_class", "name", "event_types"}, {"state_topic", "event_types"}),
    "number": (
        COMMON
        | RW
        | {
            "command_template",
            "device_class",
            "max",
            "min",
            "mode",
            "name",
            "payload_reset",
            "step",
            "unit_of_measurement",
            "value_template",
        },
        {"command_topic"},
    ),
}
DEVICE_KEYS = {
    "identifiers",
    "connections",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "hw_version",
    "serial_number",
    "sw_version",
    "via_device",
    "suggested_area",
    "configuration_url",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
ABBREVIATIONS = {
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "evt_typ": "event_types",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "lrst_val_tpl": "last_reset_value_template",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "ops": "options",
    "opt": "optimistic",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "pl_rst": "payload_reset",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "sug_dsp_prc": "suggested_display_precision",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections",
    "cu": "configuration_url",
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "mdl_id": "model_id",
    "hw": "hw_version",
    "sw": "sw_version",
    "sa": "suggested_area",
    "sn": "serial_number",
}
SENSOR_DEVICE_CLASSES = {"temperature", "duration", "enum", "timestamp", "date", "power", "energy", "voltage"}
SENSOR_STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
UNITS = {"temperature": {"°C", "°F", "K"}, "duration": {"d", "h", "min", "s", "ms", "μs"}}
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
}
BUTTON_DEVICE_CLASSES = {"identify", "restart", "update"}
EVENT_DEVICE_CLASSES = {"button", "doorbell", "motion"}
TOPIC = re.compile(
    r"^(?P<prefix>[^#+]+?)/(?P<component>[a-z_]+)/(?:(?P<node>[a-zA-Z0-9_-]+)/)?(?P<object>[a-zA-Z0-9_-]+)/config$"
)


def _expand(config: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    return {table.get(key, key): value for key, value in config.items()}


def _valid_topic(topic: Any, wildcards: bool) -> bool:
    if not isinstance(topic, str) or not topic or "\0" in topic:
        return False
    return wildcards or ("+" not in topic and "#" not in topic)


def problems(message: Message) -> list[str]:
    """Everything Home Assistant would reject, drop or misread in one discovery message."""
    found: list[str] = []
    match = TOPIC.match(message.topic)
    if match is None:
        return [f"{message.topic}: not <prefix>/<component>/[<node_id>/]<object_id>/config"]
    component = match["component"]
    if component not in PLATFORMS:
        return [f"{message.topic}: no schema for component {component!r} here"]
    if not message.retain:
        found.append(f"{message.topic}: discovery must be retained, or Home Assistant forgets it on restart")
    if message.payload == "":
        return found  # withdraws the entity
    try:
        config = json.loads(message.payload)
    except ValueError as exc:
        return [*found, f"{message.topic}: not JSON: {exc}"]
    if not isinstance(config, dict):
        return [*found, f"{message.topic}: not a JSON object"]
    config = _expand(config, ABBREVIATIONS)
    allowed, required = PLATFORMS[component]
    for key in sorted(set(config) - allowed):
        found.append(f"{message.topic}: unknown key {key!r} for a {component} (Home Assistant would drop it)")
    for key in sorted(required - set(config)):
        found.append(f"{message.topic}: missing required key {key!r}")
    for key in ("state_topic", "json_attributes_topic", "availability_topic"):
        if key in config and not _valid_topic(config[key], wildcards=True):
            found.append(f"{message.topic}: {key} is not a valid topic")
    if "command_topic" in config and not _valid_topic(config["command_topic"], wildcards=False):
        found.append(f"{message.topic}: command_topic must be a publishable topic")
    if "availability" in config and "availability_topic" in config:
        found.append(f"{message.topic}: availability and availability_topic exclude each other")
    if "availability" not in config and "availability_topic" not in config:
        found.append(f"{message.topic}: no availability: the entity would look alive after potwatch died")
    if config.get("qos", 0) not in (0, 1, 2):
        found.append(f"{message.topic}: qos must be 0, 1 or 2")
    if "unique_id" not in config:
        found.append(f"{message.topic}: no unique_id: Home Assistant cannot put it on a device or keep its settings")
    found += _device_problems(message.topic, config.get("device"))
    origin = config.get("origin")
    if origin is not None:
        for key in sorted(set(origin) - ORIGIN_KEYS):
            found.append(f"{message.topic}: unknown origin key {key!r}")
        if "name" not in origin:
            found.append(f"{message.topic}: origin needs a name")
    found += _platform_problems(message.topic, component, config)
    return found


def _device_problems(where: str, device: Any) -> list[str]:
    if device is None:
        return [f"{where}: no device block: the entity would float outside the potwatch device"]
    found = []
    device = _expand(device, DEVICE_ABBREVIATIONS)
    for key in sorted(set(device) - DEVICE_KEYS):
        found.append(f"{where}: unknown device key {key!r}")
    if not device.get("identifiers") and not device.get("connections"):
        found.append(f"{where}: a device needs identifiers or connections")
    url = device.get("configuration_url")
    if url is not None and not re.match(r"^(https?|homeassistant)://", str(url)):
        found.append(f"{where}: configuration_url must be an http(s):// URL")
    return found


def _platform_problems(where: str, component: str, config: dict[str, Any]) -> list[str]:
    found = []
    device_class = config.get("device_class")
    if component == "sensor":
        if device_class is not None and device_class not in SENSOR_DEVICE_CLASSES:
            found.append(f"{where}: unexpected sensor device_class {device_class!r}")
        if config.get("state_class") not in (None, *SENSOR_STATE_CLASSES):
            found.append(f"{where}: bad state_class {config['state_class']!r}")
        unit = config.get("unit_of_measurement")
        if device_class in UNITS and unit not in UNITS[device_class]:
            found.append(f"{where}: unit {unit!r} is not valid for device_class {device_class!r}")
        options = config.get("options")
        if options is not None:
            if not options or not all(isinstance(o, str) for o in options):
                found.append(f"{where}: options must be a non-empty list of strings")
            if device_class != "enum":
                found.append(f"{where}: options need device_class enum")
            if "state_class" in config or "unit_of_measurement" in config:
                found.append(f"{where}: options exclude state_class and unit_of_measurement")
        elif device_class == "enum":
            found.append(f"{where}: an enum sensor needs its options")
        expire = config.get("expire_after")
        if expire is not None and (not isinstance(expire, int) or isinstance(expire, bool) or expire <= 0):
            found.append(f"{where}: expire_after must be a positive whole number of seconds")
        precision = config.get("suggested_display_precision")
        if precision is not None and (not isinstance(precision, int) or precision < 0):
            found.append(f"{where}: suggested_display_precision must be a whole number ≥ 0")
    elif component == "binary_sensor":
        if device_class is not None and device_class not in BINARY_SENSOR_DEVICE_CLASSES:
            found.append(f"{where}: unexpected binary_sensor device_class {device_class!r}")
    elif component == "button":
        if device_class is not None and device_class not in BUTTON_DEVICE_CLASSES:
            found.append(f"{where}: unexpected button device_class {device_class!r}")
    elif component == "event":
        types = config.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            found.append(f"{where}: event_types must be a non-empty list of strings")
        if device_class is not None and device_class not in EVENT_DEVICE_CLASSES:
            found.append(f"{where}: unexpected event device_class {device_class!r}")
    elif component == "number" and float(config.get("min", 1)) > float(config.get("max", 100)):
        found.append(f"{where}: min must be <= max")
    return found


def validate_all(messages: Iterable[Message]) -> list[str]:
    found: list[str] = []
    unique_ids: dict[str, str] = {}
    for message in messages:
        found += problems(message)
        if message.payload:
            uid = json.loads(message.payload).get("unique_id")
            if uid in unique_ids:
                found.append(f"{message.topic}: unique_id {uid!r} also used by {unique_ids[uid]}")
            unique_ids[uid] = message.topic
    return found


# ---- the instance under test --------------------------------------------------------------


def instance(**overrides: Any) -> Instance:
    values: dict[str, Any] = {
        "base_topic": "potwatch",
        "discovery_prefix": "homeassistant",
        "version": "0.1.0",
        "probes": (ProbeInfo("pot", "Caramel pot", 15), ProbeInfo("oven", "", 90)),
        "page_url": "http://potwatch.local:8000/",
    }
    values.update(overrides)
    return Instance(**values)


def by_object(messages: list[Message]) -> dict[str, dict[str, Any]]:
    return {m.topic.split("/")[-2]: json.loads(m.payload) for m in messages if m.payload}


def test_every_discovery_message_is_valid() -> None:
    messages = announce(instance())
    assert validate_all(messages) == []
    objects = by_object(messages)
    assert set(objects) == {
        "probe_pot_temperature",
        "probe_oven_temperature",
        "stage",
        "eta",
        "rate",
        "target",
        "sugar_stage",
        "active_alerts",
        "target_reached",
        "alert",
        "ack",
    }


def test_a_typo_in_a_key_fails_validation() -> None:
    message = announce(instance())[0]
    config = json.loads(message.payload)
    config["unit_of_measurment"] = config.pop("unit_of_measurement")
    broken = Message(message.topic, json.dumps(config), retain=True)
    assert any("unknown key 'unit_of_measurment'" in p for p in problems(broken))
    config = json.loads(message.payload)
    config["device"]["sw_verison"] = config["device"].pop("sw_version")
    broken = Message(message.topic, json.dumps(config), retain=True)
    assert any("unknown device key 'sw_verison'" in p for p in problems(broken))


@pytest.mark.parametrize(
    ("component", "change", "complaint"),
    [
        ("sensor", {"options": ["a"], "device_class": "temperature"}, "options need device_class enum"),
        ("sensor", {"expire_after": 0}, "expire_after must be a positive"),
        ("sensor", {"state_topic": None}, "state_topic is not a valid topic"),
        ("button", {"command_topic": "potwatch/#"}, "command_topic must be a publishable topic"),
        ("sensor", {"availability": [{"topic": "x"}]}, "exclude each other"),
    ],
)
def test_the_validator_catches_what_home_assistant_rejects(
    component: str, change: dict[str, Any], complaint: str
) -> None:
    message = next(m for m in announce(instance()) if f"/{component}/" in m.topic and m.payload)
    config = {**json.loads(message.payload), **change}
    assert any(complaint in p for p in problems(Message(message.topic, json.dumps(config), retain=True)))


def test_one_device_with_identity_version_and_the_phone_page() -> None:
    devices = [c["device"] for c in by_object(announce(instance())).values()]
    assert all(d == devices[0] for d in devices)
    device = devices[0]
    assert device["identifiers"] == ["potwatch_potwatch"]
    assert device["name"] == "potwatch"
    assert device["sw_version"] == "0.1.0" and device["model"]
    assert device["configuration_url"] == "http://potwatch.local:8000/"


def test_availability_is_wired_on_every_entity() -> None:
    for config in by_object(announce(instance())).values():
        assert config["availability_topic"] == "potwatch/availability"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")


def test_unique_ids_and_topics_are_stable_across_restarts() -> None:
    first, second = announce(instance()), announce(instance(page_url="http://10.0.0.5:8000/"))
    assert [m.topic for m in first] == [m.topic for m in second]
    assert [c["unique_id"] for c in by_object(first).values()] == [c["unique_id"] for c in by_object(second).values()]
    other = by_object(announce(instance(base_topic="kitchen/potwatch2")))
    assert other["stage"]["unique_id"] == "potwatch_kitchen_potwatch2_stage"
    assert not set(c["unique_id"] for c in other.values()) & set(c["unique_id"] for c in by_object(first).values())


def test_probe_sensors_are_temperatures_expiring_with_the_probe() -> None:
    objects = by_object(announce(instance()))
    pot = objects["probe_pot_temperature"]
    assert pot["device_class"] == "temperature" and pot["unit_of_measurement"] == "°C"
    assert pot["state_class"] == "measurement"
    assert pot["expire_after"] == 15
    assert pot["state_topic"] == "potwatch/probe/pot/temperature"
    assert pot["name"] == "Caramel pot temperature"
    assert objects["probe_oven_temperature"]["name"] == "oven temperature"
    assert expire_after(15.0) == 15 and expire_after(15.0, speed=60.0) == 1 and expire_after(10.2) == 11


def test_stage_is_an_enum_with_every_stage_and_idle() -> None:
    stage = by_object(announce(instance()))["stage"]
    assert stage["device_class"] == "enum"
    assert set(stage["options"]) >= {IDLE, "heating", "approaching", "reached", "overshoot", "holding", "done"}
    assert stage["options"] == stage_options()


def test_eta_rate_target_sugar_and_reached() -> None:
    objects = by_object(announce(instance()))
    assert objects["eta"]["device_class"] == "duration" and objects["eta"]["unit_of_measurement"] == "s"
    assert objects["rate"]["unit_of_measurement"] == "°F/min"
    assert objects["target"]["device_class"] == "temperature"
    assert objects["sugar_stage"]["state_topic"] == "potwatch/cook/state"
    reached = objects["target_reached"]
    assert reached["value_template"] == "{{ 'ON' if value_json.target_reached else 'OFF' }}"


def test_the_alert_event_lists_every_alert_kind() -> None:
    alert = by_object(announce(instance()))["alert"]
    assert alert["state_topic"] == "potwatch/cook/alert"
    assert "target_reached" in alert["event_types"] and "probe_lost" in alert["event_types"]


def test_the_button_is_withdrawn_when_commands_are_refused() -> None:
    with_button = {m.topic: m for m in announce(instance())}
    without = {m.topic: m for m in announce(instance(commands=False))}
    topic = "homeassistant/button/potwatch/ack/config"
    assert json.loads(with_button[topic].payload)["command_topic"] == "potwatch/cook/ack/press"
    assert without[topic].payload == "" and without[topic].retain
    assert validate_all(without.values()) == []


def test_no_discovery_prefix_means_no_discovery() -> None:
    assert announce(instance(discovery_prefix="")) == []


def test_node_id_is_safe_for_topics() -> None:
    assert node_id("potwatch") == "potwatch"
    assert node_id("home/kitchen/pot watch") == "home_kitchen_pot_watch"
    assert node_id("///") == "potwatch"


def test_one_probe_can_be_announced_alone() -> None:
    message = probe_message(instance(), ProbeInfo("pot", "Caramel pot", 42))
    assert message is not None and message.topic == "homeassistant/sensor/potwatch/probe_pot_temperature/config"
    assert json.loads(message.payload)["expire_after"] == 42
    assert validate_all([message]) == []


# ---- templates read keys the payloads carry ----------------------------------------------------

STATUS = {
    "cook": {
        "id": "c1",
        "profile": "caramel",
        "title": "Caramel",
        "probe": "pot",
        "channel": None,
        "step": "caramel",
        "step_index": 0,
        "step_kind": "reach",
        "steps": ["caramel"],
        "stage": "approaching",
        "started_at": "2026-11-28T14:00:00.000Z",
        "target_c": 107.22,
        "target_f": 225.0,
        "rate_f_per_min": 4.8,
        "eta_s": 88.0,
        "eta_sigma_s": 6.0,
        "sugar_stage": "syrup",
    },
    "alerts": [
        {"id": "a2", "kind": "target_approaching", "level": "warning", "active": True, "acked": False},
        {"id": "a1", "kind": "probe_restored", "level": "info", "active": False, "acked": False},
    ],
}
READING = {"probe": "pot", "channel": "", "celsius": 104.5, "fahrenheit": 220.1, "at": "…", "state": "ok"}
ALERT = {"id": "a3", "kind": "target_reached", "level": "critical", "active": True, "acked": False, "message": "…"}


def template_keys(template: str) -> set[str]:
    return set(re.findall(r"value_json\.(\w+)", template))


def test_templates_only_read_keys_the_payloads_carry() -> None:
    payloads = {
        "potwatch/cook/state": cook_state_payload(STATUS),
        "potwatch/probe/pot/temperature": probe_payload(READING, 104.4, 0.04),
        "potwatch/probe/oven/temperature": probe_payload(READING),
    }
    for _, object_id, config in entities(instance()):
        if config is None:
            continue
        for key in ("value_template", "json_attributes_template"):
            if key not in config:
                continue
            topic = config["state_topic"] if key == "value_template" else config["json_attributes_topic"]
            missing = template_keys(config[key]) - set(payloads[topic])
            assert not missing, f"{object_id}.{key} reads {missing} that {topic} does not carry"
    assert set(cook_state_payload({"cook": None, "alerts": []})) == set(payloads["potwatch/cook/state"])
    event = alert_payload(ALERT)
    assert event["event_type"] == "target_reached"


def test_state_payload_shapes() -> None:
    state = cook_state_payload(STATUS)
    assert state["cook"] == "c1" and state["stage"] == "approaching" and state["target_reached"] is False
    assert state["eta_s"] == 88.0 and state["eta_sigma_s"] == 6.0 and state["sugar_stage"] == "syrup"
    assert state["rate_c_per_min"] == pytest.approx(4.8 / 1.8, abs=0.01)
    assert state["active_alerts"] == 1 and [a["id"] for a in state["alerts"]] == ["a2", "a1"]
    idle = cook_state_payload({"cook": None, "alerts": []})
    assert idle["stage"] == IDLE and idle["cook"] is None and idle["target_reached"] is False
    reached = cook_state_payload({**STATUS, "cook": {**STATUS["cook"], "stage": "reached"}})
    assert reached["target_reached"] is True
    probe = probe_payload(READING, 104.4, 0.04)
    assert probe["filtered_c"] == 104.4 and probe["rate_c_per_min"] == 2.4 and probe["rate_f_per_min"] == 4.32
