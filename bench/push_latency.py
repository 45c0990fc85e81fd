"""Push latency: ``PushChannel.deliver()`` → the request at a local receiver, through Apprise.

    .venv/bin/python -m bench.push_latency [--count 200]

A receiver on loopback (tests/support/receiver.py, a stdlib HTTP server in a
thread) plays a self-hosted ntfy (``ntfy://127.0.0.1:PORT/kitchen``) and a
JSON webhook (``json://127.0.0.1:PORT/hook``). For each message the clock
starts as ``deliver()`` is called on the event loop and stops when the
receiver has read the request's whole body (both ``perf_counter`` in this
process); the time until ``deliver()`` answers is shown beside it. One
message at a time, a critical one with an ack URL (so ntfy's request carries
the priority and the action header), 20 ms apart.

The issue's goal is end to end: the line that decides → a push received,
p99 ≤ 250 ms. This measures the channel's share; ``measure`` and the receiver
are written to be reused by a bench that drives a real ``potwatch run``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import summary  # noqa: E402
from service.alarm.channel import AlarmMessage  # noqa: E402
from service.alarm.push import PushChannel  # noqa: E402
from service.core.events import AlertLevel  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402


def alarm(k: int) -> AlarmMessage:
    return AlarmMessage(
        alert_id=f"bench-{k}",
        kind="target_reached",
        level=AlertLevel.CRITICAL,
        title="Caramel at 225 °F",
        body=f"225 °F reached (224.9 °F). Take it off the heat. #{k}",
        spoken="Caramel at 225 degrees. Take it off the heat.",
        ack_url=f"http://127.0.0.1:8000/api/alerts/bench-{k}/ack",
        ack_token="bench-token",
    )


async def measure(channel: PushChannel, receiver: Receiver, count: int, gap_s: float = 0.02) -> dict[str, list[float]]:
    """Milliseconds from ``deliver()`` to the receiver having each request, and to ``deliver()``'s answer."""
    received: list[float] = []
    answered: list[float] = []
    for k in range(count):
        seen = len(receiver.requests)
        start = time.perf_counter()
        delivery = await channel.deliver(alarm(k))
        done = time.perf_counter()
        if not delivery.ok:
            raise SystemExit(f"{channel.name}: delivery {k} failed: {delivery.error}")
        got = receiver.wait_for(seen + 1)
        received.append((got.at - start) * 1000)
        answered.append((done - start) * 1000)
        await asyncio.sleep(gap_s)
    return {"deliver() → request received": received, "deliver() → Delivery answered": answered}


async def run(count: int) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    with Receiver() as receiver:
        for url in (f"ntfy://127.0.0.1:{receiver.port}/kitchen", f"json://127.0.0.1:{receiver.port}/hook"):
            channel = PushChannel(url)
            for what, values in (await measure(channel, receiver, count)).items():
                rows[f"{url.split(':', 1)[0]}:// {what}"] = values
            await channel.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200, help="messages per URL")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.count))
    width = max(len(k) for k in rows)
    for name, values in rows.items():
        print(f"  {name:<{width}}  {summary(values)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
