"""What the line's load saw, judged: latencies matched publish to arrival, what was lost or late, and the verdict.

Pure (no clock, no I/O), so that ``tests/bench`` can show it fails a run that
lost one reading or in which a phone missed one event.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.stats import pct

Key = tuple[str, float]
LATE_S = 1.0  # a reading later than its successor's publish is late: the probes read once a second


@dataclass
class Route:
    """One way out (MQTT, or one phone): the latency of every reading published in the window that arrived."""

    latencies_ms: list[float] = field(default_factory=list)
    lost: int = 0
    late: int = 0


def match(sent: Mapping[Key, float], window: tuple[float, float], arrivals: Mapping[Key, float]) -> Route:
    """Each reading published inside ``window`` against its arrival (``monotonic`` seconds on both sides)."""
    path = Route()
    begin, end = window
    for key, at in sent.items():
        if not begin <= at <= end:
            continue
        got = arrivals.get(key)
        if got is None:
            path.lost += 1
            continue
        delay = got - at
        path.latencies_ms.append(delay * 1000)
        if delay > LATE_S:
            path.late += 1
    return path


def id_gaps(ids: Sequence[int]) -> int:
    """Bus event ids missing between a phone's first and last (ids go up by one; a reconnect would show here)."""
    if not ids:
        return 0
    missing = 0
    for before, after in itertools.pairwise(ids):
        if after != before + 1:
            missing += max(after - before - 1, 1)  # a repeat or a step back counts as one
    return missing


def common_ids(phones: Sequence[Sequence[int]]) -> tuple[int, int]:
    """The id range every phone should have seen in full: from the latest first id to the earliest last one."""
    return max(ids[0] for ids in phones), min(ids[-1] for ids in phones)


@dataclass
class Verdict:
    passed: bool
    reasons: list[str]


def judge(
    *,
    mqtt: Route,
    phones: Sequence[Route],
    phone_ids: Sequence[Sequence[int]],
    hub_dropped: int,
    published: int,
) -> Verdict:
    """Pass: every reading published in the window reached MQTT and every phone, and every phone saw every event."""
    reasons: list[str] = []
    if published == 0:
        reasons.append("no MQTT probe reading was published in the window")
    if mqtt.lost:
        reasons.append(f"{mqtt.lost} readings never reached the MQTT subscriber")
    lost_phones = [p.lost for p in phones if p.lost]
    if lost_phones:
        reasons.append(f"{len(lost_phones)} phones missed readings ({sum(lost_phones)} in all)")
    if hub_dropped < 0:
        reasons.append("the service did not answer /metrics within 30 s")
    elif hub_dropped:
        reasons.append(f"the hub dropped {hub_dropped} readings (inbox full)")
    gaps = [id_gaps(ids) for ids in phone_ids]
    if any(gaps):
        reasons.append(f"phones skipped bus events: {sum(gaps)} ids missing")
    if phone_ids and all(phone_ids):
        first, last = common_ids(phone_ids)
        short = [len([i for i in ids if first <= i <= last]) for ids in phone_ids]
        if any(n != last - first + 1 for n in short):
            reasons.append("phones did not all see the same events")
    elif phone_ids:
        reasons.append("a phone saw no event at all")
    return Verdict(passed=not reasons, reasons=reasons)


def summarise(path: Route) -> dict[str, float | int | None]:
    lat = path.latencies_ms
    return {
        "p50_ms": round(pct(lat, 0.5), 2) if lat else None,
        "p99_ms": round(pct(lat, 0.99), 2) if lat else None,
        "max_ms": round(max(lat), 2) if lat else None,
        "n": len(lat),
        "lost": path.lost,
        "late": path.late,
    }


def merge(routes: Sequence[Route]) -> Route:
    """Every phone's latencies as one population (each phone is a cook looking at the page)."""
    out = Route()
    for path in routes:
        out.latencies_ms.extend(path.latencies_ms)
        out.lost += path.lost
        out.late += path.late
    return out
