"""The configuration file: a closed, documented model validated once at start-up.

Temperatures and durations are strings with their unit and are turned into
°C and seconds here, once; nothing downstream sees a unit string. Every
mistake is reported as ``file: key.path: what is wrong``, all at once, so a
Pi owner fixes the file in one go instead of one restart per typo.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers.barometer import barometer_settings
from drivers.base import ProbeError
from drivers.heater import HEATER_ID, HeaterUrlError, heater_identity
from drivers.registry import check_probe_url
from service.core.cook import ProbeSetup
from service.core.heat.params import HeatParams, HoldLaw
from service.core.units import (
    parse_altitude,
    parse_duration,
    parse_temperature,
    parse_temperature_delta,
    pressure_to_hpa,
)


def _needs_text(kind: str, example: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, bool | int | float):
            raise ValueError(f"a bare number is ambiguous: write the {kind} with its unit, like {example}")
        return value

    return check


_BARE_NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d+)?\s*")


def _unit_missing(value: Any, units: tuple[str, str]) -> None:
    """``"225"``: a number in quotes still says neither °F nor °C (the most common slip)."""
    if isinstance(value, str) and _BARE_NUMBER.fullmatch(value):
        number = value.strip()
        raise ValueError(f'{value!r} has no unit: write "{number}{units[0]}" or "{number}{units[1]}"')


def _temperature(value: Any) -> float:
    _needs_text("temperature", '"225F" or "107.2C"')(value)
    _unit_missing(value, ("F", "C"))
    return parse_temperature(value)


def _temperature_delta(value: Any) -> float:
    _needs_text("temperature difference", '"5F" or "2.8C"')(value)
    _unit_missing(value, ("F", "C"))
    return parse_temperature_delta(value)


def _not_negative(value: Any) -> None:
    """``"-5s"`` has its unit: say what is wrong with it, not that a unit is missing."""
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"a duration cannot be negative, got {value!r}")


def _duration(value: Any) -> float:
    _needs_text("duration", '"15s", "90min" or "2h"')(value)
    _unit_missing(value, ("s", "min"))
    _not_negative(value)
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"a duration must be longer than zero, got {value!r}")
    return seconds


# Water boils at 100 °C at sea level and near 81.5 °C at 5,500 m, the highest
# kitchen the altitude check takes; a probe that reads a few degrees off is what
# a measured boil is for. Outside this, it is no boil (a candy target, a typo).
BOIL_RANGE_C = (75.0, 110.0)


def _boil(value: Any) -> float:
    celsius = _temperature(value)
    low, high = BOIL_RANGE_C
    if not low <= celsius <= high:
        raise ValueError(
            f"where this probe says water boils is between 167F and 230F (75-110C): 212F at sea level, "
            f"about 180F at 5,500 m; got {value!r}"
        )
    return celsius


def _altitude(value: Any) -> float:
    _needs_text("altitude", '"5000ft" or "1500m"')(value)
    return parse_altitude(value)


def _lag(value: Any) -> float:
    _needs_text("time constant", '"15s"')(value)
    _unit_missing(value, ("s", "min"))
    _not_negative(value)
    seconds = parse_duration(value)
    if not 0.0 <= seconds <= 120.0:
        raise ValueError(f"a probe's time constant is between 0 s and 2 min, got {value!r}")
    return seconds


# MQTT's keepalive is whole seconds (a 16-bit field). Under 2 s a busy Pi or
# broker misses a ping for nothing; beyond 65535 s the protocol cannot say it.
KEEPALIVE_RANGE_S = (2, 65535)


def _keepalive(value: Any) -> int:
    seconds = _duration(value)
    low, high = KEEPALIVE_RANGE_S
    if seconds != int(seconds) or not low <= seconds <= high:
        raise ValueError(f"the MQTT keepalive is whole seconds from {low} s to {high} s, got {value!r}")
    return int(seconds)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'port'?`` for a near miss, else "": a typo is fixed in one read."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def plain_pattern(regex: str, words: str) -> AfterValidator:
    """A pattern check that says what is expected in words, not in pydantic's regex wording."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{words}, not {value!r}")
        return value

    return AfterValidator(check)


