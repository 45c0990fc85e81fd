"""Heater URLs, Tasmota's PulseTime, Shelly's toggle_after, Zigbee's on_time and the plugs' payloads: pure tables.

The PulseTime table is Tasmota's own documented examples (Commands,
PulseTime: ``113`` = 13 s, ``460`` = 6 min, 1..111 in tenths), plus the
edges of each range.
"""

from __future__ import annotations

import pytest

from drivers.esphome_plug import EsphomePlug
from drivers.heater import HeaterUrlError, open_heater, parse_heater_url
from drivers.homeassistant_plug import HomeAssistantPlug, hold_for
from drivers.homeassistant_plug import set_payload as ha_set_payload
from drivers.mqtt_plug import Garbage, Ignore, MqttPlug, Online, Power, check_hold
from drivers.shelly_plug import ShellyPlug, switch_set
from drivers.sim_plug import tasmota_pulse_seconds
from drivers.tasmota_plug import TasmotaPlug, pulsetime_for, pulsetime_seconds
from drivers.z2m_plug import Z2mPlug, on_time_for, set_payload

GOOD = [
    # url, kind, host, port, target, tls, username
    ("mqtt://10.0.0.9:1883/kitchen_plug?kind=tasmota", "tasmota", "10.0.0.9", 1883, "kitchen_plug", False, None),
    ("mqtt://broker/kitchen_plug?kind=Tasmota", "tasmota", "broker", 1883, "kitchen_plug", False, None),
    ("mqtts://u:p%40ss@broker/kitchen_plug?kind=tasmota", "tasmota", "broker", 8883, "kitchen_plug", True, "u"),
    ("mqtt://[::1]:1884/shellyplug-a80?kind=shelly", "shelly", "::1", 1884, "shellyplug-a80", False, None),
    ("mqtt://broker:1883/home/shelly-stove?kind=shelly", "shelly", "broker", 1883, "home/shelly-stove", False, None),
    ("mqtt://broker/kitchen_plug?kind=z2m", "z2m", "broker", 1883, "kitchen_plug", False, None),
    ("mqtt://broker/kitchen/hob%20plug?kind=Z2M", "z2m", "broker", 1883, "kitchen/hob plug", False, None),
    ("mqtts://u:p@broker/kitchen-plug/relay?kind=esphome", "esphome", "broker", 8883, "kitchen-plug/relay", True, "u"),
    ("mqtt://broker/home/esp/kitchen/relay?kind=esphome", "esphome", "broker", 1883, "home/esp/kitchen/relay", False,
     None),
    ("mqtt://10.0.0.9:1883/hotplate?kind=homeassistant", "homeassistant", "10.0.0.9", 1883, "hotplate", False, None),
    ("mqtts://u:p@ha.local/hob_2?kind=HomeAssistant", "homeassistant", "ha.local", 8883, "hob_2", True, "u"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "kind", "host", "port", "target", "tls", "user"), GOOD)
def test_good_heater_urls_are_split_into_kind_broker_and_device(
    url: str, kind: str, host: str, port: int, target: str, tls: bool, user: str | None
) -> None:
    parsed = parse_heater_url(url)
    assert (parsed.kind, parsed.link.host, parsed.link.port, parsed.target) == (kind, host, port, target)
    assert (parsed.link.tls, parsed.link.username) == (tls, user)


def test_the_password_is_decoded_for_the_link_and_hidden_from_messages() -> None:
    parsed = parse_heater_url("mqtts://u:p%40ss@broker/kitchen_plug?kind=tasmota")
    assert parsed.link.password == "p@ss"
    assert "p%40ss" not in parsed.text and ":***@" in parsed.text
    with pytest.raises(HeaterUrlError) as caught:
        parse_heater_url("mqtt://u:secret@broker/kitchen_plug?kind=toaster")
    assert "secret" not in str(caught.value)


