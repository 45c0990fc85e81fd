"""A real Home Assistant Core for tests: installed from PyPI, onboarded and given MQTT as a user would.

Home Assistant lives in its own venv (``scripts/ha-venv``: a newer Python than
potwatch's, a few hundred packages, built once and cached outside the
repository). Each session starts it on a free port with a fresh config dir,
``--skip-pip`` (it must never reach for the internet: the venv already holds
what the loaded integrations need) and a ``configuration.yaml`` naming only
what the tests use — ``default_config`` would pull in cloud, zeroconf, the
frontend and more, none of which a kitchen thermometer needs to be judged by.

It is then driven only through its public HTTP API, the way the browser UI
does it: onboarding creates the owner and hands out an auth code, the code
is traded at ``/auth/token``, the remaining onboarding steps are posted, and
the MQTT integration is added by its config flow (broker host and port).

Outside CI a Home Assistant that cannot be installed (no package index)
skips the tests that need it, naming why; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.broker import Broker
from tests.support.net import free_port
from tests.support.parts import under_ci
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# the kitchen light and the phone that the documented automations call (a custom integration)
STAND_INS = Path(__file__).resolve().parent / "ha_stand_ins"
# the first start creates .storage and compiles its translations: minutes on a busy 2-core machine
START_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 1800.0
OWNER = {"name": "Cook", "username": "cook", "password": "caramel-at-225", "language": "en"}


def in_ci() -> bool:
    return under_ci()


def ha_venv(log_dir: Path, version: str | None = None) -> Path:
    """The cached venv of Home Assistant ``version`` (None: the newest this machine runs), built when missing.

    Skipped (failed under CI) when it cannot be built: no package index, no Python it runs on.
    """
    log = log_dir / "ha-venv.log"
    env = dict(os.environ)
    if version is not None:
        env["POTWATCH_HA_VERSION"] = version
    with log.open("w") as out:
        try:
            done = subprocess.run(
                [str(REPO / "scripts" / "ha-venv")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            done = None
    said = log.read_text(errors="replace").strip()
    if done is not None and done.returncode == 0:
        return Path(done.stdout.strip().splitlines()[-1])
    why = f"Home Assistant could not be installed (scripts/ha-venv): {said or 'timed out'}"
    if in_ci():
        pytest.fail(why)
    pytest.skip(why)


CONFIGURATION = """\
homeassistant:
  name: Test kitchen
  unit_system: {unit_system}
  time_zone: UTC
  latitude: 48.85
  longitude: 2.35
  elevation: 35
  country: FR
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
onboarding:
websocket_api:
logger:
  default: info
automation: !include automations.yaml
kitchen_stand_ins:
# the heater bridge's switch (docs/heat-drivers.md names switch.hotplate): a template switch on a relay
# (this text goes through str.format: its braces are doubled)
input_boolean:
  hotplate_relay:
    name: Hotplate relay
switch:
  - platform: template
    switches:
      hotplate:
        friendly_name: Hotplate
        value_template: "{{{{ is_state('input_boolean.hotplate_relay', 'on') }}}}"
        turn_on:
          service: input_boolean.turn_on
          target:
            entity_id: input_boolean.hotplate_relay
        turn_off:
          service: input_boolean.turn_off
          target:
            entity_id: input_boolean.hotplate_relay