ProbeId = Annotated[
    str, plain_pattern(r"[A-Za-z0-9_-]{1,32}", 'a probe id is 1 to 32 letters, digits, "-" or "_" (like "pot")')
]
HeaterId = Annotated[str, plain_pattern(HEATER_ID, 'a heater id is 1 to 32 letters, digits, "-" or "_" (like "hob")')]
Altitude = Annotated[float, BeforeValidator(_altitude)]
Lag = Annotated[float, BeforeValidator(_lag)]
Temperature = Annotated[float, BeforeValidator(_temperature)]
Boil = Annotated[float, BeforeValidator(_boil)]
TemperatureDelta = Annotated[float, BeforeValidator(_temperature_delta)]
Duration = Annotated[float, BeforeValidator(_duration)]
Keepalive = Annotated[int, BeforeValidator(_keepalive)]


def _duration_or_zero(value: Any) -> float:
    """A relay's minimum time or an anticipation may be "0s": none."""
    _needs_text("duration", '"30s" or "0s"')(value)
    _unit_missing(value, ("s", "min"))
    _not_negative(value)
    return parse_duration(value)


DurationOrZero = Annotated[float, BeforeValidator(_duration_or_zero)]


class KeyedError(ValueError):
    """A check across a table that is about one of its keys: the problem line names that key.

    Raised from a model validator, pydantic would place it on the table itself
    (``(top level): probe id 'pot' is used twice``); ``validation_problems``
    adds ``loc`` to the table's location instead (``probes[1].id: …``).
    """

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Model):
    host: str = Field("0.0.0.0", description="address to listen on; 0.0.0.0 = every interface of the Pi")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the phone page and the API")
    token: str = Field("", description="when set, every POST needs 'Authorization: Bearer <token>'")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="more names the service answers to (a reverse proxy's), for the same-origin check of commands",
    )
    tls: str = Field(
        "",
        description='"" = plain http; "self-signed" = make and keep a certificate; "files" = tls_cert/tls_key',
    )
    tls_cert: str = Field("", description='PEM certificate (with tls = "files")')
    tls_key: str = Field("", description='PEM private key (with tls = "files")')

    @field_validator("tls")
    @classmethod
    def _tls_kind(cls, value: str) -> str:
        if value not in ("", "self-signed", "files"):
            hint = did_you_mean(value, ("self-signed", "files"))
            raise ValueError(f'tls must be "", "self-signed" or "files", got {value!r}{hint}')
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> ServerConfig:
        if self.tls == "files":
            missing = [key for key in ("tls_cert", "tls_key") if not getattr(self, key)]
            if missing:
                raise KeyedError((missing[0],), 'tls = "files" needs tls_cert and tls_key (PEM files)')
        return self


class StorageConfig(Model):
    path: str = Field("potwatch.db", description="SQLite file; relative to the state directory")
    state_dir: str = Field("", description="state directory; empty = $STATE_DIRECTORY or ~/.local/state/potwatch")
    retention_days: int | None = Field(None, ge=1, description="forget cooks older than this; empty = keep all")


INSTANCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class MqttConfig(Model):
    url: str = Field(..., description="mqtt://user:pass@host:1883 (mqtts:// for TLS)")
    instance: str | None = Field(
        None,
        description='a second potwatch on the same broker: "kitchen" names its Home Assistant device '
        '"potwatch kitchen" and its base topic "potwatch/kitchen"; lowercase letters, digits, - and _',
    )
    base_topic: str = Field("potwatch", min_length=1, description='default "potwatch", or "potwatch/<instance>"')
    discovery_prefix: str = Field("homeassistant", description='"" turns Home Assistant discovery off')
    unit: str = Field(
        "F",
        description='"F" or "C": the Home Assistant rate-of-rise sensor\'s unit (°F/min or °C/min); '
        "temperatures Home Assistant converts by itself",
    )
    accept_commands: bool = Field(False, description="with a token set, accept acks on MQTT only if true")
    keepalive: Keepalive = Field(
        10,
        description='"10s": a silently dead link is noticed within 1.5 x this, when the broker also publishes the will',
    )

    @model_validator(mode="before")
    @classmethod
    def _instance_base_topic(cls, data: Any) -> Any:
        """An instance without a base topic of its own gets ``potwatch/<instance>``: two never share topics."""
        if isinstance(data, dict) and data.get("instance") and "base_topic" not in data:
            return {**data, "base_topic": f"potwatch/{data['instance']}"}
        if isinstance(data, dict) and data.get("instance") and str(data.get("base_topic", "")).strip("/") == "potwatch":
            # the same topics and discovery node as the potwatch without an instance: each would
            # overwrite the other's state and clear the other's entities as ghosts at every connect
            raise ValueError(
                f'instance = "{data["instance"]}" with base_topic = "potwatch" shares every topic with the '
                f'potwatch that has no instance: remove base_topic (it becomes "potwatch/{data["instance"]}") '
                "or give this one a base topic of its own"
            )
        return data

    @field_validator("unit", mode="before")
    @classmethod
    def _rate_unit(cls, value: Any) -> Any:
        text = str(value).strip().upper().removeprefix("°")
        if text not in ("F", "C"):
            raise ValueError(f'unit is "F" or "C", not {value!r}')
        return text

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str | None) -> str | None:
        if value is not None and not INSTANCE.match(value):
            raise ValueError(
                f"expected a short name of lowercase letters, digits, - and _ (it becomes a topic level and"
                f" part of entity ids), got {value!r}"
            )
        return value

    @property
    def device_name(self) -> str:
        """The Home Assistant device's name, which its entity ids start with (``sensor.potwatch_kitchen_stage``)."""
        return f"potwatch {self.instance}" if self.instance else "potwatch"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = broker_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        if any(c in value for c in "+#\0"):
            raise ValueError(f"{value!r}: + and # are wildcards for subscribing; a topic to publish to has neither")
        if value.startswith("/") or value.endswith("/"):
            raise ValueError(f"{value!r}: no / at its start or end (potwatch adds the / between levels)")
        return value


BROKER_OPTIONS = ("cafile",)


def broker_url_problem(value: str) -> str | None:
    """What is wrong with ``[mqtt] url`` (the password never repeated), or None.

    The publisher reads the host, port, credentials and ``cafile=`` from it;
    anything else would be silently ignored (a topic in the path, a typo in
    an option), so it is refused here with what to write instead.
    """
    parts = urlsplit(value)
    shown = _redacted(value, parts.password)
    if parts.scheme not in ("mqtt", "mqtts"):
        return f"expected mqtt://host:port or mqtts://host:port, got {shown!r}"
    try:
        port = parts.port
    except ValueError:
        return f"the port in {shown!r} is not a number from 1 to 65535 (1883 is MQTT's, 8883 with TLS)"
    if port == 0:
        return f"the port in {shown!r} is not a number from 1 to 65535 (1883 is MQTT's, 8883 with TLS)"
    if not parts.hostname:
        return f"no broker in {shown!r}: write its address, like mqtt://192.168.1.5:1883"
    if parts.path not in ("", "/"):
        return (
            f"{shown!r} has a path ({parts.path!r}), which this URL does not use: the topics are "
            "base_topic's; write mqtt://host:port"
        )
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        if key not in BROKER_OPTIONS:
            hint = did_you_mean(key, BROKER_OPTIONS)
            return f"unknown option {key!r} in {shown!r} (known: {', '.join(BROKER_OPTIONS)}){hint}"
    return None


def _redacted(url: str, password: str | None) -> str:
    return url.replace(f":{password}@", ":***@", 1) if password else url


class ProbeConfig(Model):
    id: ProbeId = Field(..., description="short name used in topics and the API")
    url: str = Field(..., description="serial://, w1://, mqtt:// or sim:// (see the README)")
    stale_after: Duration | None = Field(
        None, description="lost after this long without a reading; default 3× its interval, at least 10 s"
    )
    boil: Boil | None = Field(
        None, description='where this probe says water boils here (e.g. "210.5F"); targets shift by it'
    )
    lag: Lag | None = Field(
        None,
        description='the probe\'s time constant in liquid (e.g. "15s" for a DS18B20 in a steel sheath): '
        "the alarm is then about the pot, not the lagging probe",
    )
    altitude: Altitude | None = Field(None, description='where this probe cooks, if not the kitchen\'s "altitude"')
    label: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            check_probe_url(value)
        except ProbeError as exc:
            raise ValueError(str(exc)) from None
        return value


