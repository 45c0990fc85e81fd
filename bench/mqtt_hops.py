"""Where an MQTT probe's milliseconds go, hop by hop, from a packet capture of bench.mqtt_probe_latency.

    tcpdump -i lo -s 400 -U -w /tmp/probe.pcap tcp &       # then, while it runs:
    .venv/bin/python -m bench.mqtt_probe_latency --readings 300 --alerts 100 --broker-nodelay off
    .venv/bin/python -m bench.mqtt_hops /tmp/probe.pcap

Each reading the bench's probe publishes is followed through the capture by
its value: the probe's PUBLISH reaching the broker's port (t0), the broker's
copy to potwatch's probe connection (t1), potwatch's PUBLISH of
``potwatch/probe/pot/temperature`` (t2) and the broker's copy of it to the
subscriber (t3). The hops: the broker in (t1 − t0), potwatch itself (t2 − t1:
read, decode, the hub, the publisher, the write), the broker out (t3 − t2).
An alert is timed from the last probe message potwatch's connection got
before it (the reading that decided) to its ``potwatch/cook/alert`` PUBLISH,
and on to the subscriber. A broker → subscriber copy that left within
0.3 ms of an ACK from the subscriber, after waiting more than 5 ms, was held
by the broker's Nagle for that ACK: counted apart.

The capture's time stamps are the kernel's, as the packets cross loopback:
no Python thread's scheduling is in them, unlike the bench's own figures.
"""

from __future__ import annotations

import argparse
import bisect
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.stats import summary

PROBE_TOPIC = b"kitchen/pot/temperature"
POTWATCH_TOPIC = b"potwatch/probe/pot/temperature"
ALERT_TOPIC = b"potwatch/cook/alert"
FAHRENHEIT = re.compile(rb'"fahrenheit":\s*(-?[0-9.]+)')


@dataclass(frozen=True)
class Segment:
    t: float
    src: int
    dst: int
    payload: bytes


@dataclass(frozen=True)
class Publish:
    t: float
    src: int
    dst: int
    topic: bytes
    payload: bytes


