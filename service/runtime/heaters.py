"""The heaters of ``[[heaters]]``: each one's plug driven by the pure controller, fed from the hub.

One task per heater owns its controller state; nothing else touches it. The
hub's hooks only wake it (they run in the hub's task and must not block).
Each turn it reads the kitchen between two hub messages — the probe's health,
the tracker's filtered level and rate, the running cook's step — and turns
what changed into the controller's events, adds a ``Tick`` (at least once a
second, on the hub's clock) and applies the last decision to the plug.

What is sent to the plug:

* an ON with the decision's dead-man period (Tasmota ``PulseTime``, Shelly
  ``toggle_after``, Zigbee2MQTT ``on_time``; an ESPHome node's YAML holds its
  own), again every third of that period while on, so that the
  plug's own timer never runs out while potwatch is healthy, and turns the
  heat off by itself within the period when potwatch is gone;
* an OFF whenever the decision changes to off, when the plug reports on while
  commanded off, and when the plug comes back: off can only make the kitchen
  safer, so it is never held back.

A ``StateMismatch`` goes to the hub as ``HeaterMismatch``, so that it becomes
a critical alert like any other (page, MQTT, push, history); ``MismatchCleared``
as ``HeaterAgrees``. At the stop the heat is commanded off before the link
closes.

What a phone shows of the heater goes on the hub's bus as a ``heater`` event
(its ``HeaterView``) when it changes: the decision, the plug's report, its
availability, the override. A turn runs on every reading, so an unchanged view
publishes nothing; the duty alone moves at nearly every turn while the heat
cycles, so a change of its whole percent is sent at most every ``DUTY_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from drivers.heater import Actuator, AvailabilityChange, StateReport, open_heater
from service.config import Config, HeaterConfig
from service.core.events import HeaterAgrees, HeaterMismatch
from service.core.heat.controller import HeatState, next_deadline, restarted_mode, step
from service.core.heat.events import (
    FAULT_REASONS,
    ActuatorReport,
    Decision,
    HeatEvent,
    HeatStep,
    MismatchCleared,
    Override,
    OverrideMode,
    ProbeHealth,
    ProbeHealthChanged,
    ProbeLevel,
    Reported,
    StateMismatch,
    StepChanged,
    Tick,
    heat_step,
)
from service.core.heat.params import HeatParams
from service.core.probes import ProbeState
from service.core.steps.reach import ReachMachine
from service.runtime.views import (
    HeaterCommand,
    HeaterDoubt,
    HeaterOverride,
    HeaterRecord,
    HeaterReport,
    HeaterView,
    Recalled,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from service.runtime.hub import Hub

log = logging.getLogger(__name__)

TICK_S = 1.0  # the controller sees time pass at least this often (hub clock)
REARM_FRACTION = 1.0 / 3.0  # an ON is re-sent this far into its dead-man period
OFF_AGAIN_S = 5.0  # a plug that reports on while commanded off is told off again this often
CLOSE_OFF_S = 1.0  # at the stop: how long the last OFF may take to reach the broker
DUTY_EVERY_S = 10.0  # real seconds between two ``heater`` events that only move the duty

_HEALTH = {
    ProbeState.WAITING: ProbeHealth.OK,  # nothing read yet: the controller's "no reading" holds it off
    ProbeState.OK: ProbeHealth.OK,
    ProbeState.LOST: ProbeHealth.LOST,
    ProbeState.FAULT: ProbeHealth.FAULTY,
}


@dataclass(frozen=True, slots=True)
class Seen:
    """What of the kitchen the controller was last told, to send it only what changed."""

    health: ProbeHealth | None = None
    level_at: float | None = None
    step: HeatStep | None = None
    told_step: bool = False


class Heater:
    """One plug and its controller: the task ``run`` is the only writer of ``state``."""

    def __init__(
        self,
        config: HeaterConfig,
        actuator: Actuator,
        hub: Hub,
        mode: OverrideMode = OverrideMode.AUTO,
        *,
        doubt: str | None = None,
    ) -> None:
        """``mode``: what the controller starts in (after a restart: ``restarted_mode`` of the recorded one).

        ``doubt``: what was damaged in the history at this start, so that it could
        not say what the cook last said: forced off (the controller says so until
        they hand control back). None: the history is trusted.
        """
        self.id = config.id
        self.label = config.label
        self.probe = config.probe
        self.params: HeatParams = config.params()
        self.actuator = actuator
        self.hub = hub
        # in the controller's state from its first event on: no turn, not even the first, can switch on
        self.state = HeatState(mode=mode, in_doubt=doubt is not None and mode is OverrideMode.FORCE_OFF)
        self.decision: Decision | None = None
        self.seen = Seen()
        self.wake = asyncio.Event()
        self._driver_said = False  # the driver's reader heard something since the last turn
        self._overrides: list[OverrideMode] = []
        # what was damaged, while the forced off it imposed is still to be written as an override row (first turn)
        self._doubt_unrecorded = doubt if self.state.in_doubt else None
        self.stopping = False
        self._sent_on_at: float | None = None  # hub time of the last ON sent
        self._sent_off_at: float | None = None
        self._last_sent: bool | None = None  # the last command handed to the driver
        self._alerts: list[HeaterMismatch | HeaterAgrees] = []
        # One command at a time: a driver that awaits inside ``command`` (a relay on a thread)
        # must not let the stop's OFF overtake an ON already on its way.
        self._one_command = asyncio.Lock()
        self._off_at_stop = False  # the stop's OFF was handed to a live link
        self._shown: tuple[object, ...] | None = None  # the last view on the bus, its duty aside
        self._shown_duty = -1  # ... and its duty, in whole percent
        self._shown_at = -float("inf")  # when it went, on ``real_time``
        self.real_time: Callable[[], float] = time.monotonic  # phones live by real seconds, not the kitchen's

    # ---- what the page and the API see

    def view(self) -> HeaterView:
        d, act = self.decision, self.actuator
        reported = act.reported
        return HeaterView(
            id=self.id,
            label=self.label,
            probe=self.probe,
            on=bool(d is not None and d.on and not self.stopping),
            reported=None if reported is None else ("on" if reported else "off"),
            reason="potwatch is stopping" if self.stopping else (d.words if d is not None else "starting"),
            duty=d.duty if d is not None else 0.0,
            duty_window_s=self.params.duty_window_s,
            available=act.available,
            override=str(self.state.mode),
            safety=bool(d is not None and not self.stopping and d.reason in FAULT_REASONS),
        )

    def publish_view(self) -> None:
        """A ``heater`` event on the bus when what a phone shows changed; nothing when it did not.

        Called after every turn, which runs on every reading: an unchanged view
        must cost a tuple, not an event per reading per phone.
        """
        view = self.view()
        shown = (view["on"], view["reported"], view["reason"], view["available"], view["override"])
        duty = round(view["duty"] * 100)
        now = self.real_time()
        if shown == self._shown and (duty == self._shown_duty or now - self._shown_at < DUTY_EVERY_S):
            return
        self._shown, self._shown_duty, self._shown_at = shown, duty, now
        self.hub.bus.publish("heater", view)

    # ---- from outside the task (the hub's hooks, the API): never blocks

    def override(self, mode: OverrideMode) -> None:
        """The cook's word, recorded at once (the next start reads it back), applied in the next turn."""
        self._doubt_unrecorded = None  # a word of theirs before the first turn: the forced off must not follow it
        self._overrides.append(mode)
        self._recorded(HeaterOverride(self.hub.clock.monotonic(), self.id, self.probe, str(mode)))
        self.wake.set()

    def _recorded(self, item: HeaterRecord) -> None:
        for hook in self.hub.on_heater:
            try:
                hook(item)
            except Exception:
                log.exception("heater hook failed on %r", item)

    # ---- the task

    async def run(self) -> None:
        if self.hub.kitchen.heater_alert_open(self.id):
            # A mismatch alert restored from the history (raised before a restart): this
            # controller never saw it, so it is told, and says when the plug agrees again.
            self.state = replace(self.state, mismatch_alerted=True)
        reader = asyncio.create_task(self._read(), name=f"heater {self.id} reports")
        reader.add_done_callback(lambda _: self.wake.set())
        try:
            while True:
                if reader.done():
                    # Without the plug's reports the controller would judge a stale state:
                    # end the task, so that the heat goes off and the service restarts.
                    reader.result()
                    raise RuntimeError(f"heater {self.id}: the plug's reports ended")
                self._turn()
                if not self.stopping:  # the stop publishes its own view, after its OFF, never before it
                    self.publish_view()
                await self._apply()
                await self._raise()
                await self._sleep()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self) -> None:
        async for event in self.actuator.events():
            self._driver_said = True
            if isinstance(event, StateReport):
                self._recorded(HeaterReport(event.at, self.id, self.probe, event.on, None, event.topic))
            elif isinstance(event, AvailabilityChange):
                self._recorded(HeaterReport(event.at, self.id, self.probe, None, event.available, event.reason))
            self.wake.set()

    async def _sleep(self) -> None:
        clock = self.hub.clock
        wait = TICK_S
        deadline = next_deadline(self.state, self.params)
        if deadline is not None:
            wait = min(wait, max(deadline - clock.monotonic(), 0.0))
        try:
            async with asyncio.timeout(clock.real_seconds(wait)):
                await self.wake.wait()
        except TimeoutError:
            pass
        self.wake.clear()

    def _turn(self) -> None:
        """Everything new, in order, through the controller; the last decision is the one that counts."""
        now = self.hub.clock.monotonic()
        if self._doubt_unrecorded is not None:
            # Written as if the cook had said it, at the first turn (every part is attached by then, the
            # recorder too): a clean restart before they hand control back must not bring back an
            # older "auto" that the damage left readable. The row before it says it was not the cook.
            why = f"history damaged at start ({self._doubt_unrecorded}): forced off until control is handed back"
            self._doubt_unrecorded = None
            self._recorded(HeaterDoubt(now, self.id, self.probe, why))
            self._recorded(HeaterOverride(now, self.id, self.probe, str(OverrideMode.FORCE_OFF)))
        events: list[HeatEvent] = [*self._from_driver(now), *self._from_kitchen(now)]
        events += [Override(now, mode) for mode in self._overrides]
        self._overrides.clear()
        events.append(Tick(now))
        for event in events:
            self.state, outputs = step(self.state, event, self.params)
            for out in outputs:
                if isinstance(out, Decision):
                    self._decided(out)
                elif isinstance(out, StateMismatch):
                    said = "on" if out.commanded_on else "off"
                    message = (
                        f"heater {self.id}: commanded {said}, the plug reports {out.reported.value} "
                        f"for {out.for_s:.0f} s"
                    )
                    self._alerts.append(HeaterMismatch(out.at, self.id, self.probe, message))
                elif isinstance(out, MismatchCleared):
                    self._alerts.append(HeaterAgrees(out.at, self.id))

    def _decided(self, decision: Decision) -> None:
        was = self.decision
        self.decision = decision
        if was is None or was.on != decision.on or was.reason != decision.reason:
            log.info("heater %s: %s (%s)", self.id, "on" if decision.on else "off", decision.words)

    def _from_driver(self, now: float) -> list[HeatEvent]:
        if not self._driver_said:
            return []
        self._driver_said = False
        return [self._report(now)]

    def _report(self, now: float) -> ActuatorReport:
        act = self.actuator
        reported = Reported.UNKNOWN if act.reported is None else (Reported.ON if act.reported else Reported.OFF)
        if act.available:
            return ActuatorReport(now, reported, link_up=True, online=True)
        # the driver's own fact, not its words: a reason reworded must not turn a broker outage
        # into "plug offline" (or the reverse) in what the controller decides and the page says
        return ActuatorReport(now, reported, link_up=act.link_up, online=False)

    def _from_kitchen(self, now: float) -> list[HeatEvent]:
        kitchen = self.hub.kitchen
        out: list[HeatEvent] = []
        seen = self.seen
        probe = kitchen.probes.get(self.probe)
        health = _HEALTH.get(probe.state, ProbeHealth.OK) if probe is not None else ProbeHealth.LOST
        if health is not seen.health:
            out.append(ProbeHealthChanged(now, health))
        cook = kitchen.running_on(self.probe)
        heat: HeatStep | None = None
        level_at = seen.level_at
        if cook is not None:
            offset_c = kitchen.probes[cook.probe].offset_c  # what cook_snapshot reports, without building it
            heat = heat_step(cook.step, f"{cook.id}/{cook.index}", offset_c=offset_c)
            track = kitchen.track_of(cook)
            if track is not None and track.level is not None and track.last_t != seen.level_at:
                level_at = track.last_t
                machine = cook.machine
                knee = machine.past_the_knee(track.last_t) if isinstance(machine, ReachMachine) else True
                out.append(ProbeLevel(now, track.level, track.rate, anticipate=knee))
        if heat != seen.step or not seen.told_step:
            out.insert(0, StepChanged(now, heat))  # the step first: a new cook's level belongs to it
        self.seen = Seen(health, level_at, heat, True)
        return out

    async def _apply(self) -> None:
        """Several events in a turn make several decisions: what counts is the last against what was sent last."""
        d = self.decision
        if d is None or self.stopping:
            return
        now = self.hub.clock.monotonic()
        if d.on:
            assert d.deadman_s is not None
            due = self._sent_on_at is None or now - self._sent_on_at >= d.deadman_s * REARM_FRACTION
            if self._last_sent is not True or due:
                await self._send(True, d.deadman_s, now)
            return
        self._sent_on_at = None
        wrong = self.actuator.reported is not False
        if self._sent_off_at is None:
            # the last OFF reached no live link (a start before the broker answered, an outage):
            # again as soon as the plug can hear it, not OFF_AGAIN_S later, and not every turn before
            again = wrong and self.actuator.available
        else:
            again = wrong and now - self._sent_off_at >= OFF_AGAIN_S
        if self._last_sent is not False or again:
            await self._send(False, 0.0, now)

    async def _send(self, on: bool, hold_s: float, now: float) -> None:
        async with self._one_command:
            if self.stopping:
                return  # the stop's OFF is the last word
            try:
                sent = await self.actuator.command(on, hold_s=hold_s if on else 1.0)
            except Exception:
                log.warning("heater %s: the command failed", self.id, exc_info=True)
                sent = False
            if on and self.stopping:
                # the stop came while this ON was inside the driver, and did not wait for it
                # (longer than its bound): off again, so that the stop's word is still the last
                await self._off_now()
        self._last_sent = on
        if on:
            self._sent_on_at = now if sent else None
            self._sent_off_at = None
        else:
            self._sent_off_at = now if sent else None
        reason = self.decision.words if self.decision is not None else ""
        self._recorded(HeaterCommand(now, self.id, self.probe, on, hold_s if on else None, sent, reason))

    async def _raise(self) -> None:
        alerts, self._alerts = self._alerts, []
        if self.stopping:
            # the stop turned the plug off behind the controller's back: an agreement judged against
            # the old command is no agreement; a mismatch still is one, and is told
            alerts = [a for a in alerts if isinstance(a, HeaterMismatch)]
        for alert in alerts:
            if isinstance(alert, HeaterMismatch):
                log.warning("%s", alert.message)
            await self.hub.request(alert)

    async def off(self) -> None:
        """The stop: off, on a link still open (the caller closes it after); nothing is sent after it.

        It waits for a command already inside the driver (so that an ON cannot land after it),
        but no longer than its bound: then it goes anyway, and that ON's ``_send`` turns the
        heat off again when it returns. Called again (a heater that failed is turned off before
        the service stops, and the stop calls it too), it tries again only if no OFF went out.
        """
        if self._off_at_stop:
            return
        self.stopping = True
        try:
            async with asyncio.timeout(CLOSE_OFF_S):
                await self._one_command.acquire()
        except TimeoutError:
            log.warning("heater %s: a command is still inside the driver: the OFF goes without it", self.id)
            await self._off_now()
            return
        try:
            if not self._off_at_stop:  # an ON that returned meanwhile may have sent it already
                await self._off_now()
        finally:
            self._one_command.release()

    async def _off_now(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_OFF_S):
                sent = await self.actuator.command(False, hold_s=1.0)
        except Exception:
            log.warning("heater %s: could not command the heat off at the stop", self.id, exc_info=True)
            return
        finally:
            self.publish_view()  # after the OFF, never before it: "potwatch is stopping", for a phone still there
        self._off_at_stop = sent
        log.info("heater %s: off at the stop%s", self.id, "" if sent else " (tried; the plug was unavailable)")
        self._recorded(
            HeaterCommand(self.hub.clock.monotonic(), self.id, self.probe, False, None, sent, "potwatch stopping")
        )


