"""Scenario 5: the link to the broker goes half-open (a Wi-Fi link that silently dies), then heals.

potwatch reaches Mosquitto through ``tests/support/link_proxy.py``, a TCP
proxy that stops forwarding both ways without closing either socket: no EOF,
no RST, no error, only silence. A subscriber connected to Mosquitto directly
watches what Home Assistant would see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.broker import Broker, mosquitto, mosquitto_binary, mosquitto_factory, retained_now  # noqa: F401
from tests.support.broker_world import (
    DISCOVERY_ENTITIES,
    RETAINED_STATE,
    Serving,
    mqtt_health,
    service_with_broker,
)
from tests.support.figures import FigureRecorder
from tests.support.link_proxy import link_proxy
from tests.support.mqtt_watch import is_discovery, recording
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import serving, sse
from tests.support.waiting import wait_until

pytestmark = pytest.mark.real_part("mosquitto")

RECOVERY_BOUND_S = 2.0


@pytest.mark.parametrize("keepalive", [2, 10], ids=["keepalive-2s", "keepalive-default-10s"])
def test_a_half_open_link_is_detected_the_will_is_published_and_the_link_recovers(
    tmp_path: Path,
    mosquitto: Broker,  # noqa: F811
    figure: FigureRecorder,
    keepalive: int,
) -> None:
    """Pass: potwatch notices the silent link within 2 × its keepalive (``/healthz`` says disconnected);
    Mosquitto publishes potwatch's will, ``offline`` retained on ``potwatch/availability``, to a
    subscriber connected to it directly (it gives up after 1.5 × the keepalive); within 2 s of the
    link healing potwatch is connected again, ``online`` and every retained topic are republished,
    and the broker holds the same retained set as before the cut. The phone page's API and SSE, and
    the serial probe feeding the cook, carry on throughout. An alert raised just after the cut,
    handed to a link potwatch still believed in, reaches the subscriber exactly once after the heal.
    """
    config = "" if keepalive == 10 else f'keepalive = "{keepalive}s"'
    with (
        PtyDevice() as device,
        link_proxy(mosquitto.host, mosquitto.port) as proxy,
        recording(mosquitto.host, mosquitto.port) as watcher,
        Thermometer(device) as pot,
    ):
        service = service_with_broker(tmp_path, device, proxy.host, proxy.port, config)
        with serving(service), sse(service.base + "/api/events") as stream:
            stream.attached()

            def everything_retained(after: int = 0) -> Callable[[], bool]:
                def check() -> bool:
                    live = watcher.live(after)
                    discovery = [t for t in live if is_discovery(t)]
                    return all(t in live for t in RETAINED_STATE) and len(discovery) == DISCOVERY_ENTITIES

                return check

            wait_until(everything_retained(), 15, lambda: f"potwatch's first announcement\n{service.log()}")
            wait_until(lambda: mqtt_health(service) == "connected", 5, "potwatch connected")
            wait_until(lambda: service.get("/api/status")["probes"][0]["state"] == "ok", 15, "the pot's readings")
            before = {m.topic for m in watcher.all() if m.payload}
            with Serving(service) as api:
                stream.drain()
                mark = watcher.mark()
                cut_at = time.monotonic()
                proxy.cut()
                # the caramel passes 225 °F at once: its alert goes into a link potwatch still believes in
                climbing = threading.Thread(target=pot.climb, args=(228.0,), kwargs={"from_f": 222.0}, daemon=True)
                climbing.start()
                wait_until(
                    lambda: mqtt_health(service) == "disconnected",
                    2 * keepalive + 2,
                    lambda: f"potwatch to notice the dead link\n{service.log()}",
                    every=0.02,
                )
                detected = time.monotonic() - cut_at
                noticed_wall = time.time()
                climbing.join(10)
                alert = wait_until(
                    lambda: [a for a in service.get("/api/status")["alerts"] if a["kind"] == "target_reached"],
                    15,
                    "target_reached while the link was dead",
                )[0]
                raised_wall = datetime.fromisoformat(alert["at"].replace("Z", "+00:00")).timestamp()
                assert raised_wall < noticed_wall, "the alert should go into the dead link, before potwatch noticed"
                will = watcher.wait_for(
                    lambda m: m.topic == "potwatch/availability" and m.text == "offline",
                    2 * keepalive + 10,  # Mosquitto 2.0.11 was seen 5 s late (docs/mqtt.md)
                    mark,
                    "offline (the will)",
                )
                will_after = will.at - cut_at
                broker_log = mosquitto.log()
                assert f"k{keepalive})" in broker_log, "potwatch should connect with the configured keepalive"
                assert "exceeded timeout" in broker_log, "the broker should have dropped potwatch on its keepalive"
                # while the link is dead, the kitchen goes on: readings reach the phone, the API answers
                readings = [e for e in stream.drain() if e.event == "reading"]
                assert len(readings) >= 5 * keepalive, f"only {len(readings)} readings on SSE while the link was dead"

                mark = watcher.mark()
                healed_at = time.monotonic()
                proxy.heal()
                wait_until(
                    everything_retained(mark),
                    RECOVERY_BOUND_S + 3,
                    lambda: f"everything republished after the link healed\n{service.log()}",
                    every=0.02,
                )
                live = watcher.live(mark)
                recovered = max(m.at for m in live.values()) - healed_at
                assert watcher.all("potwatch/availability", mark)[-1].text == "online"
                wait_until(lambda: mqtt_health(service) == "connected", 2, "potwatch connected again")
                watcher.wait_for(
                    lambda m: m.topic == "potwatch/cook/alert" and m.json()["id"] == alert["id"],
                    5,
                    what="the alert raised while the link was dead",
                )
                barrier = watcher.mark()  # a copy sent later than this reading is not coming
                pot.say(229.5)
                watcher.wait_for(
                    lambda m: m.topic == "potwatch/probe/pot/temperature" and m.json()["fahrenheit"] == 229.5,
                    5,
                    barrier,
                    "the barrier reading",
                )
                copies = [m for m in watcher.all("potwatch/cook/alert") if m.json()["id"] == alert["id"]]
                # what the broker holds now, after the barrier: the will did not land after our "online"
                held = retained_now(mosquitto, "potwatch/#", "homeassistant/#")
        after = {t for t, m in live.items() if m.payload}
    assert not api.failures, api.failures[:5]
    assert api.probe_states == {"ok"}, api.probe_states
    assert after >= before, f"not republished: {sorted(before - after)}"
    assert set(held) == before and held["potwatch/availability"] == b"online", sorted(held)
    figure(
        f"dead_link_detected_k{keepalive}",
        detected,
        "s",
        f"≤ {2 * keepalive} s (2 × keepalive; designed {1.5 * keepalive:g} s)",
    )
    figure(f"will_published_k{keepalive}", will_after, "s", f"≥ {1.5 * keepalive:g} s (Mosquitto: 1.5 × keepalive)")
    figure(f"recovered_after_heal_k{keepalive}", recovered, "s", f"≤ {RECOVERY_BOUND_S:g} s")
    figure(f"api_slowest_k{keepalive}", api.slowest, "s", "answers throughout")
    figure(f"dead_link_alert_copies_k{keepalive}", len(copies), "", "= 1")
    assert len(copies) == 1, f"the alert raised while the link was dead came {len(copies)} times"
    # the bound; potwatch's design figure, 1.5 × (drivers/mqtt_liveness.py, docs/mqtt.md), is
    # recorded above, not asserted: with a 2 s keepalive a loaded machine has too little room. That
    # potwatch beats paho's own keepalive (a little past 2 ×) is tests/drivers/test_mqtt_link_liveness.py's
    assert detected <= 2 * keepalive, f"the dead link took {detected:.2f} s to notice (keepalive {keepalive} s)"
    assert will_after >= 1.5 * keepalive - 0.2, "the broker published the will before its keepalive ran out"
    assert recovered <= RECOVERY_BOUND_S, f"recovery took {recovered:.2f} s after the link healed"
