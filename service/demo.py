"""``potwatch demo`` in the terminal: a simulated rillons cook, sped up, through the real tracker.

The simulated pot (drivers/simulated.py) cooks the rillons profile; its sim
time is the tracker's time, so every stage, alert and ETA is exactly what a
real cook of that pot would see, only sooner.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.simulated import PotScenario, simulate
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertRaised, CookEnded, Output, Sample, StageChanged, StartCook, Tick
from service.core.units import c_to_f, format_duration
from service.profiles import load_profiles

STATUS_EVERY_S = 600.0
STATUS_EVERY_NEAR_TARGET_S = 15.0


def _clock(t: float) -> str:
    whole = int(t)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def describe(out: Output) -> str | None:
    if isinstance(out, StageChanged):
        return f"{out.step}: {out.stage}"
    if isinstance(out, AlertRaised):
        a = out.alert
        return f"ALERT {a.kind.value} ({a.level.value}): {a.message}"
    if isinstance(out, CookEnded):
        return f"cook {out.outcome}"
    return None


def run_console_demo(
    speed: float,
    *,
    braise_s: float = 7200.0 + 900.0,
    seed: int = 1,
    write: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    profile = load_profiles()["rillons"]
    kitchen = Kitchen([ProbeSetup("pot")])
    write(
        f"potwatch demo: a simulated pot cooking {profile.title!r}, {speed:g}× faster than real time "
        "(Ctrl-C to stop)"
    )
    # The simulated cook braises a quarter of an hour past the 2 h hold (the
    # hold counts only from the moment the pot is in its window), then moves
    # the probe to the caramel.
    scenario = PotScenario(kind="rillons", seed=seed, braise_s=braise_s)
    started = False
    next_status = 0.0
    try:
        for sample in simulate(scenario, braise_s + 3600.0):
            t = sample.t
            outputs: list[Output] = []
            if not started:
                outputs += kitchen.handle(StartCook(t, profile, "pot"))
                started = True
            deadline = kitchen.next_deadline()
            if deadline is not None and deadline < t:
                outputs += kitchen.handle(Tick(deadline))
            fault = None if sample.reading_c is not None else "simulated fault"
            outputs += kitchen.handle(Sample(t, "pot", "", sample.reading_c, fault))
            for out in outputs:
                line = describe(out)
                if line:
                    write(f"[{_clock(t)}] {line}")
            cook = kitchen.cooks["c1"]
            if cook.ended_at is not None:
                return 0
            view = kitchen.cook_view(cook, t)
            near = view["stage"] in ("approaching", "reached")
            if t >= next_status and sample.reading_c is not None:
                eta = view["eta_s"]
                when = (
                    f", {c_to_f(view['target_c']):.0f} °F in ~{format_duration(eta)}" if eta and near else ""
                )
                write(
                    f"[{_clock(t)}]   {view['step']} {view['stage']}: {c_to_f(sample.reading_c):.1f} °F{when}"
                )
                next_status = t + (
                    STATUS_EVERY_NEAR_TARGET_S if near or view["step"] != "braise" else STATUS_EVERY_S
                )
            if view["stage"] == "overshoot":
                write(f"[{_clock(t)}] the demo pot is past its target; stopping")
                return 0
            sleep(scenario.interval_s / speed)
    except KeyboardInterrupt:
        return 0
    return 0
