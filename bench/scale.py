"""A restaurant line on one core: N probes at 1 Hz, cooks, phones on SSE and an MQTT subscriber on everything.

    .venv/bin/python -m bench.scale [--probes 200] [--cooks 50] [--phones 20] [--seconds 60]
                                    [--mqtt-share 0.5] [--profile] [--sweep 200,500,1000]

A real ``potwatch run`` pinned to one core (``sched_setaffinity`` before it
starts), everything else on another: a Mosquitto of its own (never the one on
:1883), the probes' publisher, the phones and the subscriber, each a process
of its own (``bench/scale_load.py``). Half the probes (``--mqtt-share``) are
MQTT probes (``format=number``, °F) fed through that Mosquitto at QoS 1, one
reading a second each, every publish time-stamped; the others are ``sim://``
braise pots at real speed. ``--cooks`` cooks run, one per probe, alternately
a caramel on an MQTT probe and rillons on a simulated one.

Over ``--seconds`` (after a warm-up with everything connected):

- the service's CPU time from ``/proc/<pid>/stat`` (all threads) over wall
  time, and per event the hub handled (the figure other load distorts least);
  VmRSS and VmHWM;
- every MQTT probe reading published in the window, matched by value to its
  arrival at the MQTT subscriber (``<base>/probe/<id>/temperature``) and at
  each phone (its ``reading`` event): p50/p99, lost (not there 3 s after the
  window), late (over 1 s);
- each phone's event ids: none skipped, all phones the same events;
- the hub's dropped readings (``/metrics``).

It passes (exit 0) when nothing was lost or dropped and every phone saw every
event; latency is reported, not judged. ``--profile`` samples the service
with py-spy (``pip install -e '.[bench]'``; as root or with ptrace allowed)
for the window and prints the functions it spent its time in. ``--sweep``
runs each probe count in turn and stops after the first that fails or uses
more than 90 % of its core. The last line of output is the result as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale_load  # noqa: E402
from bench.procstat import cpu_seconds, cpu_wait_seconds, memory_mib, threads  # noqa: E402
from bench.scale_judge import id_gaps, judge, match, merge, summarise  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.tied_child import popen_tied, stop_group  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

POTWATCH = [sys.executable, "-m", "service.cli"]
WARMUP_S = 5.0
DRAIN_S = 3.0
BASE_TOPIC = "potwatch"


@dataclass(frozen=True)
class Line:
    probes: int
    cooks: int
    phones: int
    seconds: float
    mqtt_share: float = 0.5
    profile: bool = False
    tree: Path = ROOT  # the checkout whose service runs: another one measures a before beside an after


@dataclass(frozen=True)
class Kitchen:
    config: str
    mqtt: dict[str, str]  # probe id → its topic
    sim: list[str]
    cooks: list[tuple[str, str]]  # (probe, profile)


def kitchen(line: Line, broker: Broker, state_dir: Path) -> Kitchen:
    n_mqtt = round(line.probes * line.mqtt_share)
    mqtt = {f"m{i:04d}": f"line/m{i:04d}/temperature" for i in range(n_mqtt)}
    sim = [f"s{i:04d}" for i in range(line.probes - n_mqtt)]
    parts = [
        f'[storage]\nstate_dir = "{state_dir}"\n',
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\n',
    ]
    for probe, topic in mqtt.items():
        url = f"mqtt://{broker.host}:{broker.port}/{topic}?format=number&unit=F&lwt="
        parts.append(f'[[probes]]\nid = "{probe}"\nurl = "{url}"\nstale_after = "10s"\n')
    for i, probe in enumerate(sim):
        parts.append(f'[[probes]]\nid = "{probe}"\nurl = "sim://?kind=braise&seed={i + 1}"\nstale_after = "10s"\n')
    # half the cooks a caramel on an MQTT probe, half rillons on a simulated braise
    on_mqtt = min(len(mqtt), (line.cooks + 1) // 2)
    on_sim = min(len(sim), line.cooks - on_mqtt)
    cooks = [(p, "caramel") for p in list(mqtt)[:on_mqtt]] + [(p, "rillons") for p in sim[:on_sim]]
    return Kitchen("\n".join(parts), mqtt, sim, cooks)


def _pinned(core: int) -> Callable[[], None]:
    return lambda: os.sched_setaffinity(0, {core})


@contextlib.contextmanager
def potwatch(config: Path, log: Path, core: int, tree: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    with log.open("ab") as out:
        proc = popen_tied(  # no potwatch outlives a bench killed or interrupted
            [*POTWATCH, "run", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tree,  # ``-m`` puts the working directory first on the path: that tree's service runs
            start_new_session=True,
            preexec_fn=_pinned(core),
        )
    base = f"http://127.0.0.1:{port}"

    def mqtt_up() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"potwatch exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            return bool(httpx.get(base + "/healthz", timeout=2).json().get("mqtt", {}).get("state") == "connected")
        except httpx.HTTPError:
            return False

    try:
        wait_until(mqtt_up, 120, "potwatch to serve and connect to the broker")
        yield proc, base
    finally:
        stop_group(proc, 15)


def _metric(base: str, name: str) -> float:
    """One counter of ``/metrics``; NaN when the service does not answer in time (it is past its bend)."""
    try:
        text = httpx.get(base + "/metrics", timeout=30).text
    except httpx.HTTPError:
        return float("nan")
    found = re.search(rf"^{name}(?:\{{\}})? ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def _all_reading(base: str, expected: int) -> bool:
    probes = httpx.get(base + "/api/status", timeout=60).json()["probes"]
    return sum(1 for p in probes if p["state"] == "ok") >= expected


def _spawn(target: Callable[..., None], *args: Any) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs), daemon=True)
    proc.start()
    return proc, mine


def _profile(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install -e '.[bench]'")
    # --gil: only the thread holding the GIL, i.e. where the CPU goes; --nonblocking: never pause the service
    command = [spy, "record", "--pid", str(pid), "--rate", "50", "--nonblocking", "--gil"]
    return subprocess.Popen(
        [*command, "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _frame(frame: str) -> str:
    """``func (path/to/module.py:123)`` → ``func (to/module.py)``: one row per function, not per line."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    parts = Path(file).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else file
    return f"{name} ({short})"


