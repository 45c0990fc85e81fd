"""The alarm part's own share of the latency: the line that decides → each channel's delivery begins, and ack → silent.

    .venv/bin/python -m bench.alarm_latency [--trials 200] [--push-delay 0.0]
    .venv/bin/python -m bench.alarm_latency --real-push [--trials 200]

In-process: a hub on a hand clock (the pot's time moves a second per sample;
the latency is measured on the real one) with a caramel cook and the alarm part
with three recording channels (push, buzzer, voice; ``--push-delay`` makes
the push take that long, as a slow service would). Each trial feeds a fresh
cook a climb through 225 °F; the clock starts when the sample that decides is
handed to the hub and stops when each channel's ``deliver`` is called. Then
the alert is acknowledged through the hub (as the API and MQTT do) and the
clock runs until the last channel's ``silence`` has returned.

What a real channel adds (Apprise's HTTP, gpiozero's pin write, espeak-ng) is
not there: that is the floor the dispatcher and the part put under it. With
``--real-push`` the push channels are real (``PushChannel`` through Apprise,
``json://`` and ``ntfy://`` to a local HTTP receiver, as a self-hosted ntfy
would be), and the clock stops when each push's request has fully arrived:
the issue's "line that decides → push received".
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.stats import summary
from service.alarm.part import AlarmPart
from service.config import AlarmConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Acknowledge, AlertRaised, Sample, StartCook
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.hub import Hub
from tests.support.alarm import RecordingChannel
from tests.support.clock import HandClock
from tests.support.receiver import Receiver


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


async def real_trial(receiver: Receiver) -> dict[str, float]:
    """One cook through 225 °F with real push channels: the deciding sample → each request arrived."""
    from service.alarm.push import push_channels

    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot", 10.0)]), clock, load_profiles())
    base = f"{receiver.host}:{receiver.port}"
    pushes = push_channels([f"json://{base}/hook", f"ntfy://{base}/kitchen"])
    part = AlarmPart.from_config(list(pushes), AlarmConfig(), page_url=None, token="")
    part.attach(hub)
    tasks = [asyncio.create_task(hub.run()), asyncio.create_task(part.run())]
    before = len(receiver.requests)
    try:
        await hub.request(StartCook(clock.t, hub.profiles["caramel"], "pot"))
        decided = 0.0
        for i in range(200):
            clock.t += 1.0
            sent = time.perf_counter()
            outputs = await hub.request(Sample(clock.t, "pot", "", f_to_c(220.0 + 0.1 * i)))
            if any(isinstance(o, AlertRaised) and o.alert.kind.value == "target_reached" for o in outputs):
                decided = sent
                break
        if not decided:
            raise RuntimeError("the caramel never reached 225 °F")
        # ntfy posts to the server's root with the topic in the body; anything pushed before the
        # deciding sample (a warning) is left out
        wanted = ("/hook", "/")
        got: dict[str, float] = {}
        while len(got) < len(wanted):
            await asyncio.sleep(0.001)
            for r in receiver.requests[before:]:
                if r.at >= decided and r.path in wanted and r.path not in got:
                    got[r.path] = r.at - decided
        return {"json": got["/hook"], "ntfy": got["/"]}
    finally:
        await part.close()
        for channel in pushes:
            await channel.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def real_main(trials: int) -> None:
    received: dict[str, list[float]] = {"json": [], "ntfy": []}
    with Receiver() as receiver:
        for _ in range(trials):
            for kind, value in (await real_trial(receiver)).items():
                received[kind].append(value)
    print(f"{trials} trials, real push channels to a local receiver")
    for kind, values in received.items():
        print(f"  decided → {kind}:// request received: {summary([v * 1000 for v in values])}")


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
        print(f"  decided → {kind} deliver(): {summary([v * 1000 for v in values])}")
    print(f"  ack → last channel silent: {summary([v * 1000 for v in silent])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--push-delay", type=float, default=0.0, help="seconds each push takes")
    parser.add_argument("--real-push", action="store_true", help="real Apprise channels to a local receiver")
    args = parser.parse_args()
    if args.real_push:
        asyncio.run(real_main(args.trials))
    else:
        asyncio.run(main_async(args.trials, args.push_delay))


if __name__ == "__main__":
    main()