BAD = [
    # url, a fragment of the error that says what to do
    ("http://broker/kitchen_plug?kind=tasmota", "expected mqtt, mqtts or gpio"),
    ("kitchen_plug", "expected mqtt, mqtts or gpio"),
    ("mqtt:///kitchen_plug?kind=tasmota", "host is missing"),
    ("mqtt://broker:99999/kitchen_plug?kind=tasmota", "bad port"),
    ("mqtt://broker:abc/kitchen_plug?kind=tasmota", "bad port"),
    ("mqtt://broker:1883/?kind=tasmota", "Tasmota topic is missing"),
    ("mqtt://broker:1883?kind=shelly", "Shelly device id is missing"),
    ("mqtt://broker:1883/kitchen_plug", "?kind=tasmota or ?kind=shelly"),
    ("mqtt://broker:1883/kitchen_plug?kind=", "?kind=tasmota or ?kind=shelly"),
    ("mqtt://broker:1883/kitchen_plug?kind=sonoff", "is not one of tasmota, shelly"),
    ("mqtt://broker:1883/kitchen_plug?kind=tasmota&kind=shelly", "given twice"),
    ("mqtt://broker:1883/kitchen_plug?kind=tasmota&hold=30", "unknown option 'hold'"),
    ("mqtt://broker:1883/kitchen_plug?kind=tasmota&cafile=/ca.pem", "only applies to mqtts"),
    ("mqtt://broker:1883/tele/kitchen_plug/STATE?kind=tasmota", "Tasmota Topic alone"),
    ("mqtt://broker:1883/cmnd/+/POWER?kind=tasmota", "no MQTT wildcards"),
    ("mqtt://broker:1883/shellies/%23?kind=shelly", "no MQTT wildcards"),
    ("mqtt://broker:1883/kitchen#plug?kind=tasmota", "'#' has no place"),
    ("mqtt://broker:1883/home//stove?kind=shelly", "empty topic level"),
    ("mqtt://broker:1883/?kind=z2m", "Zigbee2MQTT friendly name is missing"),
    ("mqtt://broker:1883/kitchen_plug/set?kind=z2m", "friendly name alone"),
    ("mqtt://broker:1883/kitchen_plug/availability?kind=z2m", "friendly name alone"),
    ("mqtt://broker:1883/bridge?kind=z2m", "Zigbee2MQTT's own bridge"),
    ("mqtt://broker:1883/zigbee2mqtt/+?kind=z2m", "no MQTT wildcards"),
    ("mqtt://broker:1883/kitchen_plug?kind=z2m&base=", "give Zigbee2MQTT's base_topic"),
    ("mqtt://broker:1883/kitchen_plug?kind=z2m&base=z2m/%23", "give Zigbee2MQTT's base_topic"),
    ("mqtt://broker:1883/kitchen_plug?kind=z2m&base=/z2m", "empty topic level"),
    ("mqtt://broker:1883/kitchen_plug?kind=tasmota&base=z2m", "only applies to kind=z2m"),
    ("mqtt://broker:1883?kind=esphome", "ESPHome node and switch id is missing"),
    ("mqtt://broker:1883/kitchen-plug?kind=esphome", "the node and the switch's object id"),
    ("mqtt://broker:1883/kitchen-plug/relay/?kind=esphome", "empty topic level"),
    ("mqtt://broker:1883/kitchen_plug?kind=zigbee", "is not one of tasmota, shelly, z2m, esphome, homeassistant"),
    ("mqtt://broker:1883?kind=homeassistant", "Home Assistant bridge's name is missing"),
    ("mqtt://broker:1883/potwatch/ha-switch/hotplate?kind=homeassistant", "the bridge's name alone"),
    ("mqtt://broker:1883/switch.hotplate?kind=homeassistant", "not a topic or an entity id"),
    ("mqtt://broker:1883/hot+plate?kind=homeassistant", "no MQTT wildcards"),
    ("mqtt://broker:1883/hotplate?kind=homeassistant&base=x", "only applies to kind=z2m"),
]


@pytest.mark.parametrize(("url", "says"), BAD)
def test_bad_heater_urls_are_refused_saying_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(HeaterUrlError) as caught:
        parse_heater_url(url)
    assert says in str(caught.value), str(caught.value)


def test_open_heater_picks_the_driver_by_kind_and_opens_nothing() -> None:
    assert isinstance(open_heater("stove", "mqtt://127.0.0.1:1/kitchen_plug?kind=tasmota"), TasmotaPlug)
    assert isinstance(open_heater("stove", "mqtt://127.0.0.1:1/shellyplug-1?kind=shelly"), ShellyPlug)
    assert isinstance(open_heater("stove", "mqtt://127.0.0.1:1/kitchen_plug?kind=z2m"), Z2mPlug)
    assert isinstance(open_heater("stove", "mqtt://127.0.0.1:1/kitchen-plug/relay?kind=esphome"), EsphomePlug)
    assert isinstance(open_heater("stove", "mqtt://127.0.0.1:1/hotplate?kind=homeassistant"), HomeAssistantPlug)