def segments(path: Path) -> Iterator[Segment]:
    """TCP segments of an Ethernet (Linux loopback) pcap, IPv4 and IPv6."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    scale = {0xA1B2C3D4: 1e-6, 0xA1B23C4D: 1e-9}.get(magic)
    if scale is None:
        raise SystemExit(f"{path}: not a little-endian pcap file")
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[pos : pos + 16])
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if len(frame) < 14:
            continue
        ethertype = struct.unpack("!H", frame[12:14])[0]
        if ethertype == 0x0800:
            ihl = (frame[14] & 0x0F) * 4
            if frame[23] != 6:
                continue
            tcp = frame[14 + ihl :]
        elif ethertype == 0x86DD:
            if frame[20] != 6:
                continue
            tcp = frame[54:]
        else:
            continue
        if len(tcp) < 20:
            continue
        src, dst = struct.unpack("!HH", tcp[:4])
        offset = (tcp[12] >> 4) * 4
        yield Segment(sec + frac * scale, src, dst, tcp[offset:])


def publishes(seg: Segment) -> Iterator[Publish]:
    """The MQTT PUBLISH packets a segment starts with (as far as the snapshot goes)."""
    buf, pos = seg.payload, 0
    while pos + 2 <= len(buf):
        first = buf[pos]
        length, mult, i = 0, 1, pos + 1
        while i < len(buf):
            byte = buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
        else:
            return
        body = buf[i : i + length]
        if first >> 4 == 3 and len(body) >= 2:
            topic_len = struct.unpack("!H", body[:2])[0]
            topic = body[2 : 2 + topic_len]
            skip = 2 + topic_len + (2 if (first >> 1) & 3 else 0)
            yield Publish(seg.t, seg.src, seg.dst, topic, body[skip:])
        elif first >> 4 not in range(1, 15):
            return  # not MQTT (an HTTP stream, another test's traffic)
        pos = i + length


def value_of(p: Publish) -> float | None:
    try:
        if p.topic == PROBE_TOPIC:
            return float(p.payload)
        found = FAHRENHEIT.search(p.payload)
        return float(found.group(1)) if found else None
    except ValueError:
        return None


def first_after(times: list[float], values: list[float | None], after: float, value: float | None) -> float | None:
    i = bisect.bisect_right(times, after)
    while i < len(times):
        if value is None or values[i] == value:
            return times[i]
        i += 1
    return None


def analyse(path: Path) -> None:
    segs = list(segments(path))
    pubs = [p for s in segs for p in publishes(s)]
    probe_out = next((p for p in pubs if p.topic == PROBE_TOPIC), None)
    if probe_out is None:
        raise SystemExit("no probe PUBLISH in the capture")
    broker = probe_out.dst
    publisher = next(p.src for p in pubs if p.dst == broker and p.topic.startswith(b"potwatch/"))
    node_red = next((p.src for p in pubs if p.dst == broker and p.topic.startswith(b"nodered/")), None)
    # (the publisher hears its own readings too: it reads back its retained probe topics)
    subscriber = next(p.dst for p in pubs if p.src == broker and p.topic == POTWATCH_TOPIC and p.dst != publisher)
    probe_conn = next(p.dst for p in pubs if p.src == broker and p.topic == PROBE_TOPIC and p.dst != node_red)

    def series(keep: list[Publish]) -> tuple[list[float], list[float | None]]:
        return [p.t for p in keep], [value_of(p) for p in keep]

    t0 = [p for p in pubs if p.dst == broker and p.topic == PROBE_TOPIC and p.src != publisher]
    t1_t, t1_v = series([p for p in pubs if p.src == broker and p.dst == probe_conn and p.topic == PROBE_TOPIC])
    t2_t, t2_v = series([p for p in pubs if p.src == publisher and p.dst == broker and p.topic == POTWATCH_TOPIC])
    t3_t, t3_v = series([p for p in pubs if p.src == broker and p.dst == subscriber and p.topic == POTWATCH_TOPIC])
    acks = sorted(s.t for s in segs if s.src == subscriber and s.dst == broker and not s.payload)
    hops: dict[str, list[float]] = {k: [] for k in ("broker in", "potwatch", "broker out", "end to end")}
    held = 0
    for p in t0:
        v = value_of(p)
        t1 = first_after(t1_t, t1_v, p.t, v)
        t2 = first_after(t2_t, t2_v, t1, v) if t1 is not None else None
        t3 = first_after(t3_t, t3_v, t2, v) if t2 is not None else None
        if t1 is None or t2 is None or t3 is None:
            continue
        hops["broker in"].append((t1 - p.t) * 1000)
        hops["potwatch"].append((t2 - t1) * 1000)
        hops["broker out"].append((t3 - t2) * 1000)
        hops["end to end"].append((t3 - p.t) * 1000)
        i = bisect.bisect_left(acks, t3) - 1
        if t3 - t2 > 0.005 and i >= 0 and t2 < acks[i] and t3 - acks[i] < 0.0003:
            held += 1
    alerts: dict[str, list[float]] = {"deciding message → alert PUBLISH": [], "alert → subscriber": []}
    a2 = [p.t for p in pubs if p.src == publisher and p.dst == broker and p.topic == ALERT_TOPIC]
    a3 = [p.t for p in pubs if p.src == broker and p.dst == subscriber and p.topic == ALERT_TOPIC]
    for t in a2:
        i = bisect.bisect_left(t1_t, t) - 1
        j = bisect.bisect_right(a3, t)
        if i >= 0 and j < len(a3):
            alerts["deciding message → alert PUBLISH"].append((t - t1_t[i]) * 1000)
            alerts["alert → subscriber"].append((a3[j] - t) * 1000)
    print(f"{path}: broker :{broker}, potwatch publisher :{publisher}, probe :{probe_conn}, subscriber :{subscriber}")
    width = 34
    for name, values in hops.items():
        print(f"  reading, {name:<{width - 9}}  {summary(values)}")
    print(f"  (broker → subscriber held > 5 ms until the subscriber's ACK: {held} of {len(hops['potwatch'])})")
    for name, values in alerts.items():
        if values:
            print(f"  alert, {name:<{width - 7}}  {summary(values)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("pcap", type=Path)
    args = parser.parse_args(argv)
    analyse(args.pcap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
