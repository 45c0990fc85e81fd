"""potwatch against a real Home Assistant Core, on one real Mosquitto.

What a Home Assistant user sees, judged by Home Assistant itself: its REST API
(``/api/states``, ``/api/services``) and its log, never potwatch's own idea of
what it published. The entities expected are read back from the broker (the
retained discovery configs potwatch left there), so a new entity is covered
without editing this file. Every test ends by reading Home Assistant's whole
log so far: no WARNING or ERROR may mention potwatch or MQTT.

Timings come from the clocks of the two processes that saw them: potwatch's
``acked_at`` and Home Assistant's ``last_changed`` against the wall-clock
moment the test signalled or pressed (one machine, one clock). They are
recorded as JUnit properties.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import yaml

from tests.support.broker import Broker, Publisher, retained_now
from tests.support.home_assistant import HomeAssistant, announced, documented_automations, friendly_name, release
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.real_part("home-assistant")

ENTITIES_TIMEOUT_S = 60.0
# no unavailability timer is involved: potwatch's "offline" (SIGTERM) or the broker's will (SIGKILL)
AVAILABILITY_LIMIT_S = 5.0
ACK_LIMIT_S = 2.0
# the first Home Assistant release whose MQTT sensor keeps an enum's options
SENSOR_OPTIONS = (2024, 9)
# a log line about potwatch: its entities, MQTT, or a template (potwatch's value templates)
ABOUT_US = ("potwatch", "mqtt", "template", "value_json")
NOISY = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class _Steady(threading.Thread):
    """The thermometer between the test's own writes: the last value again every second.

    A probe that falls silent is lost at its stale timeout, and then (rightly) unavailable in
    Home Assistant; these tests restart potwatch, the broker and Home Assistant, which takes
    longer than that timeout, and the pot in them is not meant to have gone quiet.
    """

    def __init__(self, device: PtyDevice) -> None:
        super().__init__(daemon=True)
        self.device, self.value = device, 100.0
        self.quiet = threading.Event()  # set while a ramp writes by itself
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            if not self.quiet.is_set():
                try:
                    self.device.write(f"{self.value:.2f}\n".encode())
                except OSError:  # the test is over and its pty closed
                    self.stopped.set()


_steady: dict[int, _Steady] = {}


@pytest.fixture(autouse=True)
def _no_steady_writer_outlives_its_test() -> Iterator[None]:
    """A writer left running would feed its old readings to the next test's potwatch."""
    yield
    for steady in _steady.values():
        steady.stopped.set()
        steady.join(5)
    _steady.clear()


def _steady_for(device: PtyDevice) -> _Steady:
    steady = _steady.get(id(device))
    if steady is None or steady.stopped.is_set() or steady.device is not device:
        steady = _steady[id(device)] = _Steady(device)
        steady.start()
    return steady


def prime(service: ServiceProcess, device: PtyDevice) -> None:
    """Write readings until the serial driver has the port open and one is through; then keep the probe alive."""
    steady = _steady_for(device)

    def through() -> bool:
        device.write(f"{steady.value:.2f}\n".encode())
        return bool(service.get("/api/status")["probes"][0]["state"] == "ok")

    wait_until(through, 20, "the serial driver to deliver a reading", every=0.2)


def ramp(device: PtyDevice, start_f: float, end_f: float, step_f: float = 0.1) -> None:
    steady = _steady_for(device)
    steady.quiet.set()
    try:
        value = start_f
        while value <= end_f:
            device.write(f"{value:.2f}\n".encode())
            steady.value = value
            value += step_f
            time.sleep(0.01)
    finally:
        steady.quiet.clear()


def potwatch_configs(broker: Broker) -> dict[str, dict[str, Any]]:
    """What potwatch announced, by the name Home Assistant gives it."""
    configs = announced(broker)
    ours = [c for c in configs.values() if c.get("origin", {}).get("name") == "potwatch"]
    return {friendly_name(c): c for c in ours}


