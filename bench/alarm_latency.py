"""The alarm part's own share of the latency: the line that decides → each channel's delivery begins, and ack → silent.

    .venv/bin/python -m bench.alarm_latency [--trials 200] [--push-delay 0.0]

In-process: a hub on a hand clock (the pot's time moves a second per sample;
the latency is measured on the real one) with a caramel cook and the alarm part
with three recording channels (push, buzzer, voice; ``--push-delay`` makes
the push take that long, as a slow service would). Each trial feeds a fresh
cook a climb through 225 °F; the clock starts when the sample that decides is
handed to the hub and stops when each channel's ``deliver`` is called. Then
the alert is acknowledged through the hub (as the API and MQTT do) and the
clock runs until the last channel's ``silence`` has returned.

What a real channel adds (Apprise's HTTP, gpiozero's pin write, espeak-ng) is
not here: this is the floor the dispatcher and the part put under it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from service.alarm.part import AlarmPart
from service.config import AlarmConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Acknowledge, AlertRaised, Sample, StartCook
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.alarm import RecordingChannel
from tests.support.clock import HandClock


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def trial(push_delay: float) -> tuple[dict[str, float], float]:
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    channels = [RecordingChannel("push", delay_s=push_delay), RecordingChannel("buzzer"), RecordingChannel("voice")]
    part = AlarmPart.from_config(list(channels), AlarmConfig(), page_url=None, token="")
    part.attach(hub)
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(part.run())]
    try:
        await hub.request(StartCook(clock.t, hub.profiles["caramel"], "pot"))
        decided = 0.0
        alert_id = ""
        for i in range(200):
            clock.t += 1.0
            sent = time.monotonic()
            outputs = await hub.request(Sample(clock.t, "pot", "", f_to_c(220.0 + 0.1 * i)))
            raised = [o for o in outputs if isinstance(o, AlertRaised) and o.alert.kind.value == "target_reached"]
            if raised:
                decided, alert_id = sent, raised[0].alert.id
                break
        if not alert_id:
            raise RuntimeError("the caramel never reached 225 °F")
        while not all(c.messages(alert_id) for c in channels):
            await asyncio.sleep(0)
        began = {c.kind: next(d.at for d in c.deliveries if d.message.alert_id == alert_id) - decided for c in channels}
        acked = time.monotonic()
        await hub.request(Acknowledge(clock.t, alert_id))
        while not all(c.silent_since is not None and c.silent_since >= acked for c in channels):
            await asyncio.sleep(0)
        silent = max(c.silent_since or acked for c in channels) - acked
        return began, silent
    finally:
        await part.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def main_async(trials: int, push_delay: float) -> None:
    began: dict[str, list[float]] = {"push": [], "buzzer": [], "voice": []}
    silent: list[float] = []
    for _ in range(trials):
        b, s = await trial(push_delay)
        for kind, value in b.items():
            began[kind].append(value)
        silent.append(s)
    print(f"{trials} trials, push delay {push_delay:g} s")
    for kind, values in began.items():
        ms = [v * 1000 for v in values]
        print(
            f"  decided → {kind} deliver(): median {statistics.median(ms):.2f} ms, "
            f"p99 {quantile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms"
        )
    ms = [v * 1000 for v in silent]
    print(
        f"  ack → last channel silent: median {statistics.median(ms):.2f} ms, "
        f"p99 {quantile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--push-delay", type=float, default=0.0, help="seconds each push takes")
    args = parser.parse_args()
    asyncio.run(main_async(args.trials, args.push_delay))


if __name__ == "__main__":
    main()
