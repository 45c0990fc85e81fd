"""``potwatch run``: wire probes → hub → HTTP, and the parts (MQTT, history, the alarm channels).

Start-up and shutdown are orderly. SIGTERM (systemd's stop) or Ctrl-C sets one
event; the HTTP server stops accepting, every SSE stream is ended by us rather
than waited for (uvicorn would wait forever for a connected phone), and then
the hub and the probe tasks are cancelled. The whole stop takes well under 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from service.api import accept_errors
from service.api.app import AppSettings, create_app
from service.api.connections import ACCEPT_BACKLOG, ConnectionLimits, guarded_protocol
from service.api.metrics import DroppedCollector
from service.config import Config, probe_setups
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import CalibrationMeasured, Output, SetPressure, StartCook
from service.core.profile import Profile
from service.runtime.clock import Clock
from service.runtime.hub import Hub
from service.runtime.loop_hang import LoopHang
from service.runtime.pages import page_urls
from service.runtime.parts import Part
from service.runtime.probes import DroppedInput, supervise_probe
from service.runtime.qr import qr_terminal
from service.runtime.status_line import report_status, status_line
from service.runtime.systemd_notify import Notifier
from service.runtime.watchdog import keep_alive, ping_interval, stalled

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from service.history.reader import HistoryReader

log = logging.getLogger(__name__)

GRACEFUL_S = 2  # uvicorn's wait for open connections; our SSE streams end before it
PART_CLOSE_S = 1.5
# the hub turns at least once a second (its tick): this long without a turn, it is stuck
HUB_STALL_S = 5.0


def state_dir(config: Config) -> Path:
    """Where the database, the calibration and the certificate live."""
    if config.storage.state_dir:
        path = Path(config.storage.state_dir).expanduser()
    elif os.environ.get("STATE_DIRECTORY"):  # systemd's StateDirectory=
        path = Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    else:
        path = Path.home() / ".local" / "state" / "potwatch"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Calibrations:
    """Measured boiling points, kept across restarts (a measurement beats the config's value)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, float] = {}
        try:
            data = json.loads(path.read_text())
            self.values = {str(k): float(v) for k, v in data.items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring unreadable calibration file %s: %s", path, exc)

    def save(self, probe: str, boil_c: float) -> None:
        self.values[probe] = boil_c
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.values, indent=2))
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("could not save the calibration of %s: %s", probe, exc)


class ListenError(Exception):
    pass


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the stop is ours, and orderly."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


