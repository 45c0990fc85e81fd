"""Home Assistant MQTT discovery as pure functions: a description of this potwatch in, messages out.

Nothing here touches a socket, a clock or the hub: ``announce(instance)`` returns
the retained ``(topic, payload, retain)`` messages that make one device with
all its entities appear in Home Assistant, and the publisher sends them on every
(re)connect and whenever Home Assistant says ``homeassistant/status`` =
``online`` (after its own restart it has forgotten everything not retained, and
a broker killed without saving has forgotten the retained messages too).

Keys are Home Assistant's full names (it also accepts the abbreviations);
``tests/service/test_discovery.py`` checks every key against the schemas Home
Assistant documents, because its discovery schema silently *drops* unknown
keys: a typo would not fail, the entity would just lose the setting.

Unique ids and discovery topics derive from the base topic only, never from a
boot-time value, so a restart updates the same entities instead of adding new
ones. The base topic must already be unique on a broker (two potwatches on the
same topics would overwrite each other's state), which makes it a good id;
``[mqtt] instance`` gives a second potwatch its own base topic and device name.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from service.core.events import AlertKind
from service.core.steps.boil import BoilStage
from service.core.steps.hold import HoldStage
from service.core.steps.reach import ReachStage

MANUFACTURER = "potwatch"
MODEL = "potwatch kitchen thermometer service"
# The stage shown when no cook runs: an enum sensor's state must be one of its options.
IDLE = "idle"
ACK_PRESS = "PRESS"  # Home Assistant's default payload_press: what the button sends
# What the heater's control switch sends: "auto" hands the heat to potwatch, "off" forces it off
# (the words of the override API: docs/heat.md). Never "on": forcing heat on unattended is the
# page's or the API's, with the token, not an automation's switch. Where MQTT takes "off" alone
# (a token without accept_commands), the force-off button sends it instead: see _heater_entities.
HEATER_AUTO, HEATER_OFF = "auto", "off"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: str
    retain: bool
    qos: int = 1


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic potwatch publishes or listens to, under one base topic."""

    base: str

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def probe(self, probe_id: str) -> str:
        return f"{self.base}/probe/{probe_id}/temperature"

    def probe_availability(self, probe_id: str) -> str:
        """``online``/``offline`` per probe: offline from the moment potwatch judges the probe lost."""
        return f"{self.base}/probe/{probe_id}/availability"

    @property
    def probes_wildcard(self) -> str:
        """Every retained topic of every probe, the ones no longer configured too (to clear them)."""
        return f"{self.base}/probe/+/+"

    @property
    def cook_state(self) -> str:
        return f"{self.base}/cook/state"

    @property
    def cook_alert(self) -> str:
        return f"{self.base}/cook/alert"

    @property
    def cook_ack(self) -> str:
        return f"{self.base}/cook/ack"

    @property
    def commands_availability(self) -> str:
        """``online`` while MQTT commands are taken: the button stays one entity whichever way it is set."""
        return f"{self.base}/cook/ack/availability"

    @property
    def ack_button(self) -> str:
        """The Home Assistant button's command topic: any press acknowledges every active alert."""
        return f"{self.base}/cook/ack/press"

    def heater_state(self, heater_id: str) -> str:
        """Retained JSON: what the heater was commanded, what its plug reports, why, its duty and override."""
        return f"{self.base}/heater/{heater_id}/state"

    def heater_override(self, heater_id: str) -> str:
        """Subscribed: ``off`` (anyone), ``auto`` or ``on`` (as the API's override, same token rule)."""
        return f"{self.base}/heater/{heater_id}/override"

    @property
    def heaters_wildcard(self) -> str:
        """Every heater topic, the ones no longer configured too: state to clear, overrides to act on."""
        return f"{self.base}/heater/+/+"


@dataclass(frozen=True, slots=True)
class ProbeInfo:
    id: str
    label: str = ""
    # real seconds after which Home Assistant shows the value as unavailable
    expire_after_s: int | None = None


@dataclass(frozen=True, slots=True)
class HeaterInfo:
    id: str
    probe: str = ""