def entities_of(hass: HomeAssistant, names: set[str], ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Home Assistant's state of every entity in ``names`` (MQTT's only), once each one is ``ready``."""

    def look() -> dict[str, Any] | None:
        mqtt = set(hass.mqtt_entities())
        states = {s["attributes"].get("friendly_name"): s for e, s in hass.states().items() if e in mqtt}
        found = {name: states[name] for name in names if name in states}
        return found if len(found) == len(names) and all(ready(s) for s in found.values()) else None

    def missing() -> str:
        mqtt = set(hass.mqtt_entities())
        have = {s["attributes"].get("friendly_name"): s["state"] for e, s in hass.states().items() if e in mqtt}
        return f"entities {sorted(names)} in Home Assistant; it has {have}\n{hass.output()}"

    found: dict[str, Any] = wait_until(look, ENTITIES_TIMEOUT_S, missing, every=0.2)
    return found


def available(state: dict[str, Any]) -> bool:
    return bool(state["state"] != "unavailable")


_conditional_seen: set[str] = set()


def announced_available(configs: dict[str, dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """Available, except an entity whose own availability follows a value that does not apply yet.

    The sugar stage is unavailable while no sugar stage applies (a pot at 100 °F): its discovery
    gives an availability entry with a value template, and Home Assistant following it is right.
    """
    conditional = {
        name
        for name, config in configs.items()
        if any("value_template" in entry for entry in config.get("availability", []))
    } or set(_conditional_seen)  # read while the broker had just lost its retained configs: the last known
    _conditional_seen.update(conditional)

    def ready(state: dict[str, Any]) -> bool:
        return available(state) or state["attributes"].get("friendly_name") in conditional

    return ready


def unavailable(state: dict[str, Any]) -> bool:
    return not available(state)


def assert_quiet_log(hass: HomeAssistant) -> None:
    """No warning or error in Home Assistant's log about potwatch or MQTT (discovery, templates, payloads)."""
    noisy = [
        line
        for line in hass.log().splitlines()
        if NOISY.search(line) and any(word in line.lower() for word in ABOUT_US)
    ]
    assert not noisy, "Home Assistant logged:\n" + "\n".join(noisy)


