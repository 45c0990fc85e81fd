"""potwatch — the command line: run | demo | probe | replay | check-config | alarm-test | doctor.

Each command turns the errors people make (a bad file, a bad URL) into one
clear line and exit code 2; a traceback is a bug.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service import __version__
from service.config import Config, ConfigError, HeaterConfig, ProbeConfig, did_you_mean, probe_setups
from service.config_check import config_problems, relative, sim_speed
from service.journal import log_to_stderr
from service.resources import demo_config

if TYPE_CHECKING:
    from service.alarm.part import AlarmPart
    from service.mqtt import MqttPublisher
    from service.runtime.heaters import Heaters
    from service.serve import Service

log = logging.getLogger("potwatch")

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"potwatch: {message}", file=sys.stderr)
    return EXIT_USAGE


# ---- check-config --------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    config, problems = config_problems(Path(args.path))
    for line in problems:
        print(line)
    if problems:
        return EXIT_USAGE
    for note in config.alarm.route_notes() if config is not None else []:
        print(f"{args.path}: note: {note}", file=sys.stderr)
    print(f"{args.path}: ok")
    return 0


# ---- alarm-test -----------------------------------------------------------------------


def _config_or_say_why(path: Path) -> Config | None:
    """The config to run with, or None once every problem in it was printed (one line each)."""
    config, problems = config_problems(path)
    if problems or config is None:
        for line in problems:
            print(line, file=sys.stderr)
        return None
    return config


def cmd_alarm_test(args: argparse.Namespace) -> int:
    path = Path(args.config)
    config = _config_or_say_why(path)
    if config is None:
        return EXIT_USAGE
    from service.alarm.selftest import NoService, ask_service, run_here

    try:
        answer = ask_service(config)
        print(f"potwatch: asked the running service ({answer['url']})", file=sys.stderr)
    except NoService as exc:
        if not config.alarm_channels:
            channels = "[notify] urls, [alarm] buzzer_pin, speak, sound"
            print(f"potwatch: {exc}, and {path} configures no alarm channel ({channels})", file=sys.stderr)
            return 1
        print(f"potwatch: {exc}: testing the channels of {path} from here", file=sys.stderr)
        answer = asyncio.run(run_here(config, lambda notice: print(f"potwatch: {notice}", file=sys.stderr)))
    except RuntimeError as exc:
        print(f"potwatch: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0 if answer.get("ok") else 1


# ---- doctor ------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from service.doctor import Options, examine
    from service.doctor.report import render_json, render_text

    if not 0.5 <= args.wait <= 120:
        return _fail("--wait must be between 0.5 and 120 seconds")
    options = Options(
        config=Path(args.config),
        user=args.user,
        state_dir=args.state_dir,
        window=args.wait,
        alarm_test=args.alarm_test,
    )
    # the drivers' and the alarm's own log lines would repeat what the report says
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        report = asyncio.run(examine(options))
    except KeyboardInterrupt:
        return 130
    print(render_json(report, __version__) if args.json else render_text(report, __version__))
    return report.exit_code


# ---- replay ------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    from service.core.cook import ProbeSetup
    from service.profiles import load_profiles
    from service.replay import DEFAULT_PROBE, TraceError, read_trace, replay

    probes: list[ProbeSetup] = []
    kitchen_altitude: float | None = None
    profile_name = args.profile
    probe = DEFAULT_PROBE
    extra: list[Path] = []
    if args.config:
        config, problems = config_problems(Path(args.config))
        if problems or config is None:
            for line in problems:
                print(line, file=sys.stderr)
            return EXIT_USAGE
        probes = probe_setups(config)
        extra = [relative(Path(args.config), d) for d in config.profile_dirs]
        if config.cook is not None:
            profile_name = profile_name or config.cook.profile
            probe = config.cook.probe
        elif config.probes:
            # a trace with no probe column is the recording of the config's (first) probe
            probe = config.probes[0].id
        kitchen_altitude = config.altitude
    try:
        header, rows = read_trace(Path(args.trace))
        profiles = load_profiles(extra)
    except (TraceError, ConfigError) as exc:
        return _fail(str(exc))
    profile_name = profile_name or header.profile or "caramel"
    profile = profiles.get(profile_name)
    if profile is None:
        hint = did_you_mean(profile_name, profiles)
        return _fail(f"no profile {profile_name!r} (known: {', '.join(sorted(profiles))}){hint}")
    if args.config and probe not in {p.id for p in probes}:
        probes.append(ProbeSetup(probe, altitude_m=kitchen_altitude))
    out = sys.stdout
    dumps = json.dumps

    def emit(line: dict[str, Any]) -> None:
        out.write(dumps(line, ensure_ascii=False) + "\n")

    try:
        replay(rows, profile, emit, probes=probes or None, probe=probe, every_sample=args.every_sample)
    except TraceError as exc:
        out.flush()
        return _fail(str(exc))
    except BrokenPipeError:
        return 0
    return 0


# ---- probe ---------------------------------------------------------------------------


async def _watch_probe(url: str, as_json: bool) -> int:
    from drivers import ProbeDown, ProbeError, ProbeEvent, ProbeNotice, Reading, open_probe
    from service.probe_watch import pump, reading_json, reading_text

    try:
        probe = open_probe("probe", url)
    except ProbeError as exc:
        return _fail(str(exc))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    def show(event: ProbeEvent) -> None:
        if isinstance(event, Reading):
            print(reading_json(event) if as_json else reading_text(event), flush=True)
        elif isinstance(event, ProbeDown):
            print(f"probe gone: {event.reason}", file=sys.stderr, flush=True)
        elif isinstance(event, ProbeNotice):
            print(event.message, file=sys.stderr, flush=True)

    try:
        await pump(probe, show, stop)
    except ProbeError as exc:
        return _fail(str(exc))
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_watch_probe(args.url, args.json))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0


# ---- run and demo -----------------------------------------------------------------------


def _serve(config: Config, config_path: Path, args: argparse.Namespace, speed: float = 1.0, pace: bool = False) -> int:
    from service.profiles import load_profiles
    from service.runtime.clock import Clock, ScaledClock
    from service.serve import Service, state_dir

    try:
        profiles = load_profiles([relative(config_path, d) for d in config.profile_dirs])
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    clock = ScaledClock(speed) if speed != 1.0 else Clock()
    service = Service(config, profiles, clock=clock, host=args.host, port=args.port)
    if pace:
        from service.runtime.demo_pace import DemoPace

        demo_pace = DemoPace(speed)  # slow near the target, and the simulated cook hears the ack
        service.parts.append(demo_pace)
        service.on_probe_open = demo_pace.probe_opened
    from service.runtime.instance_lock import AlreadyRunning, InstanceLock, LockError

    try:
        if args.state_dir:
            service.state = Path(args.state_dir)
            service.state.mkdir(parents=True, exist_ok=True)
        else:
            service.state = state_dir(config)
    except OSError as exc:
        # under systemd only the StateDirectory (/var/lib/potwatch) is writable (ProtectSystem=strict)
        return _fail(
            f"cannot use the state directory {exc.filename or args.state_dir}: {exc.strerror or exc}"
            " (under the systemd unit only /var/lib/potwatch is writable: leave [storage] state_dir empty)"
        )
    try:
        # first of all: a second service must not restore (and rewrite) the history the first one writes
        lock = InstanceLock(service.state).acquire()
    except (AlreadyRunning, LockError) as exc:
        return _fail(str(exc))
    _under_systemd(service)
    heaters: Heaters | None = None
    if config.heaters:
        from service.runtime.heaters import Heaters

        heaters = Heaters.from_config(config)
        service.parts.insert(0, heaters)  # the first to close: heat off before anything else
    publisher: MqttPublisher | None = None
    if config.mqtt is not None:
        from service.mqtt import MqttPublisher

        publisher = MqttPublisher.from_config(config, args.host, args.port)
        service.parts.append(publisher)
    if config.pressure is not None:
        from service.runtime.barometer import Barometer

        service.parts.append(Barometer.from_config(config))
    if config.alarm_channels:
        alarm = _alarm_part(config, args, publisher)
        service.parts.append(alarm)
        service.collectors.append(alarm.collector())
        for note in config.alarm.route_notes():
            log.info("%s", note)
    from service.history import HistoryReader, HistoryRecorder, history_path, restorer

    db = history_path(service.state, config.storage.path)
    recorder = HistoryRecorder(db, retention_days=config.storage.retention_days)
    service.parts.append(recorder)
    service.restore = restorer(recorder)
    if heaters is not None:
        # read at the heaters' attach, after the restore has opened (checked, salvaged) the file
        heaters.remembered = recorder.remembered
    service.history = HistoryReader(db)
    try:
        return asyncio.run(service.run())
    except KeyboardInterrupt:
        return 0
    finally:
        lock.release()


def _under_systemd(service: Service) -> None:
    """systemd's notify socket and watchdog, read once and then taken out of the environment.

    Out, so that a player or a speech process started later cannot answer for
    the service (``NotifyAccess=main`` would drop its messages anyway). And
    ``faulthandler``: when the watchdog kills a hung service with SIGABRT, the
    journal gets every thread's Python stack, which says where the loop hung.
    """
    import faulthandler
    import os

    from service.runtime.loop_hang import LoopHang
    from service.runtime.systemd_notify import Notifier, forget_environment

    faulthandler.enable()
    service.notifier = Notifier.from_environment()
    forget_environment()
    service.loop_hang = LoopHang.from_environment(os.environ)


def _alarm_part(config: Config, args: argparse.Namespace, publisher: MqttPublisher | None) -> AlarmPart:
    """The alarm channels, with the page's LAN address for the ack URL of a push action."""
    from service.alarm.channels import build_channels
    from service.alarm.part import AlarmPart
    from service.runtime.pages import page_urls

    scheme = "https" if config.server.tls else "http"
    page = page_urls(scheme, args.host or config.server.host, args.port or config.server.port)[0]
    connected = None
    if publisher is not None:

        def connected() -> bool:
            return publisher.connected

    return AlarmPart.from_config(
        build_channels(config), config.alarm, page_url=page, token=config.server.token, mqtt_connected=connected
    )