@dataclass(frozen=True, slots=True)
class Instance:
    """What discovery needs to know about one running potwatch."""

    base_topic: str
    discovery_prefix: str
    version: str
    probes: tuple[ProbeInfo, ...] = ()
    page_url: str | None = None
    name: str = "potwatch"
    # False when MQTT commands are refused (a token is set without accept_commands): the
    # acknowledge button is then unavailable (``Topics.commands_availability``), never withdrawn;
    # each heater's control switch gives way to a force-off button (``off`` is taken anyway).
    commands: bool = True
    extra_stages: tuple[str, ...] = field(default=())
    rate_unit: str = "F"  # the rate sensor's: Home Assistant cannot convert a °/min it has no device class for
    heaters: tuple[HeaterInfo, ...] = ()

    @property
    def topics(self) -> Topics:
        return Topics(self.base_topic)

    @property
    def node_id(self) -> str:
        return node_id(self.base_topic)


def node_id(base_topic: str) -> str:
    """A discovery node id (``[a-zA-Z0-9_-]``) from the base topic: stable across restarts."""
    slug = re.sub(r"[^a-zA-Z0-9_-]+", "_", base_topic).strip("_")
    return slug or "potwatch"


def expire_after(stale_s: float, speed: float = 1.0) -> int:
    """Home Assistant's ``expire_after`` (real whole seconds, ≥ 1) for a stale timeout on the kitchen's clock."""
    return max(1, math.ceil(stale_s / speed))


def stage_options(extra: tuple[str, ...] = ()) -> list[str]:
    """Every stage any step can be in, plus ``idle``: the enum sensor's options."""
    names = {IDLE, *extra}
    for enum in (HoldStage, ReachStage, BoilStage):
        names.update(member.value for member in enum)
    return sorted(names)


def device(instance: Instance) -> dict[str, Any]:
    block: dict[str, Any] = {
        "identifiers": [f"potwatch_{instance.node_id}"],
        "name": instance.name,
        "manufacturer": MANUFACTURER,
        "model": MODEL,
        "sw_version": instance.version,
    }
    if instance.page_url:
        block["configuration_url"] = instance.page_url
    return block


def _entity(instance: Instance, object_id: str, name: str) -> dict[str, Any]:
    topics = instance.topics
    return {
        "name": name,
        "unique_id": f"potwatch_{instance.node_id}_{object_id}",
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device(instance),
        "origin": {"name": "potwatch", "sw_version": instance.version},
    }


def _available_when(config: dict[str, Any], instance: Instance, extra: dict[str, str]) -> None:
    """Available only while potwatch is online *and* ``extra`` says so (Home Assistant's availability list)."""
    for key in ("availability_topic", "payload_available", "payload_not_available"):
        del config[key]
    config["availability"] = [
        {"topic": instance.topics.availability, "payload_available": "online", "payload_not_available": "offline"},
        extra,
    ]
    config["availability_mode"] = "all"


def config_topic(instance: Instance, component: str, object_id: str) -> str:
    return f"{instance.discovery_prefix}/{component}/{instance.node_id}/{object_id}/config"


def config_wildcard(instance: Instance) -> str | None:
    """Every discovery topic this instance could ever have announced: what it reads back to clear ghosts."""
    if not instance.discovery_prefix:
        return None
    return f"{instance.discovery_prefix}/+/{instance.node_id}/+/config"


def probe_topics(instance: Instance) -> set[str]:
    """The retained per-probe and per-heater topics this instance publishes now; any other is a ghost."""
    topics = instance.topics
    probes = {t for p in instance.probes for t in (topics.probe(p.id), topics.probe_availability(p.id))}
    return probes | {topics.heater_state(h.id) for h in instance.heaters}