def test_every_entity_appears_with_its_class_and_unit(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[[PtyDevice], ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    record_property("home_assistant_version", home_assistant.version)
    service = potwatch_for(device).start()
    prime(service, device)
    configs = wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker")
    states = entities_of(home_assistant, set(configs), announced_available(configs))
    mqtt_names = {
        s["attributes"].get("friendly_name")
        for e, s in home_assistant.states().items()
        if e in set(home_assistant.mqtt_entities())
    }
    assert mqtt_names == set(configs), "Home Assistant has MQTT entities potwatch did not announce"
    for name, config in configs.items():
        attributes = states[name]["attributes"]
        assert attributes.get("device_class") == config.get("device_class"), name
        assert attributes.get("unit_of_measurement") == config.get("unit_of_measurement"), name
        if "options" in config:
            # an MQTT sensor's options arrived in Home Assistant 2024.9; older ones drop the key (docs/mqtt.md)
            kept = release(home_assistant.version) >= SENSOR_OPTIONS
            assert attributes.get("options") == (config["options"] if kept else None), name
        if "event_types" in config:
            assert attributes.get("event_types") == config["event_types"], name
    # the reading itself arrives, in Home Assistant's (metric) unit: 100 °F on the pty
    temperature = next(n for n, c in configs.items() if c.get("device_class") == "temperature" and "expire_after" in c)
    reading = entities_of(home_assistant, {temperature}, lambda s: s["state"] not in ("unknown", "unavailable"))
    assert float(reading[temperature]["state"]) == pytest.approx((100 - 32) * 5 / 9, abs=0.01)
    assert_quiet_log(home_assistant)


def test_on_an_imperial_home_assistant_the_target_reads_225_and_the_rate_its_unit(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[..., ServiceProcess],
) -> None:
    """Home Assistant converts the °C target itself: 107.22 °C must not come out as 224.996 °F.

    A potwatch instance of its own: Home Assistant fixes a temperature entity's
    unit when it first registers it, so the entities the metric tests made stay °C.
    """
    home_assistant.unit_system = "us_customary"
    home_assistant.restart()
    service = potwatch_for(device, mqtt='instance = "imperial"\n')
    try:
        service.start()
        prime(service, device)

        def announced_here() -> dict[str, dict[str, Any]]:
            return {n: c for n, c in potwatch_configs(ha_broker).items() if "_imperial_" in c.get("unique_id", "")}

        configs = wait_until(announced_here, 10, "the imperial instance's discovery on the broker")
        target = next(n for n, c in configs.items() if c["unique_id"].endswith("_target"))
        rate = next(n for n, c in configs.items() if c["unique_id"].endswith("_rate"))
        states = entities_of(home_assistant, {target, rate}, lambda s: s["state"] not in ("unknown", "unavailable"))
        shown = states[target]["state"]
        assert states[target]["attributes"]["unit_of_measurement"] == "°F"
        assert float(shown) == pytest.approx(225.0, abs=0.005) and len(shown.partition(".")[2]) <= 2, shown
        assert states[rate]["attributes"]["unit_of_measurement"] == "°F/min"  # [mqtt] unit's default
        assert_quiet_log(home_assistant)
    finally:
        if service.proc is not None and service.proc.poll() is None:
            service.stop()
        # this instance's retained topics must not haunt the next tests on this broker
        cleaner = Publisher(ha_broker)
        for topic, config in announced(ha_broker).items():
            if "_imperial_" in config.get("unique_id", ""):
                cleaner.clear_retained(topic)
        for topic in retained_now(ha_broker, "potwatch/imperial/#"):
            cleaner.clear_retained(topic)
        cleaner.close()
        home_assistant.unit_system = "metric"
        home_assistant.restart()


def test_availability_follows_sigterm_and_sigkill(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[[PtyDevice], ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    service = potwatch_for(device).start()
    prime(service, device)
    names = set(wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker"))
    entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))

    for sig in (signal.SIGTERM, signal.SIGKILL):
        signalled = time.time()
        service.stop(sig)
        gone = entities_of(home_assistant, names, unavailable)
        after_s = max(epoch(s["last_changed"]) for s in gone.values()) - signalled
        record_property(f"ha_unavailable_after_{sig.name.lower()}_ms", round(after_s * 1000, 1))
        assert after_s < AVAILABILITY_LIMIT_S, f"{sig.name}: unavailable only {after_s:.3f} s later"

        started = time.time()
        service.start()
        back = entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))
        returned_s = max(epoch(s["last_changed"]) for s in back.values()) - started
        record_property(f"ha_available_after_start_following_{sig.name.lower()}_ms", round(returned_s * 1000, 1))
        prime(service, device)
    assert_quiet_log(home_assistant)


def test_the_acknowledge_button_acks_the_alert(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[[PtyDevice], ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    service = potwatch_for(device).start()
    prime(service, device)
    configs = wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker")
    button_name = next(n for n, c in configs.items() if "payload_press" in c)
    event_name = next(n for n, c in configs.items() if "event_types" in c)
    entity_ids = {
        s["attributes"]["friendly_name"]: e
        for e, s in entities_of(home_assistant, set(configs), announced_available(configs)).items()
        for e in [s["entity_id"]]
    }

    ramp(device, 222.0, 228.0)

    def raised() -> dict[str, Any] | None:
        alerts = service.get("/api/status")["alerts"]
        return next((a for a in alerts if a["kind"] == "target_reached" and a["active"]), None)

    alert = wait_until(raised, 20, lambda: f"a target_reached alert\n{service.log()}")
    assert alert["level"] == "critical" and not alert["acked"]
    # Home Assistant's event entity saw that very alert
    entities_of(home_assistant, {event_name}, lambda s: s["attributes"].get("id") == alert["id"])

    pressed = time.time()
    home_assistant.call("button", "press", {"entity_id": entity_ids[button_name]})

    def acked() -> dict[str, Any] | None:
        alerts = service.get("/api/status")["alerts"]
        return next((a for a in alerts if a["id"] == alert["id"] and a["acked"]), None)

    done = wait_until(acked, 10, lambda: f"the alert acked by Home Assistant's button\n{service.log()}")
    latency_s = epoch(done["acked_at"]) - pressed
    record_property("ha_button_ack_latency_ms", round(latency_s * 1000, 1))
    assert not done["active"]
    assert latency_s < ACK_LIMIT_S, f"the ack took {latency_s:.3f} s"
    assert_quiet_log(home_assistant)


def test_entities_come_back_after_the_broker_and_home_assistant_restart(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[[PtyDevice], ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    service = potwatch_for(device).start()
    prime(service, device)
    names = set(wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker"))
    entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))

    # killed, the broker comes back without its retained messages (persistence is off): potwatch sends them again
    ha_broker.kill()
    entities_of(home_assistant, names, unavailable)
    started = time.time()
    ha_broker.start()
    back = entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))
    record_property(
        "ha_available_after_broker_start_ms",
        round((max(epoch(s["last_changed"]) for s in back.values()) - started) * 1000, 1),
    )
    assert potwatch_configs(ha_broker).keys() == names, "potwatch did not announce everything again"

    started = time.time()
    home_assistant.restart()
    back = entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))
    record_property("ha_restart_s", round(home_assistant.started_in_s, 1))
    record_property(
        "ha_available_after_ha_start_ms",
        round((max(epoch(s["last_changed"]) for s in back.values()) - started) * 1000, 1),
    )
    assert_quiet_log(home_assistant)