class PressureConfig(Model):
    """A barometer in the kitchen: where water boils today, without a boil test."""

    url: str = Field(
        ...,
        description="the barometer's MQTT topic, e.g. mqtt://192.168.1.5:1883/tele/kitchen/SENSOR?format=tasmota; "
        "it must report STATION pressure (the air's at the stove), never a sea-level (adjusted) value",
    )
    stale_after: Duration = Field(
        6 * 3600.0,
        description='a reading older than this is forgotten (default "6h"); targets then follow the altitude again',
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            settings = barometer_settings(value)
        except ProbeError as exc:
            raise ValueError(str(exc)) from None
        try:
            pressure_to_hpa(1.0, settings.unit)
        except ValueError as exc:
            raise ValueError(f"unit={settings.unit!r}: {exc}") from None
        return value


HEATER_SETTINGS: dict[str, str] = {
    # config key -> HeatParams field, so that a refusal from HeatParams names the key the file used
    "min_on": "min_on_s",
    "min_off": "min_off_s",
    "max_on": "max_on_s",
    "stale_after": "stale_after_s",
    "deadman": "deadman_s",
    "max_temperature": "max_c",
    "mismatch_grace": "mismatch_grace_s",
    "duty_window": "duty_window_s",
    "lead": "lead_s",
    "max_lead": "max_lead_c",
    "rate_span": "rate_span_s",
    "carryover": "carryover_c",
    "hold_law": "hold_law",
    "on_below": "on_below",
    "off_above": "off_above",
    "kp": "kp_per_c",
    "ki": "ki_per_c_s",
    "kd": "kd_s_per_c",
    "cycle": "cycle_s",
}
_DEFAULT_HEAT = HeatParams()


class HeaterConfig(Model):
    """A heat actuator under a pot (docs/heat.md): every setting has a safe default.

    The safety limits (max_on, deadman, stale_after, mismatch_grace) have no
    "off": each must be a positive duration.
    """

    id: HeaterId = Field(..., description="short name used in the API and the history")
    url: str = Field(
        ...,
        description="mqtt://HOST:1883/<topic>?kind=tasmota, …/<id>?kind=shelly, …/<friendly_name>?kind=z2m, "
        "…/<node>/<switch_id>?kind=esphome, …/<name>?kind=homeassistant, or gpio://<pin>",
    )
    probe: str = Field(..., description="the [[probes]] id whose pot this heater heats")
    label: str = ""
    min_on: DurationOrZero = Field(_DEFAULT_HEAT.min_on_s, description='relay care: on at least this long ("30s")')
    min_off: DurationOrZero = Field(_DEFAULT_HEAT.min_off_s, description='off at least this long ("30s")')
    max_on: Duration = Field(_DEFAULT_HEAT.max_on_s, description='off after this long on without a break ("90min")')
    stale_after: Duration = Field(
        _DEFAULT_HEAT.stale_after_s, description='off when the probe has said nothing for this long ("15s")'
    )
    deadman: Duration = Field(
        _DEFAULT_HEAT.deadman_s,
        description='the plug turns itself off this long after the last command unless re-armed ("60s")',
    )
    max_temperature: Temperature | None = Field(
        None, description="a ceiling of this heater's own; the step's (overshoot, or hold top + 10 °F) applies below it"
    )
    mismatch_grace: Duration = Field(
        _DEFAULT_HEAT.mismatch_grace_s, description="the plug reporting other than commanded this long is critical"
    )
    duty_window: Duration = Field(_DEFAULT_HEAT.duty_window_s, description='the duty cycle is over this ("10min")')
    lead: DurationOrZero = Field(
        _DEFAULT_HEAT.lead_s, description='act on level + rate × lead: the probe\'s lag plus about 3 s ("18s")'
    )
    max_lead: TemperatureDelta = Field(_DEFAULT_HEAT.max_lead_c, description='never anticipate more than this ("10F")')
    rate_span: Duration = Field(_DEFAULT_HEAT.rate_span_s, description='the rate for the lead, over this ("10s")')
    carryover: TemperatureDelta = Field(
        _DEFAULT_HEAT.carryover_c, description='a reach turns the heat off this far below its target ("0F")'
    )
    hold_law: HoldLaw = Field(HoldLaw.HYSTERESIS, description='"hysteresis" (for a plug) or "pid" (an SSR)')
    on_below: float = Field(_DEFAULT_HEAT.on_below, ge=0.0, le=1.0, description="hysteresis: on below this fraction")
    off_above: float = Field(_DEFAULT_HEAT.off_above, ge=0.0, le=1.0, description="hysteresis: off above this one")
    kp: float = Field(_DEFAULT_HEAT.kp_per_c, ge=0.0, description="pid: on-fraction per °C below the middle")
    ki: float = Field(_DEFAULT_HEAT.ki_per_c_s, ge=0.0, description="pid: per °C·s")
    kd: float = Field(_DEFAULT_HEAT.kd_s_per_c, ge=0.0, description="pid: per °C/s")
    cycle: Duration = Field(_DEFAULT_HEAT.cycle_s, description='pid: the time-proportioning cycle ("4min")')

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            heater_identity(value)
        except HeaterUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _settings(self) -> HeaterConfig:
        try:
            self.params()
        except ValueError as exc:
            raise ValueError(_in_config_words(str(exc))) from None
        return self

    def params(self) -> HeatParams:
        return HeatParams(**{field: getattr(self, key) for key, field in HEATER_SETTINGS.items()})


def _in_config_words(message: str) -> str:
    """HeatParams speaks of ``max_on_s``; the file says ``max_on``."""
    for key, field in sorted(HEATER_SETTINGS.items(), key=lambda kv: -len(kv[1])):
        message = re.sub(rf"\b{field}\b", key, message)
    return message


class CookConfig(Model):
    profile: str
    probe: str
    channel: str | None = None


def _push_url_shape(value: str) -> str:
    """One URL, no spaces; never echoed back, since it holds a service's token or password."""
    if not value or any(c.isspace() for c in value):
        where = "is empty" if not value else "holds a space or a line break (a paste that took too much?)"
        raise ValueError(f'an Apprise URL, like "ntfy://ntfy.sh/my-kitchen": this one {where}')
    return value


class NotifyConfig(Model):
    """Push notifications through Apprise (docs/push.md).

    Each URL is one push channel. Its syntax is the push channel's to judge
    (``service.alarm.push.check_push_url``): ``check-config`` and ``potwatch run``
    apply it with the key named, as they do the drivers' rules for probe URLs;
    this module may not import the alarm package (docs/layout.md).
    """

    urls: list[Annotated[str, AfterValidator(_push_url_shape)]] = Field(
        default_factory=list,
        description="Apprise URLs: each is one push channel (ntfy://, pover://, hassio://, json://…)",
    )

    @field_validator("urls")
    @classmethod
    def _each_once(cls, urls: list[str]) -> list[str]:
        for i, url in enumerate(urls):
            if url in urls[:i]:
                raise ValueError(f"urls[{i}] is urls[{urls.index(url)}] again: every alarm would be pushed twice")
        return urls


ALARM_CHANNELS = ("page", "mqtt", "push", "buzzer", "voice")
"""What a route may name. ``page`` and ``mqtt`` carry every alert whatever the routes say (see AlarmRoutes)."""
ALWAYS_CARRIED = ("page", "mqtt")


def _channel_kinds(value: Any) -> Any:
    """A list of channel kinds, each known, each once (a typo gets a "did you mean")."""
    if not isinstance(value, list):
        return value  # pydantic says "a list is expected"
    kinds: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in ALARM_CHANNELS:
            hint = did_you_mean(item, ALARM_CHANNELS) if isinstance(item, str) else ""
            raise ValueError(f"{item!r} is not an alarm channel ({', '.join(ALARM_CHANNELS)}){hint}")
        if item not in kinds:
            kinds.append(item)
    return kinds


ChannelKinds = Annotated[list[str], BeforeValidator(_channel_kinds)]


def _repeat_interval(value: Any) -> float:
    seconds = _duration(value)
    if seconds < 5.0:
        raise ValueError(
            f"at least 5 s between two repeats (services rate-limit, and a voice needs time), got {value!r}"
        )
    return seconds


RepeatInterval = Annotated[float, BeforeValidator(_repeat_interval)]


class AlarmRoutes(Model):
    """Which channels each level reaches.

    The page and MQTT are not switched by a route: the page's state and the
    MQTT state (SPEC.md) carry every alert, so that a phone or Home Assistant
    always shows what is active. Leaving them out of a route changes nothing,
    and ``route_notes`` says so; what a route decides is push, buzzer and voice.
    """

    info: ChannelKinds = Field(default_factory=lambda: ["page"], description="info alerts (in the window, probe back)")
    warning: ChannelKinds = Field(
        default_factory=lambda: ["page", "mqtt", "push"], description="warnings (almost there, too hot, probe lost)"
    )
    critical: ChannelKinds = Field(
        default_factory=lambda: list(ALARM_CHANNELS), description="critical alerts (target reached, past it)"
    )

    def of(self, level: str) -> list[str]:
        routes: dict[str, list[str]] = {"info": self.info, "warning": self.warning, "critical": self.critical}
        return routes[level]


def _bcm_pin(value: Any) -> int:
    # a bool is an int to Python: `buzzer_pin = true` must not become GPIO 1
    if isinstance(value, int) and not isinstance(value, bool) and 2 <= value <= 27:
        return value
    raise ValueError(f"buzzer_pin is a BCM GPIO number from 2 to 27 (like 17, physical pin 11), not {value!r}")


def _unit(value: Any) -> Any:
    if isinstance(value, str) and value.strip().upper() in ("F", "C"):
        return value.strip().upper()
    raise ValueError(f'unit is "F" or "C", not {value!r}')


def _wav_path(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not value.lower().endswith(".wav"):
        raise ValueError(f"sound is a WAV file (ending in .wav), not {value!r}")
    if not Path(value).expanduser().is_absolute():
        raise ValueError(f"sound needs an absolute path (the service does not run in your folder), not {value!r}")
    return str(Path(value).expanduser())


class AlarmConfig(Model):
    """The alarm channels on the Pi, how each level is routed, and how a critical alert insists (docs/alarm.md)."""

    buzzer_pin: Annotated[int, BeforeValidator(_bcm_pin)] | None = Field(
        None, description="BCM pin of a buzzer (2–27; GPIO 17 is physical pin 11); absent: no buzzer"
    )
    speak: bool = Field(False, strict=True, description="say each alert on the Pi's speaker (espeak-ng)")
    sound: Annotated[str, BeforeValidator(_wav_path)] | None = Field(
        None, description="a WAV file played before the words (absolute path); absent: no sound"
    )
    audio_device: Annotated[str, plain_pattern(r"\S.*", 'an ALSA device name, like "plughw:1,0"')] | None = Field(
        None, description="the ALSA device to play on (aplay -D); absent: the system's default"
    )
    unit: Annotated[str, BeforeValidator(_unit)] = Field(
        "F", description='"F" or "C": the unit the pushed and spoken words use (the page\'s default is °F)'
    )
    push_every: RepeatInterval = Field(
        15.0, description="a critical alert is pushed again this often until acknowledged"
    )
    voice_every: RepeatInterval = Field(30.0, description="and said again this often")
    escalate_after: Duration = Field(
        60.0, description="nobody answered for this long: escalate_to joins, push priority rises"
    )
    escalate_to: ChannelKinds = Field(
        default_factory=lambda: ["buzzer", "voice"], description="the channels that join a critical alert on escalation"
    )
    routes: AlarmRoutes = AlarmRoutes()

    @property
    def voice(self) -> bool:
        """A voice channel is built for the words, the sound, or both."""
        return self.speak or self.sound is not None

    def route_notes(self) -> list[str]:
        """What a route or ``escalate_to`` says that changes nothing (page and MQTT carry every alert).

        Only a departure from the default is worth a note: the default info
        route names the page alone, and MQTT carries info alerts all the same.
        """
        notes: list[str] = []
        defaults = AlarmRoutes()
        for level in ("info", "warning", "critical"):
            route = self.routes.of(level)
            left_out = [k for k in ALWAYS_CARRIED if k in defaults.of(level) and k not in route]
            if left_out:
                verb = "carry" if len(left_out) > 1 else "carries"
                notes.append(
                    f"alarm.routes.{level}: {' and '.join(left_out)} {verb} every alert whatever the route says "
                    "(their state stays complete); leaving them out changes nothing"
                )
        named = [k for k in ALWAYS_CARRIED if k in self.escalate_to]
        if named:
            notes.append(f"alarm.escalate_to: {' and '.join(named)} carry every alert already; naming them is a no-op")
        return notes


class Config(Model):
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    mqtt: MqttConfig | None = None
    probes: list[ProbeConfig] = Field(default_factory=list)
    cook: CookConfig | None = None
    notify: NotifyConfig = NotifyConfig()
    alarm: AlarmConfig = AlarmConfig()
    pressure: PressureConfig | None = Field(None, description="a barometer: absent, no barometric calibration")
    heaters: list[HeaterConfig] = Field(default_factory=list, description="heat actuators (docs/heat.md)")
    profile_dirs: list[str] = Field(default_factory=list, description="extra folders of profile TOML files")
    altitude: Altitude | None = Field(
        None, description='the kitchen\'s altitude ("5000ft", "1500m"): where water boils, if no boil was measured'
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        seen: dict[str, int] = {}
        for index, probe in enumerate(self.probes):
            if probe.id in seen:
                raise KeyedError(
                    ("probes", index, "id"),
                    f"{probe.id!r} is already the id of probes[{seen[probe.id]}]: each probe needs its own",
                )
            seen[probe.id] = index
        if self.cook is not None and self.cook.probe not in seen:
            known = ", ".join(sorted(seen)) or "none configured"
            hint = did_you_mean(self.cook.probe, seen)
            raise KeyedError(("cook", "probe"), f"{self.cook.probe!r} names no [[probes]] entry ({known}){hint}")
        heaters: dict[str, int] = {}
        plugs: dict[tuple[str, str, str], int] = {}
        for index, heater in enumerate(self.heaters):
            if heater.id in heaters:
                raise KeyedError(
                    ("heaters", index, "id"),
                    f"{heater.id!r} is already the id of heaters[{heaters[heater.id]}]: each heater needs its own",
                )
            heaters[heater.id] = index
            if heater.probe not in seen:
                known = ", ".join(sorted(seen)) or "none configured"
                hint = did_you_mean(heater.probe, seen)
                raise KeyedError(
                    ("heaters", index, "probe"), f"{heater.probe!r} names no [[probes]] entry ({known}){hint}"
                )
            plug = heater_identity(heater.url)
            if plug in plugs:
                raise KeyedError(
                    ("heaters", index, "url"),
                    f"heaters[{plugs[plug]}] drives the same plug: two controllers would fight over one relay",
                )
            plugs[plug] = index
        return self

    @property
    def alarm_channels(self) -> bool:
        """Some channel besides the page and MQTT is configured: the alarm part is wired."""
        return bool(self.notify.urls) or self.alarm.buzzer_pin is not None or self.alarm.voice


def probe_setups(config: Config, measured: dict[str, float] | None = None) -> list[ProbeSetup]:
    """What the tracker needs of each ``[[probes]]`` entry; a measured boil beats the configured one."""
    measured = measured or {}
    return [
        ProbeSetup(
            p.id,
            p.stale_after,
            measured.get(p.id, p.boil),
            lag_s=p.lag or None,
            altitude_m=p.altitude if p.altitude is not None else config.altitude,
        )
        for p in config.probes
    ]


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def key_path(loc: tuple[int | str, ...]) -> str:
    """``("probes", 0, "url")`` → ``probes[0].url``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _keys_at(model: Any, loc: tuple[int | str, ...]) -> list[str]:
    """The keys the file may use at ``loc`` (the unknown key's table), for a "did you mean"."""
    current = model
    for part in loc:
        current = _step_into(current, part)
        if current is None:
            return []
    if get_origin(current) in (Union, types.UnionType):  # an optional table: [mqtt], [cook]
        current = next((a for a in get_args(current) if hasattr(a, "model_fields")), None)
    fields = getattr(current, "model_fields", None)
    return list(fields) if isinstance(fields, dict) else []


def _step_into(annotation: Any, part: int | str) -> Any:
    """One step of a location into a type: a field of a model, an item of a list, a member of a union."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _step_into(get_args(annotation)[0], part)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        for member in members:
            # a tagged union's location names the member by its tag (steps[0].reach.target)
            fields = getattr(member, "model_fields", {})
            tag = fields.get("kind")
            if tag is not None and get_args(tag.annotation) == (part,):
                return member
        for member in members:
            found = _step_into(member, part)
            if found is not None:
                return found
        return None
    if isinstance(part, int):
        args = get_args(annotation)
        return args[0] if origin is list and args else None
    fields = getattr(annotation, "model_fields", None)
    if isinstance(fields, dict) and part in fields:
        return fields[part].annotation
    return None


def _toml_kind(value: Any) -> str:
    """What a TOML value is, in TOML's words."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array of tables" if value and all(isinstance(v, dict) for v in value) else "an array"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def _shape_slip(kind: str, loc: tuple[int | str, ...], value: Any, model: type[BaseModel] | None) -> str | None:
    """``[[server]]`` for ``[server]``, ``[probes]`` for ``[[probes]]``: said in TOML's words, not pydantic's."""
    where = key_path(loc)
    if kind in ("model_type", "dict_type"):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return f"[[{where}]] makes a list of tables; write [{where}] (one table)"
        if loc and isinstance(loc[-1], int):
            return f"expected a [[{key_path(loc[:-1])}]] table, got {_toml_kind(value)}"
        return f"expected a table ([{where}] and its keys below it), got {_toml_kind(value)}"
    if kind == "list_type":
        item: Any = model
        for part in loc:
            item = _step_into(item, part) if item is not None else None
        args = get_args(item) if get_origin(item) is list else ()
        if args and hasattr(args[0], "model_fields"):
            if isinstance(value, dict):
                return f"[{where}] is one table; write [[{where}]] above each entry"
            return f"expected [[{where}]] tables, one per entry, got {_toml_kind(value)}"
        example = json.dumps([value], ensure_ascii=False) if isinstance(value, str | int | float) else '["a", "b"]'
        return f"expected an array, like {example}, got {_toml_kind(value)}"
    return None


def describe(error: Any, model: type[BaseModel] | None = None) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden" and model is not None:
        loc = tuple(error["loc"])
        return _MESSAGES[kind] + did_you_mean(str(loc[-1]), _keys_at(model, loc[:-1]))
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    slip = _shape_slip(kind, tuple(error["loc"]), error.get("input"), model)
    if slip is not None:
        return slip
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def validation_problems(source: str, exc: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """One line per error; with the ``model`` validated, an unknown key gets a "did you mean"."""
    lines = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        keyed = error.get("ctx", {}).get("error")
        if isinstance(keyed, KeyedError):
            loc += keyed.loc
        lines.append(f"{source}: {key_path(loc)}: {describe({**error, 'loc': loc}, model)}")
    return lines


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not a text file (expected UTF-8 TOML)"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {toml_error(exc, text)}"]) from None


_TOML_WHERE = re.compile(r"\(at line (\d+), column \d+\)")


def toml_error(exc: tomllib.TOMLDecodeError, text: bytes) -> str:
    """tomllib's message (it has the line and column), the line itself, and for a duplicate a hint."""
    message = str(exc)
    where = _TOML_WHERE.search(message)
    lines = text.decode("utf-8").splitlines()
    number = int(where.group(1)) if where else 0
    if 0 < number <= len(lines) and lines[number - 1].strip():
        message += f": {lines[number - 1].strip()}"
    if str(exc).startswith(("Cannot overwrite a value", "Cannot declare")):
        message += " — given twice? (each key once per table, each [table] once)"
    return message


def parse_config(data: dict[str, Any], source: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(source, exc, Config)) from None


def load_config(path: Path) -> Config:
    return parse_config(read_toml(path), str(path))
