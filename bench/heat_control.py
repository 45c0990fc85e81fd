"""The heat controller in a closed loop: a braise held, a caramel stopped, across stoves and probes.

    .venv/bin/python -m bench.heat_control [--markdown] [--seeds 3] [--max-lead 10] [--carryover 0]

The simulated pot of drivers/simulated.py with a plug-driven heater of
0.5–2.5 kW and a probe of lag 1–25 s (tests/support/heat_loop.py), controlled
by service/core/heat with its defaults (30 s minimum on and off times,
hysteresis hold) and a lead of the probe's lag + 3 s. Goals (issue 18):

* braise (hysteresis, the default; the PID beside it, not judged): inside
  185–205 °F ≥ 99 % of the 2 h after the pot first enters it, and no on or off
  run shorter than the relay's 30 s;
* caramel: the syrup's own peak (where it lands, the heat off) within
  225 °F −0.5 … +1 °F, with no carryover configured (0 °F).

The lead's "+ 3 s" was tuned on the default caramel, seed 1; the other seeds
(other probe noise), a heavier syrup started warm (300 g sugar in 300 g of
water from 70 °C) and a hotplate whose element keeps heating for a minute
after the plug opens (lead + 60 s) were not tuned on.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.simulated import Pot
from service.core.heat.params import HeatParams, HoldLaw
from tests.support.heat_loop import (
    CARAMEL_F,
    braise_inside_fraction,
    braise_pot,
    braise_step,
    caramel_peak_f,
    caramel_pot,
    caramel_step,
    lead_for,
    run_loop,
    shortest_runs,
)

POWERS_W = (500.0, 1000.0, 1500.0, 2000.0, 2500.0)
LAGS_S = (1.0, 5.0, 15.0, 25.0)
BRAISE_GOAL = 0.99
LAND_F = (-0.5, 1.0)
HOTPLATE_TAU_S = 60.0


@dataclass(frozen=True)
class Caramel:
    label: str
    pot: Callable[[], Pot]
    element_tau_s: float = 0.0
    tuned: bool = False


def caramels(seeds: int) -> list[tuple[Caramel, int]]:
    default = Caramel("default caramel", caramel_pot)
    return [
        (Caramel("default caramel (tuned on)", caramel_pot, tuned=True), 1),
        *((default, seed) for seed in range(2, seeds + 1)),
        (Caramel("300 g sugar in 300 g, from 70 °C", lambda: caramel_pot(70.0, 300.0, 300.0)), 1),
        (Caramel(f"hotplate, element τ {HOTPLATE_TAU_S:g} s", caramel_pot, element_tau_s=HOTPLATE_TAU_S), 1),
    ]


def braise_row(power: float, tau: float, law: HoldLaw = HoldLaw.HYSTERESIS) -> dict[str, float | None]:
    params = HeatParams(lead_s=lead_for(tau), hold_law=law)
    record = run_loop(braise_pot(), braise_step(), params, power_w=power, tau_s=tau, seconds=3.5 * 3600.0)
    on_s, off_s = shortest_runs(record)
    return {
        "inside": braise_inside_fraction(record),
        "switches": float(len(record.switches())),
        "shortest_on": on_s,
        "shortest_off": off_s,
    }


@dataclass(frozen=True)
class Reach:
    """The caramels' reach settings a run tries (the controller's defaults unless given)."""

    max_lead_f: float = 10.0
    carryover_f: float = 0.0


def caramel_miss(c: Caramel, seed: int, power: float, tau: float, reach: Reach = Reach()) -> float:
    params = HeatParams(
        lead_s=lead_for(tau) + c.element_tau_s,
        max_lead_c=reach.max_lead_f / 1.8,
        carryover_c=reach.carryover_f / 1.8,
    )
    record = run_loop(
        c.pot(),
        caramel_step(),
        params,
        power_w=power,
        tau_s=tau,
        seconds=4 * 3600.0,
        seed=seed,
        element_tau_s=c.element_tau_s,
    )
    return caramel_peak_f(record) - CARAMEL_F


def report(seeds: int, markdown: bool, reach: Reach = Reach()) -> tuple[str, bool]:
    lines = [
        "| power | lag | braise inside | switches | shortest on / off | braise inside, pid "
        "| caramel lands (°F past 225) by corpus |",
        "|---|---|---|---|---|---|---|",
    ]
    corpora = caramels(seeds)
    misses: dict[str, list[float]] = {}
    braises: list[dict[str, float | None]] = []
    ok = True
    for power in POWERS_W:
        for tau in LAGS_S:
            b = braise_row(power, tau)
            braises.append(b)
            pid = braise_row(power, tau, HoldLaw.PID)["inside"]
            lands = []
            for c, seed in corpora:
                miss = caramel_miss(c, seed, power, tau, reach)
                misses.setdefault(f"{c.label}, seed {seed}", []).append(miss)
                lands.append(f"{miss:+.2f}")
            inside = b["inside"]
            lines.append(
                f"| {power / 1000:.1f} kW | {tau:g} s | {'—' if inside is None else f'{100 * inside:.2f} %'} | "
                f"{b['switches']:.0f} | {b['shortest_on']:.0f} / {b['shortest_off']:.0f} s | "
                f"{'—' if pid is None else f'{100 * pid:.2f} %'} | {' '.join(lands)} |"
            )
    lines += ["", "caramel corpora, in the column's order:"]
    for name, values in misses.items():
        inside = sum(LAND_F[0] <= v <= LAND_F[1] for v in values)
        lines.append(
            f"- {name}: {min(values):+.2f} … {max(values):+.2f} °F, {inside} of {len(values)} within "
            f"{LAND_F[0]:+g} … {LAND_F[1]:+g} °F"
        )
        ok = ok and inside == len(values)
    held = [b["inside"] for b in braises]
    good = sum(1 for h in held if h is not None and h >= BRAISE_GOAL)
    relay = all(min(b["shortest_on"] or 0.0, b["shortest_off"] or 0.0) >= 30.0 for b in braises)
    lines.append(
        f"- braise: {good} of {len(held)} held ≥ {100 * BRAISE_GOAL:g} % of the 2 h; relay runs ≥ 30 s: {relay}"
    )
    ok = ok and good == len(held) and relay
    text = "\n".join(lines)
    return (text if markdown else text.replace("|---", "")), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the default caramel (1 was tuned on)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--max-lead", type=float, default=10.0, help="the caramels' max_lead, °F (the controller's default: 10)"
    )
    parser.add_argument(
        "--carryover", type=float, default=0.0, help="the caramels' carryover, °F (the controller's default: 0)"
    )
    args = parser.parse_args(argv)
    cpu = time.process_time()
    text, ok = report(args.seeds, args.markdown, Reach(args.max_lead, args.carryover))
    print(text)
    print(f"\ncaramels' reach: carryover {args.carryover:g} °F, max_lead {args.max_lead:g} °F")
    print(f"{time.process_time() - cpu:.1f} s of CPU")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