def test_z2m_topics_follow_the_base_topic_and_the_friendly_name() -> None:
    plug = Z2mPlug("stove", parse_heater_url("mqtt://127.0.0.1:1/kitchen/plug?kind=z2m&base=home/z2m"))
    assert plug.topics == {
        "set": "home/z2m/kitchen/plug/set",
        "get": "home/z2m/kitchen/plug/get",
        "state": "home/z2m/kitchen/plug",
        "availability": "home/z2m/kitchen/plug/availability",
        "bridge": "home/z2m/bridge/state",
    }
    assert parse_heater_url("mqtt://127.0.0.1:1/kitchen_plug?kind=z2m").base == "zigbee2mqtt"
    assert parse_heater_url("mqtt://127.0.0.1:1/kitchen_plug?kind=tasmota").base is None


def test_esphome_topics_are_the_prefix_and_the_switch_id() -> None:
    plug = EsphomePlug("stove", parse_heater_url("mqtt://127.0.0.1:1/home/esp/kitchen/relay?kind=esphome"))
    assert plug.topics == {
        "command": "home/esp/kitchen/switch/relay/command",
        "state": "home/esp/kitchen/switch/relay/state",
        "status": "home/esp/kitchen/status",
    }


def test_home_assistant_topics_are_the_bridges_under_potwatch_ha_switch() -> None:
    """The topics the documented automations use (docs/heat-drivers.md), and Home Assistant's own status."""
    plug = HomeAssistantPlug("stove", parse_heater_url("mqtt://127.0.0.1:1/hotplate?kind=homeassistant"))
    assert plug.topics == {
        "set": "potwatch/ha-switch/hotplate/set",
        "get": "potwatch/ha-switch/hotplate/get",
        "state": "potwatch/ha-switch/hotplate/state",
        "status": "homeassistant/status",
    }
    assert plug.command_topics() == ["potwatch/ha-switch/hotplate/set"], "a retained …/set is found and cleared"


def test_home_assistant_set_carries_hold_s_with_on_only() -> None:
    assert ha_set_payload(True, 30.0) == {"state": "ON", "hold_s": 30}
    assert ha_set_payload(True, 2.5) == {"state": "ON", "hold_s": 2.5}
    assert ha_set_payload(False, 30.0) == {"state": "OFF"}


@pytest.mark.parametrize(("hold", "sent"), [(1.99, 1.9), (0.1, 0.1), (0.15, 0.1), (60.0, 60), (64800.0, 64800)])
def test_home_assistant_hold_s_rounds_down_to_a_tenth(hold: float, sent: float) -> None:
    got = hold_for(hold)
    assert got == sent and got <= hold


def test_z2m_set_carries_on_time_with_on_only_and_never_off_wait_time() -> None:
    """off_wait_time would make the device refuse the next timed ON: the re-arming."""
    assert set_payload(True, 30.0) == {"state": "ON", "on_time": 30}
    assert set_payload(True, 2.5) == {"state": "ON", "on_time": 2.5}
    assert set_payload(False, 30.0) == {"state": "OFF"}


ON_TIMES = [(1.99, 1.9), (0.1, 0.1), (60.0, 60), (6553.4, 6553.4), (64800.0, 6553.4)]


@pytest.mark.parametrize(("hold", "on_time"), ON_TIMES)
def test_z2m_on_time_rounds_down_and_is_capped_at_the_zcl_limit(hold: float, on_time: float) -> None:
    """Never longer than asked; beyond OnTime's 0xFFFE tenths it is cut short (sooner off is safe)."""
    got = on_time_for(hold)
    assert got == on_time and got <= hold


PULSETIMES = [
    # hold_s, PulseTime value: rounded down, so the plug never holds longer than asked
    (0.1, 1), (0.5, 5), (1.0, 10), (2.0, 20), (11.1, 111), (11.9, 111),
    (12.0, 112), (13.0, 113), (13.9, 113), (30.0, 130), (360.0, 460), (64800.0, 64900),
]  # fmt: skip


@pytest.mark.parametrize(("hold_s", "value"), PULSETIMES)
def test_pulsetime_is_tasmotas_units_and_never_longer_than_the_hold(hold_s: float, value: int) -> None:
    assert pulsetime_for(hold_s) == value
    assert pulsetime_seconds(value) <= hold_s + 1e-9


