"""kill -9 of a real ``potwatch run`` mid-braise, the card damaged while it is down, then a restart.

The same kitchen as test_power_cut.py (a serial thermometer on a pty, a
reading every 0.1 s). While the service is down, the first 100 bytes of the
history file (SQLite's header) are overwritten, as a dying card or a bad
write can do. The restart must say so (an ERROR line, ``/healthz``), keep the
damaged file, and still resume the braise from what the file reads, at the
same stage, with the hold time it had counted.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.power_cut import (
    MISSING_AT_MOST_S,
    cook_of,
    kill_and_check_the_file,
    restart,
    service_for,
    until,
)
from tests.support.pty_device import PtyDevice, Thermometer


def test_a_damaged_header_after_a_kill_still_resumes_the_braise(
    tmp_path: Path,
    kitchen: tuple[PtyDevice, Thermometer],
) -> None:
    device, thermometer = kitchen
    svc = service_for(tmp_path, device, "braise-test").start()
    try:
        thermometer.fahrenheit = 195.0
        held = until(svc, "a few seconds held", lambda s: (s["cook"]["hold_elapsed_s"] or 0) >= 5.0 and s["cook"])
        before = cook_of(svc)["hold_elapsed_s"]
        kill_and_check_the_file(svc, tmp_path)
        thermometer.printing.clear()
        db = tmp_path / "state" / "potwatch.db"
        with db.open("r+b") as fh:
            fh.write(os.urandom(100))

        restart(svc, held["id"])
        cook = cook_of(svc)
        assert (cook["step"], cook["stage"]) == ("braise", "holding")
        assert before - MISSING_AT_MOST_S <= cook["hold_elapsed_s"] <= before + 1.0  # the hold time it had
        recording = svc.get("/healthz")["recording"]
        assert recording.startswith("salvaged into a new file: 1 cooks and "), recording
        (kept,) = [p for p in db.parent.glob("potwatch.db.unreadable-*") if not p.name.endswith(("-wal", "-shm"))]
        assert f"kept as {kept}" in recording
        assert "ERROR" in svc.log() and str(kept) in svc.log()
    finally:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop()
