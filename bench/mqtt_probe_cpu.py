"""What one MQTT probe reading costs potwatch: CPU time, context switches and threads, not wall-clock time.

    .venv/bin/python -m bench.mqtt_probe_cpu [--readings 1000]

A wall-clock percentile on a shared machine measures the other users as much
as potwatch; the CPU time potwatch's process spends per reading, and how
often its threads are switched out, do not depend on them. A real ``potwatch
run`` reads an MQTT probe on a Mosquitto of the bench's own (as in
bench.mqtt_probe_latency, without Node-RED); a paho client publishes
``--readings`` values at QoS 1, each once the previous one's
``potwatch/probe/pot/temperature`` has reached a subscriber. Before and after,
the bench reads the process's CPU time (``/proc/<pid>/stat``) and, summed over
its threads, the voluntary and involuntary context switches
(``/proc/<pid>/task/*/status``) and the time they were ready to run but
waited for a CPU (``/proc/<pid>/task/*/schedstat``): on a loaded machine, the
part of the latency that is the machine's, not potwatch's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mqtt_latency import Subscriber, potwatch_on  # noqa: E402
from bench.mqtt_probe_latency import POTWATCH_TOPIC, PROBE_TOPIC, Probe, _value_on  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def service_pid(config: Path) -> int:
    """The ``potwatch run`` reading ``config`` (the bench's launcher does not say its pid)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(config).encode() in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    raise SystemExit(f"no process runs with {config}")


def counters(pid: int) -> tuple[tuple[float, float], int, int, int, float]:
    """CPU seconds (user, system), voluntary and involuntary switches over all threads, the threads,
    and the seconds its threads were ready to run but waited for a CPU (``schedstat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = int(fields[11]) / TICKS, int(fields[12]) / TICKS
    voluntary = involuntary = threads = 0
    waited = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            waited += int((task / "schedstat").read_text().split()[1]) / 1e9
        except OSError:
            continue
        threads += 1
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    return cpu, voluntary, involuntary, threads, waited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=1000)
    args = parser.parse_args(argv)
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        raise SystemExit("mosquitto not found: install the Debian package 'mosquitto'")
    where = Path(tempfile.mkdtemp(prefix="pw-mqtt-cpu-bench-"))
    broker = Broker(binary, where, [])
    broker.start()
    try:
        sub = Subscriber(broker, [POTWATCH_TOPIC], "sub-cpu")
        probe = Probe(broker, "probe")
        url = f"mqtt://{broker.host}:{broker.port}/{PROBE_TOPIC}?format=number&unit=F"
        try:
            with potwatch_on(broker, url, where):
                pid = service_pid(where / "potwatch.toml")
                wait_until(
                    lambda: (probe.publish(PROBE_TOPIC, 100.0), _arrived(sub, 100.0))[1],
                    30,
                    "the first reading through potwatch",
                    every=0.2,
                )
                time.sleep(1.0)
                cpu0, vol0, invol0, _, wait0 = counters(pid)
                began = time.monotonic()
                for k in range(args.readings):
                    value = round(150.0 + (k % 400) * 0.01 + (k // 400) * 5, 2)
                    seen = len(sub.messages)
                    probe.publish(PROBE_TOPIC, value)
                    sub.wait_for(seen, _value_on(POTWATCH_TOPIC, value))
                took = time.monotonic() - began
                cpu1, vol1, invol1, threads, wait1 = counters(pid)
        finally:
            probe.close()
            sub.close()
    finally:
        broker.kill()
    n = args.readings
    print(f"{n} readings in {took:.1f} s; potwatch: {threads} threads; load average {os.getloadavg()[0]:.2f}")
    user, system = ((cpu1[i] - cpu0[i]) / n * 1e6 for i in (0, 1))
    print(f"  CPU per reading                 {user + system:8.0f} µs ({user:.0f} user, {system:.0f} system)")
    print(f"  voluntary switches per reading  {(vol1 - vol0) / n:8.2f}")
    print(f"  involuntary switches per reading{(invol1 - invol0) / n:8.2f}")
    print(f"  waiting for a CPU per reading   {(wait1 - wait0) / n * 1e6:8.0f} µs (ready to run, not running)")
    print(f"  wall time per reading           {took / n * 1e6:8.0f} µs (publish → subscriber, the whole round)")
    return 0


def _arrived(sub: Subscriber, value: float) -> bool:
    try:
        sub.wait_for(0, _value_on(POTWATCH_TOPIC, value), timeout=0.2)
        return True
    except TimeoutError:
        return False


if __name__ == "__main__":
    sys.exit(main())