@pytest.mark.parametrize("hold_s", [hold for hold, _ in PULSETIMES])
def test_the_tasmota_double_reads_the_drivers_pulsetime_as_at_most_the_hold(hold_s: float) -> None:
    """The double's decoder is written from Tasmota's documentation on its own: the two must agree."""
    held = tasmota_pulse_seconds(pulsetime_for(hold_s))
    assert hold_s - 1.0 < held <= hold_s + 1e-9


@pytest.mark.parametrize("hold_s", [0.0, 0.05, -1.0, float("nan"), float("inf"), 64800.1, True])
def test_a_hold_the_plugs_cannot_keep_is_a_clear_error(hold_s: float) -> None:
    with pytest.raises(ValueError, match="hold_s"):
        check_hold(hold_s)


def test_shelly_switch_set_carries_toggle_after_with_on_only() -> None:
    """With OFF, toggle_after would flip the heat back *on* after S seconds."""
    on = switch_set(7, "potwatch-heater-stove-abc", True, 30.0)
    assert on == {
        "id": 7,
        "src": "potwatch-heater-stove-abc",
        "method": "Switch.Set",
        "params": {"id": 0, "on": True, "toggle_after": 30},
    }
    assert switch_set(8, "me", True, 2.5)["params"]["toggle_after"] == 2.5
    assert "toggle_after" not in switch_set(9, "me", False, 30.0)["params"]


@pytest.mark.parametrize(("hold", "after"), [(1.99, 1.9), (0.15, 0.1), (29.99, 29.9), (30.0, 30), (0.1, 0.1)])
def test_shelly_toggle_after_rounds_down_as_tasmota_does(hold: float, after: float) -> None:
    """Never longer than asked: 1.99 s is 1.9 s, not round()'s 2.0."""
    got = switch_set(1, "me", True, hold)["params"]["toggle_after"]
    assert got == after and got <= hold