"""


@dataclass
class HomeAssistant:
    """One Home Assistant Core process on a fixed port, with its config dir; restartable."""

    venv: Path
    config_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    token: str | None = None
    version: str = ""
    started_in_s: float = 0.0
    unit_system: str = "metric"  # or "us_customary"; takes effect at the next (re)start

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client_id(self) -> str:
        return self.base + "/"

    @property
    def log_path(self) -> Path:
        return self.config_dir / "home-assistant.log"

    @property
    def automations_path(self) -> Path:
        return self.config_dir / "automations.yaml"

    @property
    def stand_in_calls_path(self) -> Path:
        return self.config_dir / "stand_ins.jsonl"

    def stand_in_calls(self, service: str) -> list[dict[str, Any]]:
        """The data of every call the automations made to ``service`` (the light, the phone), in order."""
        if not self.stand_in_calls_path.exists():
            return []
        calls = [json.loads(line) for line in self.stand_in_calls_path.read_text().splitlines() if line]
        return [c["data"] for c in calls if c["service"] == service]

    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port, unit_system=self.unit_system)
        )
        shutil.copytree(STAND_INS, self.config_dir / "custom_components" / "kitchen_stand_ins", dirs_exist_ok=True)
        if not self.automations_path.exists():
            self.automations_path.write_text("[]\n")

    # -- lifecycle

    def start(self) -> float:
        """Start and wait until the core is RUNNING (once onboarded) or onboarding answers; returns the seconds."""
        self.write_config()
        began = time.monotonic()
        out = (self.config_dir / "hass.out").open("ab")
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "hass"), "--config", str(self.config_dir), "--skip-pip", "--log-no-color"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
        )
        wait_until(self._up, START_TIMEOUT_S, lambda: f"Home Assistant to answer on port {self.port}\n{self.output()}")
        if self.token is not None:
            wait_until(self.running, START_TIMEOUT_S, lambda: f"Home Assistant to be RUNNING\n{self.output()}")
        self.started_in_s = time.monotonic() - began
        return self.started_in_s

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"Home Assistant exited with {self.proc.returncode}:\n{self.output()}")
        # /api/onboarding answers until the owner exists; afterwards only /api/ (with the token) does
        path, headers = ("/api/onboarding", {}) if self.token is None else ("/api/", self.headers())
        try:
            return httpx.get(self.base + path, headers=headers, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def running(self) -> bool:
        try:
            return bool(self.get("/api/config").get("state") == "RUNNING")
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self) -> None:
        """SIGTERM, as ``systemctl stop``: Home Assistant writes .storage and exits."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart(self) -> float:
        self.stop()
        return self.start()

    def output(self) -> str:
        try:
            return (self.config_dir / "hass.out").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no output)"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- what the UI does

    def onboard(self) -> None:
        """The onboarding wizard: owner, token, location, analytics, integrations."""
        r = httpx.post(self.base + "/api/onboarding/users", json={**OWNER, "client_id": self.client_id}, timeout=30)
        r.raise_for_status()
        code = r.json()["auth_code"]
        r = httpx.post(
            self.base + "/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
            timeout=30,
        )
        r.raise_for_status()
        self.token = str(r.json()["access_token"])
        # The location step also adds the weather, radio and TTS integrations the wizard
        # offers: their libraries are not installed (they would reach the internet), and
        # Home Assistant 2024.x answers 500 after marking the step done. Nothing MQTT needs.
        r = httpx.post(self.base + "/api/onboarding/core_config", headers=self.headers(), json={}, timeout=30)
        if r.status_code not in (200, 500):
            r.raise_for_status()
        self.post("/api/onboarding/analytics", {})
        self.post(
            "/api/onboarding/integration",
            {"client_id": self.client_id, "redirect_uri": self.client_id + "?auth_callback=1"},
        )
        wait_until(self.running, START_TIMEOUT_S, lambda: f"Home Assistant to be RUNNING\n{self.output()}")
        self.version = str(self.get("/api/config")["version"])

    def add_mqtt(self, broker: Broker) -> dict[str, Any]:
        """Settings → Add integration → MQTT, with the broker's host and port; returns the finished flow."""
        flow = self.post("/api/config/config_entries/flow", {"handler": "mqtt", "show_advanced_options": False})
        while flow.get("type") == "form":
            answer: dict[str, Any] = {}
            if flow.get("step_id") == "broker":
                answer = {"broker": broker.host, "port": broker.port}
            flow = self.post(f"/api/config/config_entries/flow/{flow['flow_id']}", answer)
            if flow.get("errors"):
                raise AssertionError(f"the MQTT config flow refused {answer}: {flow}")
        if flow.get("type") != "create_entry":
            raise AssertionError(f"the MQTT config flow did not create an entry: {flow}")
        wait_until(self._mqtt_loaded, 60, lambda: f"the MQTT entry to load\n{self.output()}")
        return flow

    def _mqtt_loaded(self) -> bool:
        entries = self.get("/api/config/config_entries/entry")
        return any(e["domain"] == "mqtt" and e["state"] == "loaded" for e in entries)

    # -- REST

    def headers(self) -> dict[str, str]:
        assert self.token is not None, "Home Assistant is not onboarded"
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> Any:
        r = httpx.get(self.base + path, headers=self.headers(), timeout=30)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        r = httpx.post(self.base + path, headers=self.headers(), json=body, timeout=30)
        r.raise_for_status()
        return r.json() if r.content else None

    def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in self.get("/api/states")}

    def state(self, entity_id: str) -> dict[str, Any] | None:
        r = httpx.get(self.base + f"/api/states/{entity_id}", headers=self.headers(), timeout=30)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return dict(r.json())

    def template(self, text: str) -> str:
        r = httpx.post(self.base + "/api/template", headers=self.headers(), json={"template": text}, timeout=30)
        r.raise_for_status()
        return r.text

    def mqtt_entities(self) -> list[str]:
        """The entity ids the MQTT integration owns (there is no REST view of the entity registry)."""
        listed = self.template("{{ integration_entities('mqtt') | join(',') }}")
        return [e for e in listed.split(",") if e]

    def call(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        return self.post(f"/api/services/{domain}/{service}", data)


def announced(broker: Broker, prefix: str = "homeassistant") -> dict[str, dict[str, Any]]:
    """The retained discovery configs on ``broker`` now, by topic (withdrawn ones left out).

    Mosquitto hands a new subscription its retained messages before anything
    published after the SUBACK, so a marker published on the same connection
    once subscribed arrives after the last of them: no waiting for silence.
    """
    configs: dict[str, dict[str, Any]] = {}
    marker = f"potwatch-tests/marker/{os.getpid()}/{time.monotonic_ns()}"
    done = threading.Event()
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)

    def on_message(_c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        if message.topic == marker:
            done.set()
        elif message.retain and message.payload:
            configs[message.topic] = json.loads(message.payload)

    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.subscribe([(f"{prefix}/#", 1), (marker, 1)])
        if not subscribed.wait(10):
            raise AssertionError("no SUBACK from the broker")
        client.publish(marker, b"-", qos=1)
        if not done.wait(10):
            raise AssertionError("the marker never came back from the broker")
    finally:
        client.disconnect()
        client.loop_stop()
    return configs


def friendly_name(config: dict[str, Any]) -> str:
    """The name Home Assistant shows for a discovered entity: the device's name, then the entity's."""
    return f"{config['device']['name']} {config['name']}"


# Home Assistant 2024.10 renamed the automation keys (triggers/trigger, actions/action)
NEW_AUTOMATION_SPELLING = (2024, 10)


def release(version: str) -> tuple[int, int]:
    """``"2024.3.3"`` → ``(2024, 3)``: what the docs' version notes compare."""
    year, month = version.split(".")[:2]
    return int(year), int(month)


def documented_automations(ha_version: str, repo: Path = REPO) -> list[dict[str, Any]]:
    """The automations docs/ha gives a user of this Home Assistant release, exactly as written there."""
    name = "automations.yaml" if release(ha_version) >= NEW_AUTOMATION_SPELLING else "automations-before-2024.10.yaml"
    loaded = yaml.safe_load((repo / "docs" / "ha" / name).read_text())
    if not isinstance(loaded, list) or not loaded:
        raise AssertionError(f"docs/ha/{name} holds no list of automations")
    return loaded


HEATER_BRIDGE_DOC = REPO / "docs" / "heat-drivers.md"


def documented_heater_bridge(ha_version: str, doc: Path = HEATER_BRIDGE_DOC) -> list[dict[str, Any]]:
    """The Home Assistant switch bridge's automations for this release, read from the YAML block in the docs."""
    which = "2024.10 and later" if release(ha_version) >= NEW_AUTOMATION_SPELLING else "before 2024.10"
    marker = f"# potwatch heater bridge (Home Assistant {which})"
    text = doc.read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    found = [b for b in blocks if b.startswith(marker + "\n")]
    if len(found) != 1:
        raise AssertionError(f"{doc.name}: {len(found)} YAML blocks start with {marker!r}, not one")
    loaded = yaml.safe_load(found[0])
    if not isinstance(loaded, list) or not loaded:
        raise AssertionError(f"{doc.name}: the block {marker!r} holds no list of automations")
    return loaded
