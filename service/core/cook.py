"""The kitchen: probes, cooks and alerts, moved by one event at a time.

``Kitchen.handle(event)`` is the tracker's ``step(state, event) -> outputs``.
The state is mutated in place rather than copied: replay pushes tens of
thousands of samples a second through it, and the one hub task that owns a
Kitchen never shares it, so nothing can observe a half-made state.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from service.core.alert_text import fault_words, probe_name
from service.core.events import (
    Acknowledge,
    AdvanceStep,
    Alert,
    AlertAcked,
    AlertCleared,
    AlertKind,
    AlertLevel,
    AlertPushed,
    AlertRaised,
    CalibrationMeasured,
    CommandRefused,
    CookEnded,
    CookStarted,
    Event,
    HeaterAgrees,
    HeaterMismatch,
    MarkPushed,
    Output,
    ProbeGone,
    ProbeStateChanged,
    Sample,
    SetCalibration,
    SetPressure,
    StageChanged,
    StartCook,
    StepStarted,
    StopCook,
    Tick,
)
from service.core.filters import Track
from service.core.probes import FAULTS_TO_CONFIRM, CalibrationSource, ProbeHealth, ProbeState
from service.core.profile import HoldStep, Profile, ReachStep, Step
from service.core.steps import BoilMachine, Calibrated, ClearAlert, HoldMachine, RaiseAlert, ReachMachine
from service.core.steps.base import Signal, StepMachine, StepView
from service.core.steps.reach import ReachStage
from service.core.units import c_to_f

KEEP_INACTIVE_ALERTS = 200
PRESSURE_SHIFT_MIN_C = 0.05  # ~1.8 hPa of weather


@dataclass(frozen=True, slots=True)
class ProbeSetup:
    id: str
    stale_after: float | None = None
    boil_c: float | None = None
    lag_s: float | None = None  # the probe's time constant: the alarm is then about the pot, not the probe
    altitude_m: float | None = None


# Channels that report the board, not the pot: never bound to a cook by default.
REFERENCE_CHANNELS = frozenset({"ambient", "internal", "board", "cold_junction", "cj"})


def is_reference_channel(channel: str) -> bool:
    return channel.lower() in REFERENCE_CHANNELS


def _jump_reason(track: Track) -> str:
    jump = track.jump
    if jump is None:
        return "impossible jump"
    (t0, v0), (t1, v1) = jump
    return f"impossible jump: {c_to_f(v0):.1f} °F → {c_to_f(v1):.1f} °F in {t1 - t0:.2f} s"


def machine_for(step: Step, offset_c: float, health: ProbeHealth | None = None) -> StepMachine:
    if isinstance(step, ReachStep):
        if health is None:
            return ReachMachine(step, offset_c)
        calibrated = health.calibration is not CalibrationSource.NONE
        return ReachMachine(step, offset_c, lag_s=health.lag_s, calibrated=calibrated)
    if isinstance(step, HoldStep):
        return HoldMachine(step, offset_c)
    return BoilMachine(step, offset_c)


class Cook:
    __slots__ = ("channel", "ended_at", "id", "index", "machine", "outcome", "probe", "profile", "started_at")

    def __init__(
        self,
        cook_id: str,
        profile: Profile,
        probe: str,
        channel: str | None,
        at: float,
        offset_c: float,
        health: ProbeHealth | None = None,
    ) -> None:
        self.id = cook_id
        self.profile = profile
        self.probe = probe
        self.channel = channel
        self.started_at = at
        self.ended_at: float | None = None
        self.outcome: str | None = None
        self.index = 0
        self.machine: StepMachine = machine_for(profile.steps[0], offset_c, health)

    @property
    def step(self) -> Step:
        return self.profile.steps[self.index]


@dataclass(frozen=True, slots=True)
class CookSnapshot:
    """A running cook's moving parts at one moment (°C, seconds): what the views are made of.

    What does not move (its id, profile, probe, step names) is read from the
    ``Cook`` itself; this holds what the tracker works out.
    """

    stage: str
    level_c: float | None
    rate_c_per_s: float | None
    calibration: str
    water_boils_c: float
    calibration_offset_c: float
    progress: StepView


class Kitchen:
    """Every probe, cook and alert of one potwatch; fed one event at a time."""

    def __init__(self, probes: Iterable[ProbeSetup] = (), *, id_prefix: str = "") -> None:
        self.probes: dict[str, ProbeHealth] = {}
        self.tracks: dict[tuple[str, str], Track] = {}
        self.cooks: dict[str, Cook] = {}
        self.alerts: dict[str, Alert] = {}
        self.id_prefix = id_prefix
        # what the cook calls each probe ("Caramel pot"), for the alerts' words; the hub sets it
        self.labels: dict[str, str] = {}
        self._cook_seq = 0
        self._alert_seq = 0
        self._heater_alerts: dict[str, str] = {}  # heater id -> its open mismatch alert
        self.now = 0.0
        self.pressure_hpa: float | None = None
        self._applied_offset: dict[str, float] = {}
        # the probes' stale and fault deadlines as a heap, some out of date (checked when on top);
        # not whole: rebuilt from every probe at the next next_deadline()
        self._deadlines: list[tuple[float, str]] = []
        self._deadlines_whole = False
        self.configure(probes)

    def configure(self, setups: Iterable[ProbeSetup]) -> list[str]:
        """The probes of one start: new ones added, this config's settings, removed ones forgotten.

        Applied at the start of every run, live and in a replay alike (restore.py
        replays each recorded run's setups where that run began), so that a
        replayed time line has the same probes at the same moments and gives the
        same alerts with the same ids. Returns the probes the config dropped that
        a running cook keeps (its cook has to go on saying the probe is lost).
        """
        self._deadlines_whole = False
        wanted = {s.id: s for s in setups}
        for setup in wanted.values():
            health = self.probes.get(setup.id)
            if health is None:
                self.probes[setup.id] = ProbeHealth(
                    setup.id, setup.stale_after, setup.boil_c, lag_s=setup.lag_s, altitude_m=setup.altitude_m
                )
                continue
            health.stale_after = setup.stale_after
            health.lag_s = setup.lag_s
            health.altitude_m = setup.altitude_m
        kept: list[str] = []
        for probe_id in [p for p in self.probes if p not in wanted]:
            if not self._forget_probe(probe_id):
                kept.append(probe_id)
        return kept

    def _forget_probe(self, probe_id: str) -> bool:
        """A probe taken out of the config: else it lives on in the status, on the page and as a
        retained Home Assistant entity that nothing feeds, and goes "lost"."""
        if any(c.probe == probe_id and c.ended_at is None for c in self.cooks.values()):
            return False
        health = self.probes.pop(probe_id)
        if health.trouble_alert is not None:
            self._clear(self.now, health.trouble_alert, [])  # its lost/fault warning stops ringing with it
        for key in [k for k in self.tracks if k[0] == probe_id]:
            del self.tracks[key]
        self._applied_offset.pop(probe_id, None)
        self.labels.pop(probe_id, None)
        return True

    # ---- the one entry point -------------------------------------------

    def handle(self, event: Event) -> list[Output]:
        if event.at > self.now:
            self.now = event.at
        if isinstance(event, Sample):
            outputs = self._sample(event)
            self._push_deadlines(event.probe)  # a reading moves its own probe's deadlines, no other's
            return outputs
        self._deadlines_whole = False  # a tick or a command may move any probe's
        if isinstance(event, Tick):
            return self._tick(event.at)
        if isinstance(event, ProbeGone):
            return self._gone(event)
        if isinstance(event, StartCook):
            return self._start(event)
        if isinstance(event, Acknowledge):
            return self._ack(event)
        if isinstance(event, MarkPushed):
            return self._pushed(event)
        if isinstance(event, AdvanceStep):
            return self._advance(event)
        if isinstance(event, StopCook):
            return self._stop(event)
        if isinstance(event, SetPressure):
            return self._pressure(event)
        if isinstance(event, HeaterMismatch | HeaterAgrees):
            return self._heater(event)
        return self._calibrate(event)

    def _heater(self, ev: HeaterMismatch | HeaterAgrees) -> list[Output]:
        out: list[Output] = []
        if isinstance(ev, HeaterAgrees):
            alert_id = self._heater_alerts.pop(ev.heater, None)
            if alert_id is not None:
                self._clear(ev.at, alert_id, out)
            return out
        if ev.heater in self._heater_alerts:
            return out  # one alert per mismatch, however often it is said
        cook = self.running_on(ev.probe)
        kind, level = AlertKind.HEATER_MISMATCH, AlertLevel.CRITICAL
        alert = self._raise(ev.at, kind, level, ev.probe, ev.message, cook, None, out)
        self._heater_alerts[ev.heater] = alert.id
        return out

    def next_deadline(self) -> float | None:
        """The earliest time something changes with no new reading (for ticks)."""
        best = self._probe_deadline()
        for cook in self.cooks.values():
            if cook.ended_at is None:
                d = cook.machine.next_deadline()
                if d is not None and (best is None or d < best):
                    best = d
        return best

    def _probe_deadline(self) -> float | None:
        """The earliest stale or fault deadline of any probe.

        The hub asks before every message: a scan of every probe each time was
        a fifth of the service's CPU with 200 probes (docs/benchmarks.md, "A
        restaurant line"), and grows with the square of the probes. A reading
        pushes its probe's new deadlines; an entry is checked against its probe
        only when it comes to the top, and dropped if it no longer holds.
        """
        heap = self._deadlines
        if not self._deadlines_whole:
            heap[:] = [(d, h.id) for h in self.probes.values() for d in _deadlines(h) if d is not None]
            heapq.heapify(heap)
            self._deadlines_whole = True
        while heap:
            deadline, probe_id = heap[0]
            health = self.probes.get(probe_id)
            if health is not None and deadline in _deadlines(health):
                return deadline
            heapq.heappop(heap)
        return None

    def _push_deadlines(self, probe_id: str) -> None:
        if not self._deadlines_whole:
            return
        heap = self._deadlines
        if len(heap) > 8 * len(self.probes) + 64:
            # nobody asked for a while (a replay): start again from the probes when someone does
            heap.clear()
            self._deadlines_whole = False
            return
        health = self.probes.get(probe_id)
        if health is not None:
            for deadline in _deadlines(health):
                if deadline is not None:
                    heapq.heappush(heap, (deadline, probe_id))

    # ---- readings ----------------------------------------------------------

    def probe(self, probe_id: str) -> ProbeHealth:
        health = self.probes.get(probe_id)
        if health is None:
            health = self.probes[probe_id] = ProbeHealth(probe_id)
            health.pressure_hpa = self.pressure_hpa
        return health

    def _sample(self, ev: Sample) -> list[Output]:
        health = self.probe(ev.probe)
        at = ev.at
        health.last_at = at
        health.channel = ev.channel
        celsius = ev.celsius
        if not ev.live:
            if celsius is not None:
                health.celsius = celsius
            return []
        out: list[Output] = []
        health.heard(at)
        counted = self._counts(ev.probe, ev.channel)
        if celsius is None:
            self._fault(at, health, counted, ev.fault or "fault reading", out)
            return out
        key = (ev.probe, ev.channel)
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = Track(health.lag_s)
        accepted = track.feed(at, celsius, health.stale_timeout)
        if track.faulty:
            # a jump no probe can make: a fault reading, never a new track for a step to follow
            self._fault(at, health, counted, _jump_reason(track), out)
            return out
        if counted:
            health.celsius = celsius
            health.fault_count = 0
            health.fault_since = None
            if health.state is not ProbeState.OK:
                self._restore(at, health, out)
        if not accepted:
            return out
        for cook in self.cooks.values():
            if cook.ended_at is None and cook.probe == ev.probe:
                if cook.channel is None:
                    if is_reference_channel(ev.channel):
                        continue
                    cook.channel = ev.channel
                elif cook.channel != ev.channel:
                    continue
                machine = cook.machine
                before = machine.stage
                signals = machine.on_sample(at, celsius, track, health.stale_timeout)
                self._after_step(at, cook, before, signals, out)
        return out

    def _fault(self, at: float, health: ProbeHealth, counted: bool, reason: str, out: list[Output]) -> None:
        """A reading that is no temperature: two in a row (or three seconds of them) are a fault."""
        if not counted:
            return  # a fault on a channel nobody watches (an unused thermocouple input)
        health.fault_reason = reason
        health.fault_count += 1
        if health.fault_since is None:
            health.fault_since = at
        if health.state is not ProbeState.FAULT and health.fault_count >= FAULTS_TO_CONFIRM:
            self._trouble(at, health, ProbeState.FAULT, out)

    def _counts(self, probe: str, channel: str) -> bool:
        """Does this channel speak for the probe's health? The watched one does; a board's
        own temperature (a TC4's ambient, a MAX31855's internal) and unwatched inputs do not,
        or a healthy board sensor would hide an open thermocouple."""
        if is_reference_channel(channel):
            return False
        for cook in self.cooks.values():
            if cook.ended_at is None and cook.probe == probe and cook.channel is not None:
                return cook.channel == channel
        return True

    def _gone(self, ev: ProbeGone) -> list[Output]:
        health = self.probe(ev.probe)
        out: list[Output] = []
        if health.state is not ProbeState.LOST:
            health.lost_reason = ev.reason
            self._trouble(ev.at, health, ProbeState.LOST, out)
        return out

    def _tick(self, at: float) -> list[Output]:
        out: list[Output] = []
        for health in self.probes.values():
            stale = health.stale_deadline()
            if stale is not None and at >= stale:
                health.lost_reason = f"no reading for {health.stale_timeout:.0f} s"
                self._trouble(stale, health, ProbeState.LOST, out)
                continue
            fault = health.fault_deadline()
            if fault is not None and at >= fault:
                self._trouble(fault, health, ProbeState.FAULT, out)
        for cook in list(self.cooks.values()):
            if cook.ended_at is None:
                before = cook.machine.stage
                self._after_step(at, cook, before, cook.machine.on_tick(at), out)
        return out

    def _trouble(self, at: float, health: ProbeHealth, state: ProbeState, out: list[Output]) -> None:
        previous = health.state
        health.state = state
        out.append(ProbeStateChanged(at, health.id, state.value, previous.value))
        if previous in (ProbeState.LOST, ProbeState.FAULT) and health.trouble_alert is not None:
            self._clear(at, health.trouble_alert, out)
        critical = self._blind_at_target(health.id)
        level = AlertLevel.CRITICAL if critical else AlertLevel.WARNING
        cook = self._cook_on(health.id)
        name = probe_name(health.id, self.labels.get(health.id))
        if state is ProbeState.LOST:
            kind = AlertKind.PROBE_LOST
            message = f"{name} lost: {health.lost_reason}"
        else:
            kind = AlertKind.PROBE_FAULT
            message = f"{name}: {fault_words(health.fault_reason or 'fault reading')}"
        if critical:
            message += " — the alarm is blind while the pot is near its target"
        alert = self._raise(at, kind, level, health.id, message, cook, health.celsius, out)
        health.trouble_alert = alert.id

    def _restore(self, at: float, health: ProbeHealth, out: list[Output]) -> None:
        previous = health.state
        health.state = ProbeState.OK
        out.append(ProbeStateChanged(at, health.id, ProbeState.OK.value, previous.value))
        if previous is ProbeState.WAITING:
            return
        if health.trouble_alert is not None:
            self._clear(at, health.trouble_alert, out)
            health.trouble_alert = None
        self._raise(
            at,
            AlertKind.PROBE_RESTORED,
            AlertLevel.INFO,
            health.id,
            f"{probe_name(health.id, self.labels.get(health.id))} back: {c_to_f(health.celsius or 0.0):.1f} °F",
            self._cook_on(health.id),
            health.celsius,
            out,
        )

    def _blind_at_target(self, probe_id: str) -> bool:
        for cook in self.cooks.values():
            machine = cook.machine
            if (
                cook.ended_at is None
                and cook.probe == probe_id
                and isinstance(machine, ReachMachine)
                and machine.stage in (ReachStage.APPROACHING, ReachStage.REACHED)
                and not machine.cooling  # off the heat and falling: nothing left to miss
            ):
                return True
        return False

    def _cook_on(self, probe_id: str) -> Cook | None:
        for cook in self.cooks.values():
            if cook.ended_at is None and cook.probe == probe_id:
                return cook
        return None

    # ---- steps and alerts ---------------------------------------------------

    def _after_step(self, at: float, cook: Cook, before: str, signals: tuple[Signal, ...], out: list[Output]) -> None:
        machine = cook.machine
        if machine.stage != before:
            out.append(StageChanged(at, cook.id, cook.step.name, machine.stage, before))
        for signal in signals:
            if isinstance(signal, RaiseAlert):
                health = self.probes[cook.probe]
                self._raise(at, signal.kind, signal.level, cook.probe, signal.message, cook, health.celsius, out)
            elif isinstance(signal, ClearAlert):
                for alert in self.alerts.values():
                    if alert.cook_id == cook.id and alert.kind is signal.kind and not alert.cleared:
                        self._clear(at, alert.id, out)
            elif isinstance(signal, Calibrated):
                out.append(CalibrationMeasured(at, cook.probe, signal.boil_c))
                out.extend(self._calibrate(SetCalibration(at, cook.probe, signal.boil_c)))
        if machine.done:
            self._next_step(at, cook, out)

    def _raise(
        self,
        at: float,
        kind: AlertKind,
        level: AlertLevel,
        probe: str,
        message: str,
        cook: Cook | None,
        celsius: float | None,
        out: list[Output],
    ) -> Alert:
        self._alert_seq += 1
        alert = Alert(
            id=f"{self.id_prefix}a{self._alert_seq}",
            kind=kind,
            level=level,
            at=at,
            probe=probe,
            message=message,
            cook_id=cook.id if cook else None,
            step=cook.step.name if cook else None,
            celsius=celsius,
        )
        self.alerts[alert.id] = alert
        out.append(AlertRaised(at, alert))
        if len(self.alerts) > KEEP_INACTIVE_ALERTS * 2:
            self._forget_old_alerts()
        return alert

    def _clear(self, at: float, alert_id: str, out: list[Output]) -> None:
        alert = self.alerts.get(alert_id)
        if alert is not None and not alert.cleared:
            alert.cleared = True
            out.append(AlertCleared(at, alert_id))

    def _forget_old_alerts(self) -> None:
        inactive = [a.id for a in self.alerts.values() if not a.active]
        for alert_id in inactive[: len(inactive) - KEEP_INACTIVE_ALERTS]:
            del self.alerts[alert_id]

    def active_alerts(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.active]

    # ---- commands -------------------------------------------------------------

    def _start(self, ev: StartCook) -> list[Output]:
        if not ev.profile.steps:
            return [CommandRefused(ev.at, "start", f"profile {ev.profile.name!r} has no steps", missing=False)]
        health = self.probe(ev.probe)
        other = self.running_on(ev.probe)
        if other is not None:
            return [CommandRefused(ev.at, "start", f"cook {other.id} is running on probe {ev.probe}", False)]
        self._cook_seq += 1
        cook_id = f"{self.id_prefix}c{self._cook_seq}"
        cook = Cook(cook_id, ev.profile, ev.probe, ev.channel, ev.at, self._offset_of(health), health)
        self.cooks[cook_id] = cook
        if health.last_live_at is None:
            # a cook on a probe that never spoke: let staleness start counting now
            health.last_live_at = ev.at
        out: list[Output] = [
            CookStarted(ev.at, cook_id, ev.profile.name, ev.probe),
            StepStarted(ev.at, cook_id, 0, cook.step.name, cook.step.kind),
            StageChanged(ev.at, cook_id, cook.step.name, cook.machine.stage, None),
        ]
        return out

    def _cook(self, cook_id: str) -> Cook | None:
        if cook_id == "current":
            running = [c for c in self.cooks.values() if c.ended_at is None]
            return running[-1] if running else None
        return self.cooks.get(cook_id)

    def _advance(self, ev: AdvanceStep) -> list[Output]:
        cook = self._cook(ev.cook_id)
        if cook is None:
            return [CommandRefused(ev.at, "advance", f"no cook {ev.cook_id!r}", missing=True)]
        if cook.ended_at is not None:
            return [CommandRefused(ev.at, "advance", f"cook {cook.id} has ended", missing=False)]
        out: list[Output] = []
        self._next_step(ev.at, cook, out)
        return out

    def _next_step(self, at: float, cook: Cook, out: list[Output]) -> None:
        if cook.index + 1 >= len(cook.profile.steps):
            self._end(at, cook, "done", out)
            return
        cook.index += 1
        health = self.probe(cook.probe)
        before, cook.machine = cook.machine, machine_for(cook.step, self._offset_of(health), health)
        if isinstance(before, ReachMachine) and isinstance(cook.machine, ReachMachine):
            cook.machine.carry_on_from(before)
        out.append(StepStarted(at, cook.id, cook.index, cook.step.name, cook.step.kind))
        out.append(StageChanged(at, cook.id, cook.step.name, cook.machine.stage, None))

    def _stop(self, ev: StopCook) -> list[Output]:
        cook = self._cook(ev.cook_id)
        if cook is None:
            return [CommandRefused(ev.at, "stop", f"no cook {ev.cook_id!r}", missing=True)]
        if cook.ended_at is not None:
            return [CommandRefused(ev.at, "stop", f"cook {cook.id} has already ended", missing=False)]
        out: list[Output] = []
        self._end(ev.at, cook, "stopped", out)
        return out

    def _end(self, at: float, cook: Cook, outcome: str, out: list[Output]) -> None:
        cook.ended_at = at
        cook.outcome = outcome
        out.append(CookEnded(at, cook.id, outcome))

    def _ack(self, ev: Acknowledge) -> list[Output]:
        if ev.alert_id == "all":
            targets = [a for a in self.alerts.values() if a.active]
        else:
            alert = self.alerts.get(ev.alert_id)
            if alert is None:
                return [CommandRefused(ev.at, "ack", f"no alert {ev.alert_id!r}", missing=True)]
            targets = [] if alert.acked else [alert]
        out: list[Output] = []
        for alert in targets:
            alert.acked = True
            alert.acked_at = ev.at
            out.append(AlertAcked(ev.at, alert.id))
        for alert in targets:
            self._alarm_acked(ev.at, alert, out)
        return out

    def _pushed(self, ev: MarkPushed) -> list[Output]:
        """The first accepted push of an alert is kept on it; a later one (a repeat, another service) is no news."""
        alert = self.alerts.get(ev.alert_id)
        if alert is None or alert.pushed_at is not None:
            return []
        alert.pushed_at = ev.at
        return [AlertPushed(ev.at, alert.id, ev.channel)]

    def _alarm_acked(self, at: float, alert: Alert, out: list[Output]) -> None:
        """A reach step that ends on its acknowledgement (``end = "ack"``) ends with its alarm's."""
        if alert.kind not in (AlertKind.TARGET_REACHED, AlertKind.TARGET_OVERSHOOT) or alert.cook_id is None:
            return
        cook = self.cooks.get(alert.cook_id)
        if cook is None or cook.ended_at is not None or cook.step.name != alert.step:
            return
        machine = cook.machine
        if isinstance(machine, ReachMachine):
            machine.acknowledged()
            if machine.done:
                self._next_step(at, cook, out)

    def _calibrate(self, ev: SetCalibration) -> list[Output]:
        health = self.probe(ev.probe)
        health.boil_c = ev.boil_c
        self._shift_cooks(health)
        return []

    def _pressure(self, ev: SetPressure) -> list[Output]:
        """A barometer reading: probes without a measured boil follow today's weather."""
        self.pressure_hpa = ev.hpa
        for health in self.probes.values():
            health.pressure_hpa = ev.hpa
            # the weather moves a few tenths of a degree an hour: do not churn the steps for less
            if abs(health.offset_c - self._applied_offset.get(health.id, 0.0)) >= PRESSURE_SHIFT_MIN_C:
                self._shift_cooks(health)
        return []

    def _offset_of(self, health: ProbeHealth) -> float:
        """The shift a new or recalibrated step gets; remembered so the weather's creep is noticed."""
        offset = self._applied_offset[health.id] = health.offset_c
        return offset

    def _shift_cooks(self, health: ProbeHealth) -> None:
        offset = self._offset_of(health)
        calibrated = health.calibration is not CalibrationSource.NONE
        for cook in self.cooks.values():
            if cook.ended_at is None and cook.probe == health.id:
                cook.machine.recalibrate(offset, calibrated)

    # ---- what the outside sees ---------------------------------------------------

    def running_on(self, probe: str) -> Cook | None:
        """The cook running on ``probe``, if any: there is at most one (a second start is refused)."""
        return next((c for c in self.cooks.values() if c.ended_at is None and c.probe == probe), None)

    def heater_alert_open(self, heater_id: str) -> bool:
        """A mismatch alert of the heater is raised and not yet cleared (one restored from the history, too)."""
        return heater_id in self._heater_alerts

    def track_of(self, cook: Cook) -> Track | None:
        return self.tracks.get((cook.probe, cook.channel or ""))

    def cook_snapshot(self, cook: Cook, at: float) -> CookSnapshot:
        track = self.track_of(cook)
        health = self.probes[cook.probe]
        return CookSnapshot(
            stage=str(cook.machine.stage),
            level_c=track.level if track else None,
            rate_c_per_s=track.rate if track else None,
            calibration=health.calibration.value,
            water_boils_c=health.water_boils_c,
            calibration_offset_c=health.offset_c,
            progress=cook.machine.view(at, track),
        )


def _deadlines(health: ProbeHealth) -> tuple[float | None, float | None]:
    return health.stale_deadline(), health.fault_deadline()