def cmd_run(args: argparse.Namespace) -> int:
    path = Path(args.config)
    config = _config_or_say_why(path)
    if config is None:
        return EXIT_USAGE
    speed, _ = sim_speed(config)  # two clocks were refused with the config's other problems
    if speed != 1.0:
        config = config.model_copy(
            update={
                "probes": [_real_stale(p, speed) for p in config.probes],
                "heaters": [_heater_real_stale(h, speed) for h in config.heaters],
            }
        )
        log.info("the simulated pot runs %g× faster than real time: so does the tracker's clock", speed)
    return _serve(config, path, args, speed=speed)


def _real_stale(probe: ProbeConfig, speed: float) -> ProbeConfig:
    """As the demo does: half a real second of scheduling jitter is minutes of sim time at high speed."""
    if probe.stale_after is not None:
        return probe
    return probe.model_copy(update={"stale_after": max(10.0, 0.5 * speed)})


def _heater_real_stale(heater: HeaterConfig, speed: float) -> HeaterConfig:
    """The heater's "no fresh level" limit, like the probes': its 15 s default is 0.25 real s at 60×,
    and one stall of the loop that long would latch a braise's heat off for the rest of the cook."""
    if "stale_after" in heater.model_fields_set:
        return heater
    return heater.model_copy(update={"stale_after": max(heater.stale_after, 0.5 * speed)})


