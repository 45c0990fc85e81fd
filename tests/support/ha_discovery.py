"""What Home Assistant accepts in a discovery message, and a strict check of it.

Home Assistant's discovery schemas are built with ``extra=vol.REMOVE_EXTRA``: an
unknown key is dropped without a word, so ``unit_of_measurment`` would leave a
temperature sensor without a unit and nobody would notice. This validator is
strict instead: every key must be one the platform's schema accepts. It lives
here, not in a test module, because the discovery tests and the MQTT
publisher's tests (what a real broker hands a late subscriber) both use it.

The key sets are taken from Home Assistant's MQTT integration
(homeassistant/components/mqtt/: ``schemas.py`` MQTT_ENTITY_COMMON_SCHEMA and
the availability schemas, ``config.py`` MQTT_BASE/RO/RW_SCHEMA, and each
platform's ``_PLATFORM_SCHEMA_BASE``: sensor.py, binary_sensor.py, button.py,
event.py, number.py, switch.py; ``abbreviations.py`` for the short forms) and
its documentation pages (integrations/sensor.mqtt, binary_sensor.mqtt,
button.mqtt, event.mqtt, number.mqtt, switch.mqtt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from service.mqtt.discovery import Message

# ---- what Home Assistant accepts ---------------------------------------------------------

AVAILABILITY = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
}
# one entry of an ``availability`` list (the availability schemas' AVAILABILITY_LIST)
AVAILABILITY_ENTRY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
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
    "switch": (
        COMMON
        | RW
        | {
            "command_template",
            "device_class",
            "name",
            "payload_off",
            "payload_on",
            "state_off",
            "state_on",
            "value_template",
        },
        {"command_topic"},
    ),
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
SWITCH_DEVICE_CLASSES = {"outlet", "switch"}
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
    for entry in config.get("availability") or []:
        if not isinstance(entry, dict) or "topic" not in entry:
            found.append(f"{message.topic}: every availability entry needs a topic")
            continue
        for key in sorted(set(entry) - AVAILABILITY_ENTRY_KEYS):
            found.append(f"{message.topic}: unknown availability key {key!r}")
        if not _valid_topic(entry["topic"], wildcards=True):
            found.append(f"{message.topic}: availability topic is not a valid topic")
    if config.get("availability_mode", "latest") not in ("all", "any", "latest"):
        found.append(f"{message.topic}: availability_mode must be all, any or latest")
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
    elif component == "switch":
        if device_class is not None and device_class not in SWITCH_DEVICE_CLASSES:
            found.append(f"{where}: unexpected switch device_class {device_class!r}")
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
    """Every message's problems, and a ``unique_id`` used twice (Home Assistant would keep only one entity)."""
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