def test_a_removed_probe_leaves_no_ghost_entity(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[..., ServiceProcess],
) -> None:
    spare = '[[probes]]\nid = "spare"\nlabel = "Spare pot"\nurl = "sim://"\n'
    service = potwatch_for(device, spare).start()
    prime(service, device)
    with_spare = set(wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker"))
    entities_of(home_assistant, with_spare, announced_available(potwatch_configs(ha_broker)))
    service.stop()

    service = potwatch_for(device).start()  # the spare probe taken out of the config
    try:
        prime(service, device)
        wait_until(
            lambda: set(potwatch_configs(ha_broker)) < with_spare,
            20,
            lambda: f"the spare's discovery cleared from the broker; it holds {sorted(potwatch_configs(ha_broker))}",
        )
        gone = with_spare - set(potwatch_configs(ha_broker))
        wait_until(
            lambda: not gone & {s["attributes"].get("friendly_name") for s in home_assistant.states().values()},
            20,
            lambda: f"Home Assistant to drop {sorted(gone)}",
        )
        # the entity went before its state was emptied: no template or JSON error over it
        assert_quiet_log(home_assistant)
    finally:
        service.stop()
        # whatever potwatch left behind must not haunt the next tests on this broker
        leftovers = [t for t, c in announced(ha_broker).items() if "spare" in c.get("unique_id", "")]
        cleaner = Publisher(ha_broker)
        for topic in [*leftovers, "potwatch/probe/spare/temperature"]:
            cleaner.clear_retained(topic)
        cleaner.close()


PHONE = "notify.mobile_app_my_phone"


def phone_acks(hass: HomeAssistant) -> list[str]:
    """The alert id of each "Got it" action on the notifications the phone got, in order."""
    found: list[str] = []
    for call in hass.stand_in_calls(PHONE):
        actions = call.get("data", {}).get("actions", [])
        found += [a["action"].removeprefix("POTWATCH_ACK_") for a in actions if a["action"].startswith("POTWATCH_ACK_")]
    return found


def load_documented_automations(home_assistant: HomeAssistant) -> list[dict[str, Any]]:
    """The docs' automations for this release, in Home Assistant's automations.yaml, loaded and listed."""
    automations = documented_automations(home_assistant.version)
    home_assistant.automations_path.write_text(yaml.safe_dump(automations, allow_unicode=True, sort_keys=False))
    home_assistant.call("automation", "reload", {})
    aliases = {a["alias"] for a in automations}

    def loaded() -> bool:
        names = {s["attributes"].get("friendly_name") for e, s in home_assistant.states().items()}
        return aliases <= names

    wait_until(loaded, 30, f"Home Assistant to load the documented automations {sorted(aliases)}")
    return automations


def test_got_it_on_the_phone_acks_that_alert_through_the_documented_automation(
    home_assistant: HomeAssistant,
    device: PtyDevice,
    potwatch_for: Callable[[PtyDevice], ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    """The phone's notification action arrives as a mobile_app event; the docs turn it into an ack."""
    load_documented_automations(home_assistant)
    service = potwatch_for(device).start()
    prime(service, device)
    ramp(device, 222.0, 228.0)

    def raised() -> dict[str, Any] | None:
        alerts = service.get("/api/status")["alerts"]
        return next((a for a in alerts if a["level"] == "critical" and a["active"] and not a["acked"]), None)

    alert = wait_until(raised, 20, lambda: f"a critical alert\n{service.log()}")
    # the notification the automation sent the phone, with its "Got it" action for that alert
    wait_until(lambda: alert["id"] in phone_acks(home_assistant), 10, "the phone notified of the alert")
    # what the companion app fires when "Got it" is tapped on it
    tapped = time.time()
    home_assistant.post("/api/events/mobile_app_notification_action", {"action": f"POTWATCH_ACK_{alert['id']}"})

    def acked() -> dict[str, Any] | None:
        alerts = service.get("/api/status")["alerts"]
        return next((a for a in alerts if a["id"] == alert["id"] and a["acked"]), None)

    done = wait_until(acked, 10, lambda: f"the alert acked from the phone's action\n{service.log()}")
    record_property("ha_phone_ack_latency_ms", round((epoch(done["acked_at"]) - tapped) * 1000, 1))
    # another action of the same app is none of potwatch's business
    home_assistant.post("/api/events/mobile_app_notification_action", {"action": "OPEN_GARAGE"})
    assert_quiet_log(home_assistant)


def test_the_documented_automation_fires_once_per_critical_alert_across_restarts(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[[PtyDevice], ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    """Counted on the phone: the notifications the automation sent, each naming the alert it acks."""
    load_documented_automations(home_assistant)
    before = len(phone_acks(home_assistant))

    def notified() -> list[str]:
        return phone_acks(home_assistant)[before:]

    service = potwatch_for(device).start()
    prime(service, device)
    names = set(wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker"))
    entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))

    def critical() -> dict[str, str]:
        return {a["id"]: a["kind"] for a in service.get("/api/status")["alerts"] if a["level"] == "critical"}

    ramp(device, 222.0, 226.0)  # the caramel reaches its 225 °F target: target_reached, critical
    reached = wait_until(critical, 20, lambda: f"a critical alert\n{service.log()}")
    wait_until(lambda: set(notified()) >= set(reached), 10, "the phone notified of the critical alert")

    service.stop(signal.SIGTERM)
    entities_of(home_assistant, names, unavailable)
    service.start()
    prime(service, device)
    entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))

    ha_broker.kill()
    entities_of(home_assistant, names, unavailable)
    ha_broker.start()
    entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))

    home_assistant.restart()
    entities_of(home_assistant, names, announced_available(potwatch_configs(ha_broker)))

    # A fence: one more real critical alert (past the 230 °F overshoot). The automation runs
    # queued, in the order its triggers came, so once the phone has this one, anything a
    # restart set off has reached the phone too.
    ramp(device, 226.0, 231.0)

    def overshot() -> dict[str, str] | None:
        found = critical()
        return found if "target_overshoot" in found.values() else None

    raised = wait_until(overshot, 20, lambda: f"the overshoot alert\n{service.log()}")
    overshoot = next(i for i, kind in raised.items() if kind == "target_overshoot")
    wait_until(lambda: overshoot in notified(), 10, "the phone notified of the overshoot")
    record_property("ha_phone_notifications", len(notified()))
    record_property("ha_critical_alerts", len(raised))
    assert sorted(notified()) == sorted(raised), (
        f"the phone was notified of {notified()} for the critical alerts {raised}"
    )
    assert_quiet_log(home_assistant)