@dataclass
class Service:
    config: Config
    profiles: dict[str, Profile]
    clock: Clock = field(default_factory=Clock)
    host: str | None = None
    port: int | None = None
    state: Path | None = None
    # long-running parts (MQTT, history, push)
    parts: list[Part] = field(default_factory=list)
    # rebuilds the kitchen (and the clock it lives on) from history before going live
    restore: Callable[[list[ProbeSetup], Clock], Awaitable[tuple[Kitchen, Clock]]] | None = None
    # the recorded cooks, for GET /api/cooks… (None: only this run's)
    history: HistoryReader | None = None
    on_ready: Callable[[str], None] | None = None
    # sees every probe driver opened (the demo paces its simulated pots)
    on_probe_open: Callable[[object], None] | None = None
    # more /metrics (the alarm channels' counters)
    collectors: list[Collector] = field(default_factory=list)
    # systemd's notify socket: READY=1, the watchdog, the status line (the command line's: its environment)
    notifier: Notifier = field(default_factory=lambda: Notifier(None))
    # for tests only: the event loop blocked on purpose, to see the watchdog act
    loop_hang: LoopHang | None = None

    async def run(self) -> int:
        config = self.config
        state = self.state or state_dir(config)
        calibrations = Calibrations(state / "calibration.json")
        setups = probe_setups(config, calibrations.values)
        clock = self.clock
        if self.restore is not None:
            kitchen, clock = await self.restore(setups, clock)
        else:
            kitchen = Kitchen(setups)
        self.clock = clock
        hub = Hub(kitchen, clock, self.profiles, labels={p.id: p.label for p in config.probes})

        def remember(out: Output) -> None:
            if isinstance(out, CalibrationMeasured):
                calibrations.save(out.probe, out.boil_c)

        hub.on_output.append(remember)
        settings = AppSettings(
            token=config.server.token,
            secure=bool(config.server.tls),
            history=self.history,
            allowed_hosts=config.server.allowed_hosts,
        )
        if not config.server.token:
            log.warning("no [server] token: anyone on this network can stop the cook (see docs/security.md)")
        settings.collectors.extend(self.collectors)
        dropped = DroppedInput()
        settings.collectors.append(DroppedCollector(dropped))
        for part in self.parts:
            part.attach(hub)
            settings.health.append(part.health)
            settings.routers.extend(part.routers())
        app = create_app(hub, settings)
        host = self.host or config.server.host
        port = self.port if self.port is not None else config.server.port
        ssl: dict[str, str] = {}
        if config.server.tls == "self-signed":
            from service.tls import self_signed

            cert, key = self_signed(state)
            ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        elif config.server.tls == "files":
            ssl = {"ssl_certfile": config.server.tls_cert, "ssl_keyfile": config.server.tls_key}
        limits = ConnectionLimits().within()  # the cap fits the descriptor limit (LimitNOFILE)
        if limits.max_connections < ConnectionLimits().max_connections:
            log.warning("few descriptors (LimitNOFILE): at most %d HTTP connections", limits.max_connections)
        protocol = guarded_protocol(limits)
        server = _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                http=protocol,
                backlog=ACCEPT_BACKLOG,
                log_level="warning",
                log_config=None,  # uvicorn's lines through our handler: one format, journald's priorities
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=GRACEFUL_S,
                **ssl,  # type: ignore[arg-type]
            )
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        accept_errors.install(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)

        if config.pressure is None and kitchen.pressure_hpa is not None:
            # recorded while a barometer was configured: without one it would never go stale
            log.info("no [pressure] barometer configured: forgetting the recorded %.1f hPa", kitchen.pressure_hpa)
            hub.apply(SetPressure(clock.monotonic(), None))
        resumed = any(c.ended_at is None for c in kitchen.cooks.values())
        if config.cook is not None and not resumed:
            profile = self.profiles[config.cook.profile]
            hub.apply(StartCook(clock.monotonic(), profile, config.cook.probe, config.cook.channel))

        # Every task that must run for the whole service is watched: one that ends while
        # nobody asked it to (a bug, an exception nobody caught) stops the service with a
        # non-zero code, so that systemd restarts it and the cook resumes from history,
        # rather than a page that stays up while nothing is tracked.
        tasks = [asyncio.create_task(hub.run(), name="hub")]
        tasks += [
            asyncio.create_task(
                supervise_probe(p.id, p.url, hub, clock, self.on_probe_open, dropped), name=f"probe {p.id}"
            )
            for p in config.probes
        ]
        tasks += [asyncio.create_task(part.run(), name=part.name) for part in self.parts]
        serving = asyncio.create_task(self._serve(server), name="http")
        told: asyncio.Task[None] | None = None
        if self.notifier.enabled or self.loop_hang is not None:
            problems = _health(hub, [tasks[0], *tasks[1 : 1 + len(config.probes)], serving])
            line = lambda: status_line(hub.status(), config.alarm.unit)  # noqa: E731
            told = asyncio.create_task(self._tell_systemd(server, problems, line), name="systemd")
            tasks.append(told)
        scheme = "https" if ssl else "http"
        started = asyncio.create_task(self._announce(server, settings, scheme, host, port))
        stopper = asyncio.create_task(stop.wait())
        code = 0
        try:
            done, _ = await asyncio.wait({serving, stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                log.info("stopping")
            else:
                code = 1
                for task in done:
                    log.error("%s", died(task))
        finally:
            if told is not None:
                told.cancel()  # no status line after "stopping", and no ping either
            self.notifier.send("STOPPING=1", "STATUS=stopping")
            settings.shutdown.set()  # ends every SSE stream now, not after uvicorn's wait
            hub.bus.close_all()
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(serving), GRACEFUL_S + 1.0)
            protocol.report.flush()  # what the connection guard counted since its last line
            for part in self.parts:
                try:
                    await asyncio.wait_for(part.close(), PART_CLOSE_S)
                except Exception:
                    log.warning("%s did not close cleanly", part.name, exc_info=True)
            for task in [*tasks, started, stopper, serving]:
                task.cancel()
            everything = asyncio.gather(*tasks, started, stopper, serving, return_exceptions=True)
            try:
                await asyncio.wait_for(everything, PART_CLOSE_S)
            except TimeoutError:
                stuck = [t.get_name() for t in (*tasks, serving) if not t.done()]
                log.warning("tasks did not stop in time: %s", ", ".join(stuck))
        self.notifier.close()
        log.info("stopped")
        return code

    async def _serve(self, server: uvicorn.Server) -> None:
        try:
            await server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot bind; say why instead
            raise ListenError(
                f"cannot listen on {server.config.host}:{server.config.port} (in use, or not allowed)"
            ) from None
        if not server.started:
            raise ListenError(f"cannot listen on {server.config.host}:{server.config.port} (in use, or not allowed)")

    async def _announce(self, server: uvicorn.Server, settings: AppSettings, scheme: str, host: str, port: int) -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        urls = page_urls(scheme, host, port)
        for url in urls:
            log.info("phone page: %s", url)
        settings.page_url = urls[0]
        # once, for a phone to scan instead of typing the address (the page serves it too, /qr.svg)
        print(f"scan to open {urls[0]} on a phone:\n{qr_terminal(urls[0])}", file=sys.stderr, flush=True)
        if self.on_ready is not None:
            self.on_ready(urls[0])

    async def _tell_systemd(
        self, server: uvicorn.Server, problems: Callable[[], list[str]], line: Callable[[], str]
    ) -> None:
        """READY=1 once the API answers and every probe is supervised; then the watchdog and the status line."""
        while not server.started or problems():
            await asyncio.sleep(0.05)
        notifier = self.notifier
        jobs: list[Awaitable[None]] = []
        if notifier.enabled:
            try:
                first: str | None = line()
            except Exception:
                log.exception("cannot build the status line for systemd")  # READY=1 matters more than the line
                first = None
            notifier.ready(first)
            jobs.append(report_status(notifier, line, sent=first))
            if notifier.watchdog_s is not None:
                every = ping_interval(notifier.watchdog_s)
                log.info("watchdog: pinging systemd every %.1f s (WatchdogSec=%g)", every, notifier.watchdog_s)
                jobs.append(keep_alive(notifier, every, problems))
        if self.loop_hang is not None:
            jobs.append(self.loop_hang.run())
        await asyncio.gather(*jobs)
        await asyncio.Event().wait()  # parked, not returned: a task that ends is taken for one that died


def _health(hub: Hub, watched: list[asyncio.Task[None]]) -> Callable[[], list[str]]:
    """What keeps the watchdog from pinging: a stopped hub, probe supervisor or HTTP server, or a stuck hub."""
    loop = asyncio.get_running_loop()

    def problems() -> list[str]:
        found = [f"{task.get_name()} has stopped" for task in watched if task.done()]
        stuck = stalled("the hub", hub.turned_at, loop.time(), HUB_STALL_S)
        return [*found, stuck] if stuck else found

    return problems


def died(task: asyncio.Task[object]) -> str:
    """Why a task that should have run until the stop ended: what the journal says before the restart."""
    name = task.get_name()
    if task.cancelled():
        why = "it was cancelled"
    elif (exc := task.exception()) is not None:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]  # a task group's: the first of its own errors says why
        if isinstance(exc, ListenError):
            return str(exc)
        why = f"{type(exc).__name__}: {exc}"
    else:
        why = "it returned"
    return f"{name} stopped ({why}): exiting so that the service is restarted and the cook resumes from history"