def cmd_demo(args: argparse.Namespace) -> int:
    if args.speed <= 0 or args.speed > 10000:
        return _fail("--speed must be between 0 and 10000")
    config, problems = config_problems(demo_config())
    if problems or config is None:
        for line in problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    # Half a real second of scheduling jitter is minutes of sim time at high speed: give the
    # simulated probe a stale timeout in real terms, or the demo cries "probe lost".
    stale = max(10.0, 0.5 * args.speed)
    probes = [
        p.model_copy(update={"url": f"{p.url}&speed={args.speed:g}", "stale_after": stale}) for p in config.probes
    ]
    config = config.model_copy(update={"probes": probes})
    heated = ""
    if args.heater is not None:
        from service.demo_heater import (
            DemoHeaterError,
            broker_problem,
            demo_plug_url,
            plug_topic,
            redacted,
            speed_problem,
            with_heater,
        )

        try:
            plug_url = demo_plug_url(args.heater)
        except DemoHeaterError as exc:
            return _fail(str(exc))
        too_fast = speed_problem(args.speed)
        if too_fast is not None:
            return _fail(too_fast)
        # before anything starts: a heater left waiting for its link would leave the pot cold all demo long
        try:
            problem = asyncio.run(broker_problem(plug_url))
        except KeyboardInterrupt:  # Ctrl-C while a far broker keeps us waiting: a stop, not a traceback
            return 0
        except (OSError, ValueError) as exc:  # a cafile that is not there or not a certificate (ssl errors too)
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            return _fail(f"--heater {redacted(args.heater)}: {problem}")
        config = with_heater(config, plug_url, args.speed)
        heated = f", heated through its own plug (cmnd/{plug_topic(plug_url)}/POWER) that potwatch switches"
    if args.state_dir is None:
        import tempfile

        args.state_dir = tempfile.mkdtemp(prefix="potwatch-demo-")
    print(
        f"potwatch demo: a simulated pot cooking rillons {args.speed:g}× faster than real time{heated}; "
        "open the address below on a phone on the same network (Ctrl-C stops)",
        file=sys.stderr,
    )
    return _serve(config, demo_config(), args, speed=args.speed, pace=True)


