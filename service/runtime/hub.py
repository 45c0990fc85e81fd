"""The hub: the one task that owns the kitchen.

Probes, ticks and commands arrive as messages; each is applied to the pure
tracker (``Kitchen.handle``) and what comes out is published on the bus, where
the page, MQTT, history and push each read at their own pace. Nothing else
mutates the kitchen; the API reads snapshots between two messages, which in
one asyncio thread cannot see a half-applied event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from service.core.cook import Kitchen
from service.core.events import (
    AlertAcked,
    AlertCleared,
    AlertRaised,
    CalibrationMeasured,
    CommandRefused,
    CookEnded,
    CookStarted,
    Event,
    Output,
    ProbeStateChanged,
    Sample,
    SetCalibration,
    SetPressure,
    StageChanged,
    StepStarted,
    Tick,
)
from service.core.heat.events import OverrideMode
from service.core.probes import ProbeHealth
from service.core.profile import Profile
from service.core.units import c_to_f
from service.runtime.bus import Bus
from service.runtime.clock import Clock
from service.runtime.cooklog import CookLogs
from service.runtime.views import (
    AckEvent,
    AlertView,
    CalibratedEvent,
    CalibrationEvent,
    CookEndedEvent,
    CookStateView,
    HeaterRecord,
    HeaterView,
    ProbeEvent,
    ReadingEvent,
    StageEvent,
    StatusView,
    alert_json,
    both,
    calibration_json,
    cook_json,
    probe_json,
)

log = logging.getLogger(__name__)

INBOX_SIZE = 5000
COOK_EVENT_EVERY_S = 1.0  # real seconds between two "cook" events of one cook
TICK_EVERY_S = 1.0


@dataclass
class Message:
    event: Event
    raw: str = ""
    reply: asyncio.Future[list[Output]] | None = None


class Hub:
    def __init__(
        self,
        kitchen: Kitchen,
        clock: Clock,
        profiles: dict[str, Profile],
        *,
        labels: dict[str, str] | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.kitchen = kitchen
        self.clock = clock
        self.profiles = profiles
        self.labels = labels or {}
        kitchen.labels = self.labels  # the alerts name each probe as the cook does
        self.bus = bus or Bus()
        self.logs = CookLogs()
        self.dropped = 0
        self.handled = 0
        self._inbox: asyncio.Queue[Message] = asyncio.Queue(INBOX_SIZE)
        self._cook_event_at: dict[str, float] = {}
        self._loop_time: Callable[[], float] = lambda: asyncio.get_running_loop().time()
        # the loop time of the hub's last turn: the watchdog's proof that the hub still runs
        self.turned_at: float | None = None
        # Hooks for parts that must see everything (the history recorder, MQTT, push):
        # called in the hub's task, so they must only hand the item over, never block.
        self.on_input: list[Callable[[Event], None]] = []
        self.on_output: list[Callable[[Output], None]] = []
        # each reading as the bus carries it, at once (MQTT: on the wire before the phones' turn)
        self.on_reading: list[Callable[[ReadingEvent], None]] = []
        # the heaters (service/runtime/heaters.py): their status, the cook's override, and every
        # command and plug report for the history; empty without [[heaters]]
        self.heater_views: Callable[[], list[HeaterView]] = list
        self.heater_override: Callable[[str, OverrideMode], bool] = lambda _id, _mode: False
        self.on_heater: list[Callable[[HeaterRecord], None]] = []
        # where water boils for each probe, as last said on the bus
        self._calibrations = {h.id: _calibration_key(h) for h in kitchen.probes.values()}

    # ---- messages in ---------------------------------------------------------

    def post(self, event: Event, raw: str = "") -> None:
        """From a probe: never blocks; a full inbox drops (and counts) the reading."""
        try:
            self._inbox.put_nowait(Message(event, raw))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 100 == 1:
                log.warning("hub inbox full: %d readings dropped so far", self.dropped)

    async def request(self, event: Event) -> list[Output]:
        """A command: applied in order with the readings; returns what it caused."""
        reply: asyncio.Future[list[Output]] = asyncio.get_running_loop().create_future()
        await self._inbox.put(Message(event, "", reply))
        return await reply

    async def run(self) -> None:
        while True:
            self.turned_at = self._loop_time()
            timeout = self._next_timeout()
            message: Message | None = None
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands
            # just as get() completes, and the hub would never stop
            try:
                async with asyncio.timeout(timeout):
                    message = await self._inbox.get()
            except TimeoutError:
                message = None
            if message is None:
                self.apply(Tick(self.clock.monotonic()))
                continue
            outputs = self.apply(message.event, message.raw)
            if message.reply is not None and not message.reply.done():
                message.reply.set_result(outputs)

    def _next_timeout(self) -> float:
        deadline = self.kitchen.next_deadline()
        wait = TICK_EVERY_S
        if deadline is not None:
            wait = min(wait, max(self.clock.real_seconds(deadline - self.clock.monotonic()), 0.0))
        return wait

    # ---- applying and publishing ---------------------------------------------------

    def apply(self, event: Event, raw: str = "") -> list[Output]:
        for hook in self.on_input:
            try:
                hook(event)
            except Exception:
                log.exception("input hook failed on %r", event)
        try:
            outputs = self.kitchen.handle(event)
        except Exception:
            # a bug in the tracker must not take the service (and every other probe) down
            log.exception("tracker failed on %r", event)
            return []
        self.handled += 1
        if isinstance(event, Sample):
            self._publish_reading(event, raw)
        # alerts first: they are what someone is waiting for
        for out in sorted(outputs, key=lambda o: not isinstance(o, AlertRaised)):
            self._publish(out)
            for on_output in self.on_output:
                try:
                    on_output(out)
                except Exception:
                    log.exception("output hook failed on %r", out)
        if isinstance(event, SetPressure | SetCalibration) or any(isinstance(o, CalibrationMeasured) for o in outputs):
            self._calibration_changes(event.at)
        if isinstance(event, Sample) and event.live:
            self._cook_updates(event)
        return outputs

    def _calibration_changes(self, at: float) -> None:
        """The barometer moved or went quiet, a boil was measured: say where water boils now.

        The core shifts the targets without a word (it is not an alert), so the
        page would show the old target until its next poll: a ``calibration``
        event per probe whose boiling point moved, then the cooks it moved.
        """
        for health in self.kitchen.probes.values():
            key = _calibration_key(health)
            was = self._calibrations.get(health.id)
            if was == key:
                continue
            self._calibrations[health.id] = key
            data = calibration_json(health)
            # a new source is news for the journal; the weather's creep is not
            level = logging.INFO if was is None or was[0] != key[0] else logging.DEBUG
            log.log(
                level,
                "probe %s: water boils at %.2f °C (%.1f °F) by %s: targets %+.2f °C",
                health.id,
                health.water_boils_c,
                c_to_f(health.water_boils_c),
                key[0],
                health.offset_c,
            )
            self.bus.publish("calibration", CalibrationEvent(probe=health.id, **data, at=self.clock.iso(at)))
            for cook in self.kitchen.cooks.values():
                if cook.ended_at is None and cook.probe == health.id:
                    self._publish_cook(cook.id)

    def _publish_reading(self, ev: Sample, raw: str) -> None:
        celsius, fahrenheit = both(ev.celsius, 3)
        health = self.kitchen.probes[ev.probe]
        reading = ReadingEvent(
            probe=ev.probe,
            channel=ev.channel,
            celsius=celsius,
            fahrenheit=fahrenheit,
            at=self.clock.iso(ev.at),
            state=health.state.value,
            live=ev.live,
            fault=ev.fault,
            raw=raw,
            line_s=round(ev.at, 3),
        )
        self.bus.publish("reading", reading)
        for on_reading in self.on_reading:
            try:
                on_reading(reading)
            except Exception:
                log.exception("reading hook failed on %r", ev)
        if not ev.live:
            return
        for cook in self.kitchen.cooks.values():
            if cook.ended_at is None and cook.probe == ev.probe and cook.channel in (None, ev.channel):
                cooklog = self.logs.get(cook.id)
                if cooklog is not None:
                    cooklog.add_point(ev.at, ev.celsius)

    def _cook_updates(self, ev: Sample) -> None:
        now = self._loop_time()
        for cook in self.kitchen.cooks.values():
            if cook.ended_at is not None or cook.probe != ev.probe:
                continue
            last = self._cook_event_at.get(cook.id, -1e9)
            if now - last >= COOK_EVENT_EVERY_S:
                self._cook_event_at[cook.id] = now
                self.bus.publish("cook", cook_json(self.kitchen, cook, self.clock))

    def _publish(self, out: Output) -> None:
        clock = self.clock
        if isinstance(out, AlertRaised):
            log.log(
                logging.WARNING if out.alert.level.value != "info" else logging.INFO,
                "alert %s %s: %s",
                out.alert.kind.value,
                out.alert.level.value,
                out.alert.message,
            )
            cooklog = self.logs.get(out.alert.cook_id or "")
            if cooklog is not None:
                cooklog.alerts.append((out.at, out.alert.id, out.alert.kind.value))
            self.bus.publish("alert", alert_json(out.alert, clock))
        elif isinstance(out, AlertCleared):
            alert = self.kitchen.alerts.get(out.alert_id)
            if alert is not None:
                self.bus.publish("alert", alert_json(alert, clock))
        elif isinstance(out, AlertAcked):
            log.info("alert %s acknowledged", out.alert_id)
            self.bus.publish("ack", AckEvent(id=out.alert_id, at=clock.iso(out.at)))
        elif isinstance(out, StageChanged):
            log.info("cook %s: %s %s", out.cook_id, out.step, out.stage)
            cooklog = self.logs.get(out.cook_id)
            if cooklog is not None:
                cooklog.stages.append((out.at, out.step, str(out.stage)))
            self.bus.publish(
                "stage",
                StageEvent(
                    cook=out.cook_id,
                    step=out.step,
                    stage=str(out.stage),
                    previous=str(out.previous) if out.previous is not None else None,
                    at=clock.iso(out.at),
                ),
            )
            self._publish_cook(out.cook_id)
        elif isinstance(out, CookStarted):
            log.info("cook %s started: %s on probe %s", out.cook_id, out.profile, out.probe)
            self.logs.start(out.cook_id, out.profile, out.probe, out.at)
        elif isinstance(out, StepStarted):
            self._publish_cook(out.cook_id)
        elif isinstance(out, CookEnded):
            log.info("cook %s ended: %s", out.cook_id, out.outcome)
            cooklog = self.logs.get(out.cook_id)
            if cooklog is not None:
                cooklog.ended_at, cooklog.outcome = out.at, out.outcome
            self.bus.publish("cook_ended", CookEndedEvent(cook=out.cook_id, outcome=out.outcome, at=clock.iso(out.at)))
        elif isinstance(out, ProbeStateChanged):
            log.info("probe %s: %s → %s", out.probe, out.previous, out.state)
            self.bus.publish(
                "probe",
                ProbeEvent(probe=out.probe, state=out.state, previous=out.previous, at=clock.iso(out.at)),
            )
        elif isinstance(out, CalibrationMeasured):
            log.info("probe %s: water boils at %.2f °C (%.1f °F)", out.probe, out.boil_c, c_to_f(out.boil_c))
            boil_c, boil_f = both(out.boil_c)
            self.bus.publish(
                "calibrated",
                CalibratedEvent(probe=out.probe, boil_c=boil_c, boil_f=boil_f, at=clock.iso(out.at)),
            )
        elif isinstance(out, CommandRefused):
            log.info("command %s refused: %s", out.command, out.reason)

    def _publish_cook(self, cook_id: str) -> None:
        cook = self.kitchen.cooks.get(cook_id)
        if cook is not None:
            self._cook_event_at[cook_id] = self._loop_time()
            self.bus.publish("cook", cook_json(self.kitchen, cook, self.clock))

    # ---- snapshots for readers --------------------------------------------------------

    def status(self) -> StatusView:
        kitchen, clock = self.kitchen, self.clock
        running = [c for c in kitchen.cooks.values() if c.ended_at is None]
        cooks = [cook_json(kitchen, c, clock) for c in running]
        return StatusView(
            now=clock.iso(clock.monotonic()),
            speed=clock.speed,
            probes=[probe_json(h, clock, self.labels.get(h.id, "")) for h in kitchen.probes.values()],
            cook=cooks[-1] if cooks else None,
            cooks=cooks,
            alerts=self._alerts_shown(),
            last_event_id=self.bus.last_id,
            heaters=self.heater_views(),
        )

    def cook_state(self) -> CookStateView:
        """The status's newest cook and its alerts alone: what MQTT's cook state is made of, on every cook event."""
        newest = next((c for c in reversed(self.kitchen.cooks.values()) if c.ended_at is None), None)
        return CookStateView(
            cook=cook_json(self.kitchen, newest, self.clock) if newest is not None else None,
            alerts=self._alerts_shown(),
        )

    def _alerts_shown(self) -> list[AlertView]:
        """The active alerts, then the 20 newest others, newest first."""
        alerts = sorted(self.kitchen.alerts.values(), key=lambda a: a.at, reverse=True)
        shown = [a for a in alerts if a.active] + [a for a in alerts if not a.active][:20]
        return [alert_json(a, self.clock) for a in shown]


def _calibration_key(health: ProbeHealth) -> tuple[str, float]:
    """What a listener must hear about: the source in force, and the boil to a hundredth of a degree."""
    return health.calibration.value, round(health.water_boils_c, 2)
