"""`potwatch demo` tells a whole evening: the braise, a caramel approach one can watch, the alarm,
the pot taken off the heat, and the cook ending, with no burnt sugar."""

from __future__ import annotations

from pathlib import Path

from tests.support.net import free_port
from tests.support.service import ServiceProcess, SseEvent, sse

SPEED = 600.0
WATCHED_S = 5.0  # the approach warning stays up at least this many real seconds
STORY_S = 150.0  # the braise is ~15 s at 600x, the caramel's end well under a minute


def alert_kinds(events: list[SseEvent]) -> list[str]:
    return [e.data["kind"] for e in events if e.event == "alert"]


def first_alert(events: list[SseEvent], kind: str) -> float:
    return next(e.arrived for e in events if e.event == "alert" and e.data["kind"] == kind)


def test_the_demo_cooks_rillons_to_the_end_without_burning_the_caramel(tmp_path: Path) -> None:
    args = ["demo", "--speed", f"{SPEED:g}", "--state-dir", str(tmp_path / "state")]
    service = ServiceProcess(args, tmp_path / "demo.log", free_port())
    # Last-Event-ID 0: whatever happened before the stream opened (the braise starts at once) comes too
    with service, sse(f"{service.base}/api/events", {"Last-Event-ID": "0"}) as stream:
        events: list[SseEvent] = []
        stream.take("cook_ended", STORY_S, seen=events)
        log = service.log()

    kinds = alert_kinds(events)
    for kind in ("hold_reached", "hold_done", "target_approaching", "target_reached"):
        assert kind in kinds, f"no {kind} in {kinds}\n{log}"
    assert "target_overshoot" not in kinds, log
    approaching, reached = first_alert(events, "target_approaching"), first_alert(events, "target_reached")
    assert reached - approaching >= WATCHED_S, f"the warning was up {reached - approaching:.1f} s only\n{log}"
    after = [e.data["fahrenheit"] for e in events if e.arrived >= reached and e.event == "reading"]
    after = [f for f in after if f is not None]
    assert after and max(after) < 230.0, after
    assert after[-1] <= max(after) - 4.0, f"the pot was never taken off the heat: {after[-10:]}"
    assert events[-1].data.get("outcome") == "done", events[-1].data