# where the inclusive list looks: the service's own code, and the two library frames that
# stand for a whole part (each paho network thread; each phone's stream)
PARTS = ("service/", "drivers/")  # as py-spy names files: from the directory on sys.path
ENTRY_POINTS = ("Client._thread_main", "EventSourceResponse._stream_response")


def _ours(frame: str) -> bool:
    name, _, where = frame.partition(" (")
    if where.startswith("service/cli.py"):
        return False  # the command line: the whole event loop, every sample of it
    return where.startswith(PARTS) or name in ENTRY_POINTS


def top_functions(raw: str, n: int = 15) -> dict[str, list[tuple[str, float]]]:
    """py-spy's collapsed stacks → the functions with the most samples on top (own), and the service's
    own functions with the most samples anywhere in the stack (inclusive), in % of all samples."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("thread ", "process "))]
        if not frames:
            continue
        total += count
        own[_frame(frames[-1])] += count
        for frame in {_frame(f) for f in frames if _ours(f)}:
            anywhere[frame] += count
    if not total:
        return {"own": [], "inclusive": []}
    return {
        "own": [(f, round(100 * c / total, 1)) for f, c in own.most_common(n)],
        "inclusive": [(f, round(100 * c / total, 1)) for f, c in anywhere.most_common(n)],
    }


def run(line: Line, *, service_core: int, load_core: int, keep: Path | None = None) -> dict[str, Any]:
    """One run of the line; the figures and the verdict as a dict."""
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        raise SystemExit("mosquitto not found: install the Debian package 'mosquitto'")
    tmp = keep or Path(tempfile.mkdtemp(prefix="pw-scale-"))
    os.sched_setaffinity(0, {load_core})  # the broker and the load processes inherit it
    broker = Broker(binary, tmp)
    broker.start()
    kit = kitchen(line, broker, tmp / "state")
    config = tmp / "potwatch.toml"
    config.write_text(kit.config)
    stop = multiprocessing.get_context("spawn").Event()
    procs: list[multiprocessing.process.BaseProcess] = []
    try:
        with potwatch(config, tmp / "service.log", service_core, line.tree) as (service, base):
            publisher, from_publisher = _spawn(scale_load.publish_probes, broker.host, broker.port, kit.mqtt, stop)
            procs.append(publisher)
            wait_until(lambda: _all_reading(base, line.probes), 180, f"all {line.probes} probes to read")
            for probe, profile in kit.cooks:
                answer = httpx.post(base + "/api/cooks", json={"profile": profile, "probe": probe}, timeout=60)
                if answer.status_code != 201:
                    raise SystemExit(f"cook on {probe}: {answer.status_code} {answer.text}")
            subscriber, from_subscriber = _spawn(scale_load.subscribe_all, broker.host, broker.port, BASE_TOPIC, stop)
            procs.append(subscriber)
            if not from_subscriber.poll(10):
                raise SystemExit("the MQTT subscriber did not subscribe")
            from_subscriber.recv()
            per_process = 5
            phone_pipes: list[Connection] = []
            for first in range(0, line.phones, per_process):
                count = min(per_process, line.phones - first)
                phones, pipe = _spawn(scale_load.follow_phones, "127.0.0.1", int(base.rsplit(":", 1)[1]), count, stop)
                procs.append(phones)
                phone_pipes.append(pipe)
            for pipe in phone_pipes:
                if not pipe.poll(20):
                    raise SystemExit("the phones did not connect")
                pipe.recv()
            time.sleep(WARMUP_S)

            spy_out = tmp / "profile.txt"
            spy = _profile(service.pid, spy_out) if line.profile else None
            handled0 = _metric(base, "potwatch_events_handled_total")
            cpu0, wait0, begin = cpu_seconds(service.pid), cpu_wait_seconds(service.pid), time.monotonic()
            time.sleep(line.seconds)
            end, cpu1, wait1 = time.monotonic(), cpu_seconds(service.pid), cpu_wait_seconds(service.pid)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            handled1 = _metric(base, "potwatch_events_handled_total")
            memory, service_threads = memory_mib(service.pid), threads(service.pid)
            time.sleep(DRAIN_S)
            dropped = _metric(base, "potwatch_readings_dropped_total")
            stop.set()
            sent = from_publisher.recv()
            arrivals = from_subscriber.recv()
            phone_results = [r for pipe in phone_pipes for r in pipe.recv()]
            profile = None
            if spy is not None:
                _, err = spy.communicate(timeout=120)
                if not spy_out.exists():
                    raise SystemExit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
                profile = top_functions(spy_out.read_text())
    finally:
        stop.set()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        broker.kill()

    window = (begin, end)
    mqtt_route = match(sent["sent"], window, arrivals["arrivals"])
    phone_routes = [match(sent["sent"], window, r["readings"]) for r in phone_results]
    published = sum(1 for at in sent["sent"].values() if begin <= at <= end)
    verdict = judge(
        mqtt=mqtt_route,
        phones=phone_routes,
        phone_ids=[list(r["ids"]) for r in phone_results],
        hub_dropped=-1 if math.isnan(dropped) else int(dropped),
        published=published,
    )
    wall = end - begin
    events = handled1 - handled0
    return {
        "probes": line.probes,
        "mqtt_probes": len(kit.mqtt),
        "sim_probes": len(kit.sim),
        "cooks": len(kit.cooks),
        "phones": line.phones,
        "seconds": round(wall, 1),
        "cpu_share": round((cpu1 - cpu0) / wall, 3),
        "cpu_wait_share": round((wait1 - wait0) / wall, 3),
        "events_handled": None if math.isnan(events) else int(events),
        "cpu_us_per_event": round(1e6 * (cpu1 - cpu0) / events, 1) if events > 0 else None,
        "vm_rss_mib": round(memory["VmRSS"], 1),
        "vm_hwm_mib": round(memory["VmHWM"], 1),
        "threads": service_threads,
        "published": published,
        "publisher_late": sent["late"],
        "mqtt": summarise(mqtt_route),
        "sse": summarise(merge(phone_routes)),
        "sim_readings_per_phone": min((r["sim"] for r in phone_results), default=0),
        "phone_reconnects": sum(r["reconnects"] for r in phone_results),
        "phone_id_gaps": sum(id_gaps(list(r["ids"])) for r in phone_results),
        "subscriber_messages": arrivals["messages"],
        "hub_dropped": None if math.isnan(dropped) else int(dropped),
        "passed": verdict.passed,
        "reasons": verdict.reasons,
        "profile": profile,
        "loadavg": os.getloadavg(),
        "tree": str(line.tree),
        "service_core": service_core,
        "load_core": load_core,
    }


def table(result: dict[str, Any]) -> str:
    mqtt, sse = result["mqtt"], result["sse"]

    def lat(r: dict[str, Any]) -> str:
        if not r["n"]:
            return "no arrivals"
        return (
            f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  max {r['max_ms']:7.2f} ms  "
            f"(n={r['n']}, lost {r['lost']}, late {r['late']})"
        )

    rows = [
        (
            "line",
            f"{result['probes']} probes ({result['mqtt_probes']} MQTT, {result['sim_probes']} sim) at 1 Hz, "
            f"{result['cooks']} cooks, {result['phones']} phones, 1 MQTT subscriber, {result['seconds']} s",
        ),
        (
            "service CPU",
            f"{100 * result['cpu_share']:.1f} % of core {result['service_core']} "
            f"(and {100 * result['cpu_wait_share']:.1f} % of the time runnable, waiting for it)",
        ),
        ("CPU per event", f"{result['cpu_us_per_event']} µs ({result['events_handled']} events handled)"),
        ("memory", f"VmRSS {result['vm_rss_mib']} MiB, VmHWM {result['vm_hwm_mib']} MiB, {result['threads']} threads"),
        ("reading → MQTT", lat(mqtt)),
        ("reading → SSE", lat(sse) + f", all {result['phones']} phones"),
        (
            "counts",
            f"published {result['published']} (late from the publisher: {result['publisher_late']}), "
            f"hub dropped {result['hub_dropped']}, phone id gaps {result['phone_id_gaps']}, "
            f"phones cut off and resumed {result['phone_reconnects']}, "
            f"sim readings per phone {result['sim_readings_per_phone']}",
        ),
        ("load average", " ".join(f"{x:.2f}" for x in result["loadavg"])),
        ("verdict", "PASS" if result["passed"] else "FAIL: " + "; ".join(result["reasons"])),
    ]
    width = max(len(k) for k, _ in rows)
    out = [f"  {k:<{width}}  {v}" for k, v in rows]
    if result["profile"]:
        for kind, what in (("own", "on top of the stack"), ("inclusive", "anywhere in the stack, the service's own")):
            out.append(f"  py-spy --gil, {what} (% of samples):")
            out.extend(f"    {share:5.1f}  {name}" for name, share in result["profile"][kind])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--cooks", type=int, default=50)
    parser.add_argument("--phones", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--mqtt-share", type=float, default=0.5, help="the share of MQTT probes (the rest simulated)")
    parser.add_argument("--profile", action="store_true", help="sample the service with py-spy over the window")
    parser.add_argument("--sweep", help="probe counts to step through, e.g. 200,500,1000")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="run the service of another checkout (a before beside an after)"
    )
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("needs two cores: one for the service, one for the load")
    service_core, load_core = cores[0], cores[-1]
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.probes]
    results = []
    for n in counts:
        line = Line(n, args.cooks, args.phones, args.seconds, args.mqtt_share, args.profile, args.tree.resolve())
        try:
            result = run(line, service_core=service_core, load_core=load_core)
        except (AssertionError, httpx.HTTPError) as exc:
            # past the bend the service may not even come up: that is a result, not a crash
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result = {"probes": n, "passed": False, "reasons": [reason], "loadavg": os.getloadavg()}
            results.append(result)
            print(f"  {n} probes: FAIL: {reason}", flush=True)
            break
        results.append(result)
        print(table(result), flush=True)
        print(flush=True)
        if not result["passed"] or result["cpu_share"] > 0.9:
            break
    print(json.dumps(results if args.sweep else results[0]), flush=True)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