Opener = Callable[[HeaterConfig, Callable[[], float]], Actuator]
# the cook's last recorded override of each heater id that has one, and whether the history at this
# start can be trusted to hold it (the history's: the wiring passes it)
Remembered = Callable[[list[str]], Recalled]


def _open(config: HeaterConfig, clock: Callable[[], float]) -> Actuator:
    return open_heater(config.id, config.url, clock=clock)


class Heaters:
    """The part that runs every heater: attach to the hub, one task each, off at the stop."""

    name = "heaters"

    def __init__(
        self, configs: list[HeaterConfig], *, opener: Opener = _open, remembered: Remembered | None = None
    ) -> None:
        self.configs = configs
        self.opener = opener
        self.remembered = remembered
        self.heaters: dict[str, Heater] = {}

    @classmethod
    def from_config(cls, config: Config) -> Heaters:
        return cls(list(config.heaters))

    def attach(self, hub: Hub) -> None:
        """Each heater in the mode the cook last left it in (see ``restarted_mode``), before any task runs."""
        recalled = self._recorded_modes()
        recorded, doubt = recalled.modes, recalled.doubt
        for c in self.configs:
            actuator = self.opener(c, hub.clock.monotonic)
            mode = restarted_mode(recorded.get(c.id), trusted=doubt is None)
            if doubt is not None:
                newest = recorded.get(c.id)
                log.warning(
                    "heater %s: the history was damaged at this start (%s): the last override cannot be trusted "
                    "(the newest still readable: %s): starting in %s until control is handed back",
                    c.id,
                    doubt,
                    newest if newest is not None else "none",
                    mode,
                )
            elif recorded.get(c.id, OverrideMode.AUTO) is not OverrideMode.AUTO:
                log.info("heater %s: the last override was %s: starting in %s", c.id, recorded[c.id], mode)
            self.heaters[c.id] = Heater(c, actuator, hub, mode, doubt=doubt)
        hub.on_input.append(self._wake)
        hub.on_output.append(self._wake)
        hub.heater_views = self.views
        hub.heater_override = self.override

    def _recorded_modes(self) -> Recalled:
        """What the history remembers; never a failed start.

        A file that is damaged or cannot be read is not a bug: the reading says so
        (``Recalled.doubt``), and the heaters start forced off. A bug in the reading
        is a doubt too: whatever the cook said last is unknown, so off, not auto.
        """
        if self.remembered is None:
            return Recalled({})
        try:
            return self.remembered([c.id for c in self.configs])
        except Exception as exc:
            log.exception("heaters: cannot read the last overrides; every heater starts forced off")
            return Recalled({}, f"reading the last overrides failed ({type(exc).__name__})")

    def override(self, heater_id: str, mode: OverrideMode) -> bool:
        heater = self.heaters.get(heater_id)
        if heater is None:
            return False
        heater.override(mode)
        return True

    def _wake(self, _: object) -> None:
        for heater in self.heaters.values():
            heater.wake.set()

    def views(self) -> list[HeaterView]:
        return [h.view() for h in self.heaters.values()]

    def routers(self) -> list[APIRouter]:
        return []  # the override route is the API's (service/api), reached through the hub

    def health(self) -> dict[str, object]:
        return {"heaters": {h.id: {"available": h.actuator.available} for h in self.heaters.values()}}

    async def run(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            for heater in self.heaters.values():
                await stack.enter_async_context(heater.actuator)
            try:
                async with asyncio.TaskGroup() as group:
                    for heater in self.heaters.values():
                        group.create_task(heater.run(), name=f"heater {heater.id}")
            except Exception:
                # A heater's task died (a bug, a driver that failed): the group has cancelled the
                # others. Every plug is told off while its link is still open (the stack closes
                # them next); the service then stops, to be restarted, as for any part that dies.
                log.exception("a heater failed: the heat goes off on every plug")
                await self.close()
                raise

    async def close(self) -> None:
        """Heat off first, on every plug, then the links close (the task's stack, when it is cancelled)."""
        await asyncio.gather(*(h.off() for h in self.heaters.values()))