def _heater_entities(instance: Instance, heater: HeaterInfo) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Per heater: who holds the heat (a switch, or a force-off button), its duty, and the plug's state.

    Only what MQTT would take is announced. Where every override is taken, the switch: on hands
    the heat to potwatch (``auto``), off forces it off. With a token and no accept_commands the
    publisher refuses ``auto``: a switch would turn the heat off and then flip back to off without
    a word at every turn on, so it is not announced (the publisher clears its retained config as a
    ghost at its next connect) and a button that sends ``off``, always taken, stands in for it.
    Not the acknowledge button's way (one entity, unavailable while refused): an unavailable switch
    could not send the ``off`` that MQTT still takes, the one command a house-empty automation needs.
    """
    topics = instance.topics
    state = topics.heater_state(heater.id)
    if not instance.commands:
        return [
            ("button", f"heater_{heater.id}_off", _force_off_button(instance, heater)),
            *_heater_readings(instance, heater),
        ]
    control = _entity(instance, f"heater_{heater.id}_control", f"Heater {heater.id} control")
    control.update(
        command_topic=topics.heater_override(heater.id),
        payload_on=HEATER_AUTO,
        payload_off=HEATER_OFF,
        state_topic=state,
        # on while potwatch may heat (auto, or forced on from the page); off while forced off
        value_template=f"{{{{ '{HEATER_OFF}' if value_json.override == 'force_off' else '{HEATER_AUTO}' }}}}",
        state_on=HEATER_AUTO,
        state_off=HEATER_OFF,
        retain=False,
        qos=1,
        icon="mdi:radiator",
    )
    return [("switch", f"heater_{heater.id}_control", control), *_heater_readings(instance, heater)]


def _force_off_button(instance: Instance, heater: HeaterInfo) -> dict[str, Any]:
    """A press forces the heat off (the override ``off``), the one heater command MQTT takes with a token."""
    button = _entity(instance, f"heater_{heater.id}_off", f"Heater {heater.id} off")
    button.update(
        command_topic=instance.topics.heater_override(heater.id),
        payload_press=HEATER_OFF,
        retain=False,
        qos=1,
        icon="mdi:radiator-off",
    )
    return button


def _heater_readings(instance: Instance, heater: HeaterInfo) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The heater's duty and the plug's own state: read only, the same whatever commands are taken."""
    state = instance.topics.heater_state(heater.id)
    duty = _entity(instance, f"heater_{heater.id}_duty", f"Heater {heater.id} duty")
    duty.update(
        state_topic=state,
        value_template="{{ (value_json.duty * 100) | round(1) }}",
        unit_of_measurement="%",
        state_class="measurement",
        suggested_display_precision=0,
        icon="mdi:percent",
        qos=1,
    )
    heat = _entity(instance, f"heater_{heater.id}_heat", f"Heater {heater.id}")
    heat.update(
        state_topic=state,
        # what the plug itself says: the relay, not what potwatch asked of it
        value_template="{{ 'ON' if value_json.reported == 'on' else 'OFF' }}",
        payload_on="ON",
        payload_off="OFF",
        device_class="heat",
        json_attributes_topic=state,
        json_attributes_template=(
            "{{ {'commanded': value_json.on, 'reason': value_json.reason, 'available': value_json.available,"
            " 'override': value_json.override, 'probe': value_json.probe} | tojson }}"
        ),
        qos=1,
    )
    return [
        ("sensor", f"heater_{heater.id}_duty", duty),
        ("binary_sensor", f"heater_{heater.id}_heat", heat),
    ]