# ---- entry ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # Help is plain text for a terminal: no reST markup (argparse prints it as it is).
    parser = argparse.ArgumentParser(
        prog="potwatch",
        description="Follows a recipe on a kitchen thermometer and tells the cook the moment the pot needs them.",
        epilog="Each command's options: potwatch COMMAND --help. Every config option: config/example.toml.",
    )
    parser.add_argument("--version", action="version", version=f"potwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="the service: probes, tracker, phone page and API")
    p.add_argument("--config", default="/etc/potwatch/potwatch.toml", help="config file (TOML)")
    p.add_argument("--host", help="listen address (overrides [server] host)")
    p.add_argument("--port", type=int, help="listen port (overrides [server] port)")
    p.add_argument("--state-dir", help="where history, calibration and certificates live")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the service on a simulated pot cooking rillons, sped up")
    p.add_argument("--speed", type=float, default=60.0, help="how many times faster than real time (default 60)")
    p.add_argument("--host", help="listen address (default 0.0.0.0: phones on the network can open it)")
    p.add_argument("--port", type=int, help="listen port (default 8000)")
    p.add_argument("--state-dir", help="default: a new temporary folder")
    p.add_argument(
        "--heater",
        metavar="mqtt://HOST:PORT",
        help="heat the pot through its own emulated Tasmota plug on this MQTT broker (one you run), "
        "switched by potwatch: the braise held, the caramel's heat off at 225 °F",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("check-config", help="validate a config file; exit 2 with one line per problem")
    p.add_argument("path")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser(
        "alarm-test",
        help="send a test through every alarm channel; JSON, one entry per channel",
        description="Asks the running service first (its pins and speaker stay its own); when nothing answers, "
        "builds the channels of the config and tests them from here. Exit 0: every channel accepted; 1: one "
        "failed; 2: a bad config.",
    )
    p.add_argument("--config", default="/etc/potwatch/potwatch.toml", help="config file (TOML)")
    p.set_defaults(func=cmd_alarm_test)

    p = sub.add_parser(
        "doctor",
        help="check this install: devices, probes, broker, state directory, clock, alarm; says what to do",
        description="One line per check: ok, info, warn or FAIL, with what to do below anything not ok. "
        "Exit 0: nothing failed; 1: a check failed; 2: the config cannot be used (as check-config).",
    )
    p.add_argument("--config", default="/etc/potwatch/potwatch.toml", help="config file (TOML)")
    p.add_argument(
        "--user", help="judge devices and the state directory for this user (default: the unit's User=, else potwatch)"
    )
    p.add_argument("--state-dir", help="the state directory the service uses, if not the config's")
    p.add_argument("--wait", type=float, default=8.0, help="seconds to read the probes (all at once; default 8)")
    p.add_argument(
        "--alarm-test", action="store_true", help="also send a real test alarm on the channels (buzzer, voice, push)"
    )
    p.add_argument("--json", action="store_true", help="the findings as one JSON object")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("probe", help="print one probe's readings live, to set it up")
    p.add_argument("url", help="serial:///dev/ttyUSB0?baud=9600&format=auto, mqtt://host/topic?format=…, sim://")
    p.add_argument("--json", action="store_true", help="one JSON object per reading")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("replay", help="run a recorded trace through the tracker, print JSON lines")
    p.add_argument("trace")
    p.add_argument("--profile", help="profile name (default: the trace's, the config's cook, or caramel)")
    p.add_argument("--config", help="a config file: its probes (stale timeouts, calibration) and cook")
    p.add_argument("--every-sample", action="store_true", help="also print a line per input sample")
    p.set_defaults(func=cmd_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_to_stderr(logging.DEBUG if args.verbose else logging.INFO)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