def test_a_heater_is_a_control_switch_a_duty_and_the_plugs_heat_and_the_switch_turns_it_off(
    home_assistant: HomeAssistant,
    ha_broker: Broker,
    device: PtyDevice,
    potwatch_for: Callable[..., ServiceProcess],
    record_property: Callable[[str, object], None],
) -> None:
    """Pass: with a Tasmota plug double heating the caramel (the probe at 100 °F, far below 225 °F), Home
    Assistant shows the heater's control switch on, the plug's heat on, the duty as a number of %; turning
    the switch off (Home Assistant's own service call) opens the plug's relay within 2 s and the switch
    reads off from potwatch's state; turning it on hands the heat back (the relay closes again); nothing
    about potwatch or MQTT in Home Assistant's log (the heater templates render)."""
    heater = (
        f'[[heaters]]\nid = "hob"\nurl = "{ha_broker.url("ha_plug", "kind=tasmota")}"\nprobe = "pot"\n'
        'min_on = "1s"\nmin_off = "1s"\n'
    )
    with TasmotaDouble(ha_broker, "ha_plug") as plug:
        service = potwatch_for(device, heater).start()
        prime(service, device)
        wait_until(lambda: plug.relay_on, 20, lambda: f"the plug on\n{service.log()}")
        configs = wait_until(lambda: potwatch_configs(ha_broker), 10, "potwatch's discovery on the broker")
        names = {n: c for n, c in configs.items() if "Heater hob" in n}
        control = next(n for n, c in names.items() if c.get("command_topic", "").endswith("/override"))
        heat = next(n for n, c in names.items() if c.get("device_class") == "heat")
        duty = next(n for n, c in names.items() if c.get("unit_of_measurement") == "%")
        states = entities_of(
            home_assistant, {control, heat, duty}, lambda s: s["state"] not in ("unavailable", "unknown")
        )
        assert states[control]["state"] == "on" and states[heat]["state"] == "on", states
        assert 0.0 <= float(states[duty]["state"]) <= 100.0, states[duty]
        assert states[heat]["attributes"]["reason"].startswith("heating to target"), states[heat]

        switch_id = states[control]["entity_id"]
        asked = time.monotonic()
        home_assistant.call("switch", "turn_off", {"entity_id": switch_id})
        wait_until(lambda: not plug.relay_on, 5, lambda: f"the plug off by Home Assistant\n{service.log()}")
        off_at = plug.switched_off_at()
        assert off_at is not None
        record_property("ha_heater_off_latency_ms", round((off_at - asked) * 1000, 1))
        assert off_at - asked < ACK_LIMIT_S, off_at - asked
        entities_of(home_assistant, {control}, lambda s: s["state"] == "off")
        assert service.get("/api/status")["heaters"][0]["override"] == "force_off"

        home_assistant.call("switch", "turn_on", {"entity_id": switch_id})
        wait_until(lambda: plug.relay_on, 5, lambda: f"the heat handed back by Home Assistant\n{service.log()}")
        entities_of(home_assistant, {control}, lambda s: s["state"] == "on")
        assert_quiet_log(home_assistant)