def entities(instance: Instance) -> list[tuple[str, str, dict[str, Any] | None]]:
    """``(component, object_id, config)`` for every entity; config None = withdraw it."""
    topics = instance.topics
    state = topics.cook_state
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    for probe in instance.probes:
        config = _entity(instance, f"probe_{probe.id}_temperature", f"{probe.label or probe.id} temperature")
        config.update(
            state_topic=topics.probe(probe.id),
            # a fault or lost probe has no temperature: "None" makes Home Assistant show "unknown"
            value_template="{{ value_json.celsius if value_json.state == 'ok' else None }}",
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
            suggested_display_precision=1,
            json_attributes_topic=topics.probe(probe.id),
            # QoS 1 like every other state topic: Home Assistant then answers each reading at once
            # (its PUBACK carries the ACK), so the broker's Nagle never holds the next one (docs/mqtt.md)
            qos=1,
        )
        # potwatch's own "lost" (at the stale timeout) makes the sensor unavailable at once: the lost
        # message itself would otherwise restart expire_after, and "unavailable" come only at twice it.
        _available_when(
            config,
            instance,
            {
                "topic": topics.probe_availability(probe.id),
                "payload_available": "online",
                "payload_not_available": "offline",
            },
        )
        if probe.expire_after_s is not None:
            config["expire_after"] = probe.expire_after_s
        out.append(("sensor", f"probe_{probe.id}_temperature", config))

    stage = _entity(instance, "stage", "Stage")
    stage.update(
        state_topic=state,
        value_template="{{ value_json.stage }}",
        device_class="enum",
        options=stage_options(instance.extra_stages),
        json_attributes_topic=state,
        json_attributes_template=(
            "{{ {'profile': value_json.profile, 'step': value_json.step, 'probe': value_json.probe,"
            " 'outcome': value_json.outcome} | tojson }}"
        ),
        icon="mdi:pot-steam",
        qos=1,
    )
    out.append(("sensor", "stage", stage))

    eta = _entity(instance, "eta", "Time to target")
    eta.update(
        state_topic=state,
        value_template="{{ value_json.eta_s }}",
        device_class="duration",
        unit_of_measurement="s",
        state_class="measurement",
        suggested_display_precision=0,
        json_attributes_topic=state,
        json_attributes_template="{{ {'eta_sigma_s': value_json.eta_sigma_s} | tojson }}",
        qos=1,
    )
    out.append(("sensor", "eta", eta))

    rate = _entity(instance, "rate", "Rate of rise")
    per_min = "rate_c_per_min" if instance.rate_unit == "C" else "rate_f_per_min"
    rate.update(
        state_topic=state,
        value_template=f"{{{{ value_json.{per_min} }}}}",
        unit_of_measurement=f"°{instance.rate_unit}/min",
        state_class="measurement",
        suggested_display_precision=1,
        icon="mdi:trending-up",
        qos=1,
    )
    out.append(("sensor", "rate", rate))

    target = _entity(instance, "target", "Target")
    target.update(
        state_topic=state,
        value_template="{{ value_json.target_c }}",
        device_class="temperature",
        unit_of_measurement="°C",
        # no suggested_display_precision: with none, Home Assistant rounds a converted state to the
        # precision it was sent with (107.22 °C → "225.00 °F"); with one, the state is the raw 224.996
        qos=1,
    )
    out.append(("sensor", "target", target))

    sugar = _entity(instance, "sugar_stage", "Sugar stage")
    sugar.update(
        state_topic=state,
        # never the text "None": Home Assistant 2024.3 showed a null rendered that way as the state
        value_template="{{ value_json.sugar_stage or '' }}",
        icon="mdi:candy",
        qos=1,
    )
    # no sugar stage (no cook, or a profile without them) is unavailable, in every release
    _available_when(
        sugar,
        instance,
        {"topic": state, "value_template": "{{ 'online' if value_json.sugar_stage else 'offline' }}"},
    )
    out.append(("sensor", "sugar_stage", sugar))

    active = _entity(instance, "active_alerts", "Active alerts")
    active.update(
        state_topic=state,
        value_template="{{ value_json.active_alerts }}",
        state_class="measurement",
        icon="mdi:alarm-light",
        json_attributes_topic=state,
        json_attributes_template="{{ {'alerts': value_json.alerts} | tojson }}",
        qos=1,
    )
    out.append(("sensor", "active_alerts", active))

    reached = _entity(instance, "target_reached", "Target reached")
    reached.update(
        state_topic=state,
        value_template="{{ 'ON' if value_json.target_reached else 'OFF' }}",
        payload_on="ON",
        payload_off="OFF",
        icon="mdi:bell-ring",
        qos=1,
    )
    out.append(("binary_sensor", "target_reached", reached))

    alert = _entity(instance, "alert", "Alert")
    alert.update(
        state_topic=topics.cook_alert,
        event_types=[kind.value for kind in AlertKind],
        icon="mdi:alarm",
        qos=1,
    )
    out.append(("event", "alert", alert))

    # Always announced, unavailable while commands are refused (a token without accept_commands):
    # withdrawing it would make a new entity of it each time, losing the user's name and area.
    button = _entity(instance, "ack", "Acknowledge alerts")
    button.update(
        command_topic=topics.ack_button,
        payload_press=ACK_PRESS,
        retain=False,
        qos=1,
        icon="mdi:bell-check",
    )
    _available_when(
        button,
        instance,
        {"topic": topics.commands_availability, "payload_available": "online", "payload_not_available": "offline"},
    )
    out.append(("button", "ack", button))
    for heater in instance.heaters:
        out += _heater_entities(instance, heater)
    return out


def announce(instance: Instance) -> list[Message]:
    """Every discovery message, retained; an empty payload withdraws an entity Home Assistant may still have."""
    if not instance.discovery_prefix:
        return []
    return [
        Message(
            config_topic(instance, component, object_id),
            "" if config is None else json.dumps(config, ensure_ascii=False, separators=(",", ":")),
            retain=True,
        )
        for component, object_id, config in entities(instance)
    ]


def probe_message(instance: Instance, probe: ProbeInfo) -> Message | None:
    """The discovery message of one probe's sensor alone (its expire_after changed)."""
    one = Instance(
        instance.base_topic,
        instance.discovery_prefix,
        instance.version,
        (probe,),
        instance.page_url,
        instance.name,
        instance.commands,
        instance.extra_stages,
        instance.rate_unit,
    )
    return next(
        (m for m in announce(one) if m.topic == config_topic(one, "sensor", f"probe_{probe.id}_temperature")), None
    )


def status_topic(instance: Instance) -> str | None:
    """Where Home Assistant announces itself (its birth message)."""
    return f"{instance.discovery_prefix}/status" if instance.discovery_prefix else None
