"""kill -9 of a real ``potwatch run`` mid-braise, the card damaged while it is down, then a restart.

The same kitchen as test_power_cut.py (a serial thermometer on a pty, a
reading every 0.1 s). While the service is down, the first 100 bytes of the
history file (SQLite's header) are overwritten, as a dying card or a bad
write can do. The restart must say so (an ERROR line, ``/healthz``), keep the
damaged file, and still resume the braise from what the file reads, at the
same stage, with the acknowledged alert still acknowledged.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.test_power_cut import (  # noqa: F401 (kitchen: the fixture)
    Thermometer,
    cook_of,
    kill_and_check_the_file,
    kitchen,
    restart,
    service_for,
    until,
)
from tests.support.pty_device import PtyDevice


def test_a_damaged_header_after_a_kill_still_resumes_the_braise(
    tmp_path: Path,
    kitchen: tuple[PtyDevice, Thermometer],  # noqa: F811 (the fixture, imported above)
) -> None:
    device, thermometer = kitchen
    svc = service_for(tmp_path, device, "braise-test").start()
    try:
        thermometer.value = 195.0
        until(svc, "the braise holding", lambda s: s["cook"]["stage"] == "holding")
        thermometer.value = 212.0
        too_hot = until(svc, "hold_too_hot", lambda s: [a for a in s["alerts"] if a["kind"] == "hold_too_hot"])[0]
        assert svc.post(f"/api/alerts/{too_hot['id']}/ack").status_code == 200
        thermometer.value = 195.0
        held = until(svc, "a few seconds held", lambda s: s["cook"]["hold_elapsed_s"] >= 5.0 and s["cook"])
        kill_and_check_the_file(svc, tmp_path)
        thermometer.printing.clear()
        db = tmp_path / "state" / "potwatch.db"
        with db.open("r+b") as fh:
            fh.write(os.urandom(100))

        restart(svc, held["id"])
        cook = cook_of(svc)
        assert (cook["step"], cook["stage"]) == ("braise", "holding")
        acked = [a for a in svc.get("/api/status")["alerts"] if a["kind"] == "hold_too_hot"]
        assert [(a["id"], a["acked"]) for a in acked] == [(too_hot["id"], True)]
        recording = svc.get("/healthz")["recording"]
        assert recording.startswith("salvaged into a new file: 1 cooks and "), recording
        (kept,) = [p for p in db.parent.glob("potwatch.db.unreadable-*") if not p.name.endswith(("-wal", "-shm"))]
        assert f"kept as {kept}" in recording
        assert "ERROR" in svc.log() and str(kept) in svc.log()
    finally:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop()