PAYLOADS = [
    # kind, topic, payload, what it means (Garbage: dropped and counted)
    ("tasmota", "stat/kp/POWER", b"ON", Power(True)),
    ("tasmota", "stat/kp/POWER", b"OFF", Power(False)),
    ("tasmota", "stat/kp/POWER1", b"ON", Power(True)),
    ("tasmota", "stat/kp/POWER", b"on", Garbage),
    ("tasmota", "stat/kp/POWER", b"", Garbage),
    ("tasmota", "stat/kp/RESULT", b'{"POWER":"ON"}', Power(True)),
    ("tasmota", "stat/kp/RESULT", b'{"POWER1":"OFF"}', Power(False)),
    ("tasmota", "stat/kp/RESULT", b'{"PulseTime1":{"Set":130,"Remaining":0}}', Ignore()),
    ("tasmota", "stat/kp/RESULT", b'{"POWER":true}', Garbage),
    ("tasmota", "stat/kp/RESULT", b"{", Garbage),
    ("tasmota", "stat/kp/RESULT", b"[" * 200_000, Garbage),  # deeper than the parser's stack: RecursionError
    ("tasmota", "stat/kp/RESULT", b'{"PowerOnState":3}', Ignore()),
    ("tasmota", "stat/kp/RESULT", b'{"PowerOnState":"5"}', Garbage),
    ("tasmota", "tele/kp/STATE", b'{"a":' * 100_000, Garbage),
    ("tasmota", "tele/kp/STATE", b'{"Time":"2026-12-02T06:00:00","POWER":"OFF","Wifi":{"RSSI":44}}', Power(False)),
    ("tasmota", "tele/kp/STATE", b'"ON"', Garbage),
    ("tasmota", "tele/kp/STATE", b"\xff\xfe", Garbage),
    ("tasmota", "tele/kp/LWT", b"Online", Online(True)),
    ("tasmota", "tele/kp/LWT", b"Offline", Online(False)),
    ("tasmota", "tele/kp/LWT", b"online", Garbage),
    ("shelly", "kp/status/switch:0", b'{"id":0,"source":"MQTT","output":true,"apower":0.0}', Power(True)),
    ("shelly", "kp/status/switch:0", b'{"id":0,"output":false}', Power(False)),
    ("shelly", "kp/status/switch:0", b'{"id":0,"output":"on"}', Garbage),
    ("shelly", "kp/status/switch:0", b'{"id":0}', Garbage),
    ("shelly", "kp/status/switch:0", b"[true]", Garbage),
    ("shelly", "kp/status/switch:0", b"true", Garbage),
    ("shelly", "kp/status/switch:0", b"[" * 200_000, Garbage),
    ("shelly", "kp/online", b"true", Online(True)),
    ("shelly", "kp/online", b"false", Online(False)),
    ("shelly", "kp/online", b"1", Garbage),
    ("z2m", "zigbee2mqtt/kp", b'{"state":"ON","linkquality":120,"power":812.5}', Power(True)),
    ("z2m", "zigbee2mqtt/kp", b'{"state":"OFF"}', Power(False)),
    ("z2m", "zigbee2mqtt/kp", b'{"linkquality":120}', Ignore()),
    ("z2m", "zigbee2mqtt/kp", b'{"state":"on"}', Garbage),
    ("z2m", "zigbee2mqtt/kp", b'{"state":true}', Garbage),
    ("z2m", "zigbee2mqtt/kp", b'{"state":null}', Garbage),
    ("z2m", "zigbee2mqtt/kp", b"ON", Garbage),
    ("z2m", "zigbee2mqtt/kp", b"[" * 200_000, Garbage),
    ("z2m", "zigbee2mqtt/kp/availability", b'{"state":"online"}', Online(True)),
    ("z2m", "zigbee2mqtt/kp/availability", b'{"state":"offline"}', Online(False)),
    ("z2m", "zigbee2mqtt/kp/availability", b"online", Online(True)),
    ("z2m", "zigbee2mqtt/kp/availability", b"offline", Online(False)),
    ("z2m", "zigbee2mqtt/kp/availability", b'{"state":"Online"}', Garbage),
    ("z2m", "zigbee2mqtt/kp/availability", b"true", Garbage),
    ("z2m", "zigbee2mqtt/bridge/state", b'{"state":"online"}', Ignore()),
    ("z2m", "zigbee2mqtt/bridge/state", b"offline", Ignore()),
    ("z2m", "zigbee2mqtt/bridge/state", b"{}", Garbage),
    ("esphome", "kp/r/switch/relay/state", b"ON", Power(True)),
    ("esphome", "kp/r/switch/relay/state", b"OFF", Power(False)),
    ("esphome", "kp/r/switch/relay/state", b"on", Garbage),
    ("esphome", "kp/r/switch/relay/state", b"", Garbage),
    ("esphome", "kp/r/switch/relay/state", b"\xff\xfe", Garbage),
    ("esphome", "kp/r/status", b"online", Online(True)),
    ("esphome", "kp/r/status", b"offline", Online(False)),
    ("esphome", "kp/r/status", b"Online", Garbage),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"on", Power(True)),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"off", Power(False)),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"unavailable", Ignore()),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"unknown", Ignore()),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"ON", Garbage),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"", Garbage),
    ("homeassistant", "potwatch/ha-switch/kp/state", b"\xff\xfe", Garbage),
    ("homeassistant", "homeassistant/status", b"online", Online(True)),
    ("homeassistant", "homeassistant/status", b"offline", Online(False)),
    ("homeassistant", "homeassistant/status", b"Online", Garbage),
]
PLUGS: dict[str, type[MqttPlug]] = {
    "tasmota": TasmotaPlug,
    "shelly": ShellyPlug,
    "z2m": Z2mPlug,
    "esphome": EsphomePlug,
    "homeassistant": HomeAssistantPlug,
}
TARGETS = {"esphome": "kp/r/relay"}


@pytest.mark.parametrize(("kind", "topic", "payload", "meaning"), PAYLOADS)
def test_plug_payloads_mean_what_the_firmware_says(kind: str, topic: str, payload: bytes, meaning: object) -> None:
    url = parse_heater_url(f"mqtt://127.0.0.1:1/{TARGETS.get(kind, 'kp')}?kind={kind}")
    got = PLUGS[kind]("stove", url).read(topic, payload)
    assert isinstance(got, Garbage) if meaning is Garbage else got == meaning


def test_a_shelly_error_reply_is_counted_not_taken_for_a_state() -> None:
    plug = ShellyPlug("stove", parse_heater_url("mqtt://127.0.0.1:1/kp?kind=shelly"))
    replies = f"{plug.client_id}/rpc"
    assert plug.read(replies, b'{"id":1,"src":"dev","result":{"was_on":false}}') == Ignore()
    assert plug.read(replies, b'{"id":2,"src":"dev","error":{"code":-103,"message":"bad"}}') == Ignore()
    assert plug.rpc_errors == 1 and plug.last_error is not None and "-103" in plug.last_error
    assert isinstance(plug.read(replies, b"nope"), Garbage)
