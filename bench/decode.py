"""Lines decoded per second, per serial format: bytes → framed line → text → readings.

A 115200-baud port carries at most ~11,500 bytes/s, i.e. roughly 1,000 lines
of 10 bytes each: the decoders must be far faster than that to be invisible
on a Raspberry Pi Zero. Run:

    .venv/bin/python -m bench.decode [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time

from drivers.formats import LineSplitter, decode_line, make_line_decoder

# Representative lines each device really prints (see tests/drivers/test_formats.py).
SAMPLES: dict[str, list[bytes]] = {
    "number": [b"107.25", b"-3.50", b"nan"],
    "unit": [b"C = 107.25", b"F = 225.05", b"Internal Temp = 24.12", "225.4 °F".encode()],
    "keyvalue": [b"T1=107.25,T2=98.5", b"T1=107.25 T2=nan"],
    "csv": [b"107.25,98.5,23.1", b"107.25,nan,23.1"],
    "json": [b'{"t": 107.2}', b'{"probes": [{"t": 1.5}, {"t": null}]}'],
    "tc4": [b"23.50,107.25,98.50,0,0", b"# Active channels set to 1200"],
}
# format=auto tries the formats in turn: its cost depends on the line.
AUTO: list[bytes] = [line for lines in SAMPLES.values() for line in lines if not line.startswith(b"#")]


def lines_per_second(fmt: str, lines: list[bytes], seconds: float) -> float:
    decoder = make_line_decoder(fmt)
    stream = b"".join(line + b"\r\n" for line in lines) * 50
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        splitter = LineSplitter()
        for raw in splitter.feed(stream):
            decode_line(decoder, raw)
            count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each format")
    args = parser.parse_args()
    print(f"{'format':<10} {'lines/s':>12}")
    for fmt, lines in [*SAMPLES.items(), ("auto", AUTO)]:
        print(f"{fmt:<10} {lines_per_second(fmt, lines, args.seconds):>12,.0f}")


if __name__ == "__main__":
    main()
