"""Home Assistant discovery messages, checked against the keys Home Assistant documents.

The strict validator (every key must be one the platform's schema accepts, or
Home Assistant drops it without a word) is tests/support/ha_discovery.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from service.mqtt.discovery import (
    IDLE,
    HeaterInfo,
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
from service.mqtt.publisher import alert_payload, cook_state_payload, heater_payload, probe_payload
from service.runtime.views import HeaterView
from tests.support.ha_discovery import problems, validate_all

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
        ("sensor", {"availability": [{"topic": "x"}], "availability_topic": "x"}, "exclude each other"),
        ("sensor", {"availability": [{"topic": "x", "payload_on": "up"}]}, "unknown availability key"),
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
    for object_id, config in by_object(announce(instance())).items():
        if object_id.startswith("probe_"):
            # the service's availability and the probe's own: unavailable while potwatch judges it lost
            assert config["availability_mode"] == "all"
            entries = config["availability"]
            probe = object_id.removeprefix("probe_").removesuffix("_temperature")
            assert [e["topic"] for e in entries] == ["potwatch/availability", f"potwatch/probe/{probe}/availability"]
            pairs = {(e["payload_available"], e["payload_not_available"]) for e in entries}
            assert pairs == {("online", "offline")} and "availability_topic" not in config
            continue
        if "availability" in config:  # the button and the sugar stage: potwatch's availability and one more
            first = config["availability"][0]
            assert config["availability_mode"] == "all" and first["topic"] == "potwatch/availability"
            assert (first["payload_available"], first["payload_not_available"]) == ("online", "offline")
            continue
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


def test_the_button_stays_one_entity_whether_commands_are_taken_or_not() -> None:
    """Withdrawn and announced again, it was a new entity each time: the user's name and area were lost."""
    with_button = {m.topic: m for m in announce(instance())}
    without = {m.topic: m for m in announce(instance(commands=False))}
    topic = "homeassistant/button/potwatch/ack/config"
    assert with_button[topic] == without[topic]
    button = json.loads(without[topic].payload)
    assert button["command_topic"] == "potwatch/cook/ack/press"
    assert button["availability_mode"] == "all"
    assert [a["topic"] for a in button["availability"]] == ["potwatch/availability", "potwatch/cook/ack/availability"]
    assert validate_all(without.values()) == []


def test_the_rate_is_in_the_unit_asked_for() -> None:
    fahrenheit = by_object(announce(instance()))["rate"]
    celsius = by_object(announce(instance(rate_unit="C")))["rate"]
    assert (fahrenheit["unit_of_measurement"], fahrenheit["value_template"]) == (
        "°F/min",
        "{{ value_json.rate_f_per_min }}",
    )
    assert (celsius["unit_of_measurement"], celsius["value_template"]) == ("°C/min", "{{ value_json.rate_c_per_min }}")
    assert celsius["unique_id"] == fahrenheit["unique_id"]  # the same entity, in another unit


def test_the_sugar_stage_never_renders_none_and_is_unavailable_without_one() -> None:
    sugar = by_object(announce(instance()))["sugar_stage"]
    assert "None" not in sugar["value_template"] and "or ''" in sugar["value_template"]
    gate = sugar["availability"][1]
    assert gate["topic"] == "potwatch/cook/state" and "value_json.sugar_stage" in gate["value_template"]
    assert sugar["availability_mode"] == "all"


def test_the_target_leaves_rounding_a_converted_state_to_home_assistant() -> None:
    """With a suggested precision the °F state is the raw 224.996; without, Home Assistant rounds it."""
    target = by_object(announce(instance()))["target"]
    assert "suggested_display_precision" not in target and target["unit_of_measurement"] == "°C"


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


HEATER = HeaterView(
    id="hob",
    label="Induction plate",
    probe="pot",
    on=True,
    reported="on",
    reason="heating to target (225 °F)",
    duty=0.41666,
    duty_window_s=600.0,
    available=True,
    override="auto",
    safety=False,
)


def test_templates_only_read_keys_the_payloads_carry() -> None:
    payloads = {
        "potwatch/cook/state": cook_state_payload(STATUS),
        "potwatch/probe/pot/temperature": probe_payload(READING, 104.4, 0.04),
        "potwatch/probe/oven/temperature": probe_payload(READING),
        "potwatch/heater/hob/state": heater_payload(HEATER),
    }
    for _, object_id, config in entities(instance(heaters=(HeaterInfo("hob", "pot"),))):
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
    heater = heater_payload(HEATER)
    assert heater["duty"] == 0.42 and {**heater, "duty": HEATER["duty"]} == HEATER


def test_each_heater_has_a_control_switch_a_duty_sensor_and_its_plugs_state() -> None:
    messages = announce(instance(heaters=(HeaterInfo("hob", "pot"), HeaterInfo("slow_cooker", "oven"))))
    assert validate_all(messages) == []
    objects = by_object(messages)
    for heater_id in ("hob", "slow_cooker"):
        switch = objects[f"heater_{heater_id}_control"]
        assert switch["command_topic"] == f"potwatch/heater/{heater_id}/override"
        assert (switch["payload_on"], switch["payload_off"]) == ("auto", "off")  # never "on": see discovery.py
        assert (switch["state_on"], switch["state_off"]) == ("auto", "off")
        duty = objects[f"heater_{heater_id}_duty"]
        assert duty["unit_of_measurement"] == "%" and duty["state_topic"] == f"potwatch/heater/{heater_id}/state"
        heat = objects[f"heater_{heater_id}_heat"]
        assert heat["device_class"] == "heat" and "value_json.reported" in heat["value_template"]
    assert by_object(announce(instance())).keys().isdisjoint({"heater_hob_control", "heater_hob_duty"})


def test_where_mqtt_takes_only_off_a_heater_has_a_force_off_button_and_no_switch() -> None:
    """A token without accept_commands: ``auto`` is refused over MQTT, so the switch's turn-on would do
    nothing; the button sends ``off``, which is always taken. The readings are the same either way."""
    heaters = (HeaterInfo("hob", "pot"),)
    messages = announce(instance(heaters=heaters, commands=False))
    assert validate_all(messages) == []
    objects = by_object(messages)
    assert "heater_hob_control" not in objects
    button = objects["heater_hob_off"]
    assert button["command_topic"] == "potwatch/heater/hob/override" and button["payload_press"] == "off"
    assert [m.topic for m in messages if "heater_hob_off" in m.topic] == [
        "homeassistant/button/potwatch/heater_hob_off/config"
    ]
    taken = by_object(announce(instance(heaters=heaters)))
    assert "heater_hob_off" not in taken
    readings = ("heater_hob_duty", "heater_hob_heat")
    assert [objects[r] for r in readings] == [taken[r] for r in readings]
