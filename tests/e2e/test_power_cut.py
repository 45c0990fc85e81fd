"""kill -9 of a real ``potwatch run`` mid-braise and mid-reduction, then a restart.

A serial thermometer on a pty prints a reading every 0.1 s, the temperature
set by the test. The service is killed with SIGKILL (no flush, no clean-up:
what a pulled plug leaves, short of the page cache, which a commit with
``synchronous=FULL`` has already pushed to the disk), then started again on the
same state directory. What must hold (issue 7): at most the last 5 s of
readings missing, ``PRAGMA quick_check`` ok, the cook resumed at the same stage
with the same hold time, acknowledged alerts not repeated, unacknowledged ones
ringing. The time to resume is printed (``pytest -s``).
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.power_cut import (
    MISSING_AT_MOST_S,
    alerts,
    cook_of,
    kill_and_check_the_file,
    restart,
    service_for,
    status,
    until,
)
from tests.support.pty_device import PtyDevice, Thermometer


def test_kill_mid_braise_resumes_the_hold(tmp_path: Path, kitchen: tuple[PtyDevice, Thermometer]) -> None:
    device, thermometer = kitchen
    svc = service_for(tmp_path, device, "braise-test").start()
    try:
        thermometer.fahrenheit = 195.0
        until(svc, "the braise holding", lambda s: s["cook"]["stage"] == "holding")
        thermometer.fahrenheit = 212.0
        too_hot = until(svc, "hold_too_hot", lambda s: [a for a in s["alerts"] if a["kind"] == "hold_too_hot"])[0]
        assert svc.post(f"/api/alerts/{too_hot['id']}/ack").status_code == 200
        thermometer.fahrenheit = 195.0
        until(svc, "back in the window", lambda s: s["cook"]["stage"] == "holding")
        held = until(svc, "a few seconds held", lambda s: s["cook"]["hold_elapsed_s"] >= 8.0 and s["cook"])
        cook_id = held["id"]
        before = cook_of(svc)["hold_elapsed_s"]
        kill_and_check_the_file(svc, tmp_path)
        thermometer.printing.clear()  # the pot is unwatched while the Pi is down

        took = restart(svc, cook_id)
        assert took < 15.0
        cook = cook_of(svc)
        assert (cook["step"], cook["stage"]) == ("braise", "holding")
        # the hold time counted before the cut, less at most the readings lost with it, never the downtime
        assert before - MISSING_AT_MOST_S <= cook["hold_elapsed_s"] <= before + 1.0
        (acked,) = alerts(svc, "hold_too_hot")
        assert acked["id"] == too_hot["id"] and acked["acked"] and not acked["active"]

        thermometer.printing.set()
        resumed_at = cook["hold_elapsed_s"]
        until(svc, "the hold timer counting again", lambda s: s["cook"]["hold_elapsed_s"] >= resumed_at + 3.0)
        assert [a["id"] for a in alerts(svc, "hold_too_hot")] == [too_hot["id"]]  # not repeated
        assert "resumed cook" in svc.log()
    finally:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop()


def test_kill_mid_reduction_keeps_the_alarm_ringing(tmp_path: Path, kitchen: tuple[PtyDevice, Thermometer]) -> None:
    device, thermometer = kitchen
    svc = service_for(tmp_path, device, "caramel").start()
    try:
        thermometer.fahrenheit = 214.0
        until(svc, "readings", lambda s: s["probes"][0]["state"] == "ok")
        # a syrup on its plateau: no warning can come before the tracker sees it boil
        until(svc, "the syrup on its boil", lambda s: s["cook"]["on_boil"], timeout=60.0)
        approaching: str | None = None
        while thermometer.fahrenheit < 226.0:
            time.sleep(1.0)  # the syrup climbs half a degree a second
            thermometer.fahrenheit += 0.5
            found = alerts(svc, "target_approaching") if approaching is None else []
            if found:
                approaching = found[0]["id"]
                assert svc.post(f"/api/alerts/{approaching}/ack").status_code == 200
        assert approaching is not None
        reached = until(svc, "target_reached", lambda s: [a for a in s["alerts"] if a["kind"] == "target_reached"])[0]
        assert reached["active"] and not reached["acked"]
        cook_id = cook_of(svc)["id"]
        time.sleep(1.0)  # the pot sits at its target, nobody has looked yet
        kill_and_check_the_file(svc, tmp_path)
        thermometer.printing.clear()

        took = restart(svc, cook_id)
        assert took < 15.0
        cook = cook_of(svc)
        assert (cook["step"], cook["stage"]) == ("caramel", "reached")
        (ringing,) = alerts(svc, "target_reached")
        assert ringing["id"] == reached["id"] and ringing["active"] and not ringing["acked"]
        (quiet,) = alerts(svc, "target_approaching")
        assert quiet["id"] == approaching and quiet["acked"] and not quiet["active"]

        thermometer.printing.set()
        until(svc, "readings again", lambda s: s["probes"][0]["state"] == "ok")
        time.sleep(2.0)  # two more seconds of a pot at its target: nothing may ring twice
        assert len(alerts(svc, "target_approaching")) == 1
        assert len(alerts(svc, "target_reached")) == 1
        assert svc.post(f"/api/alerts/{reached['id']}/ack").status_code == 200
        assert not [a for a in status(svc)["alerts"] if a["active"] and a["kind"].startswith("target")]
    finally:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop()
