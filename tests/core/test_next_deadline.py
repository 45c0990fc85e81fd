"""``Kitchen.next_deadline`` keeps the probes' deadlines in a heap: it must say what a scan of every probe says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Event, ProbeGone, Sample, Tick

PROBES = ["a", "b", "c", "d"]


def scanned(kitchen: Kitchen) -> float | None:
    """The earliest deadline by looking at every probe and cook, as the kitchen did before its heap."""
    found = [d for h in kitchen.probes.values() for d in (h.stale_deadline(), h.fault_deadline()) if d is not None]
    found += [
        d for c in kitchen.cooks.values() if c.ended_at is None for d in [c.machine.next_deadline()] if d is not None
    ]
    return min(found, default=None)


step = st.tuples(
    st.sampled_from(["reading", "fault", "tick", "gone"]),
    st.sampled_from(PROBES),
    st.floats(min_value=0.05, max_value=15.0),
    st.floats(min_value=20.0, max_value=120.0),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=120), st.sampled_from([None, 5.0, 10.0]))
def test_next_deadline_is_the_earliest_of_every_probe(
    steps: list[tuple[str, str, float, float]], stale: float | None
) -> None:
    """Pass: after every reading, fault reading, tick and lost probe, the heap's answer equals the scan's."""
    kitchen = Kitchen([ProbeSetup(p, stale_after=stale) for p in PROBES])
    at = 0.0
    assert kitchen.next_deadline() == scanned(kitchen)
    for kind, probe, dt, celsius in steps:
        at += dt
        event: Event
        if kind == "reading":
            event = Sample(at, probe, "", celsius)
        elif kind == "fault":
            event = Sample(at, probe, "", None, fault="open circuit")
        elif kind == "tick":
            event = Tick(at)
        else:
            event = ProbeGone(at, probe, "unplugged")
        kitchen.handle(event)
        assert kitchen.next_deadline() == scanned(kitchen)
