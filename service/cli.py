"""potwatch — the command line: run | demo | probe | replay | check-config | alarm-test.

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
from urllib.parse import parse_qsl, urlsplit

from service import __version__
from service.config import Config, ConfigError, ProbeConfig, did_you_mean, load_config, probe_setups
from service.core.units import c_to_f
from service.journal import log_to_stderr
from service.resources import demo_config

if TYPE_CHECKING:
    from service.alarm.part import AlarmPart
    from service.mqtt import MqttPublisher
    from service.serve import Service

log = logging.getLogger("potwatch")

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"potwatch: {message}", file=sys.stderr)
    return EXIT_USAGE


# ---- check-config --------------------------------------------------------------


def config_problems(path: Path) -> tuple[Config | None, list[str]]:
    """Everything wrong with a config file (and the profiles it uses), one line each."""
    from service.profiles import load_profiles

    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, exc.problems
    problems: list[str] = []
    try:
        profiles = load_profiles([_relative(path, d) for d in config.profile_dirs])
    except ConfigError as exc:
        return config, exc.problems
    if config.cook is not None and config.cook.profile not in profiles:
        known = ", ".join(sorted(profiles))
        hint = did_you_mean(config.cook.profile, profiles)
        problems.append(f"{path}: cook.profile: no profile {config.cook.profile!r} (known: {known}){hint}")
    problems += push_url_problems(path, config)
    _, clocks = sim_speed(config)
    if clocks:
        problems.append(f"{path}: probes: {clocks}")
    return config, problems


def push_url_problems(path: Path, config: Config) -> list[str]:
    """Each ``[notify]`` URL judged by the push channel's own rules, the key named (as probe URLs are)."""
    if not config.notify.urls:
        return []
    # the config module may not import the alarm package; the command line may, and only when needed
    from service.alarm.push_url import check_push_url

    problems: list[str] = []
    for i, url in enumerate(config.notify.urls):
        why = check_push_url(url)
        if why:
            problems.append(f"{path}: notify.urls[{i}]: {why}")
    return problems


def _relative(config_path: Path, folder: str) -> Path:
    p = Path(folder).expanduser()
    return p if p.is_absolute() else config_path.parent / p


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

LOCAL_HOSTS = ("0.0.0.0", "::", "")
ASK_CONNECT_S = 2.0
ASK_ANSWER_S = 30.0  # the service waits up to 20 s for its slowest channel
LOCAL_SOUND_S = 2.0  # a buzzer started from here sounds this long before the command lets go of the pin


class NoService(Exception):
    """Nothing answers where the config says the service listens."""


def _ask_service(config: Config) -> dict[str, Any]:
    """``POST /api/alarm/test`` on the running service: its pins, its speaker, its connections."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines are not the answer
    server = config.server
    host = "127.0.0.1" if server.host in LOCAL_HOSTS else server.host
    scheme = "https" if server.tls else "http"
    url = f"{scheme}://{host}:{server.port}/api/alarm/test"
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    try:
        # the service's certificate is its own (self-signed): this talks to it on this machine
        response = httpx.post(
            url, headers=headers, timeout=httpx.Timeout(ASK_ANSWER_S, connect=ASK_CONNECT_S), verify=False
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise NoService(f"no service answers at {url} ({exc})") from None
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the service at {url} did not answer the test: {exc}") from None
    if response.status_code in (404, 405):  # no such route: the page's files answer the path
        raise RuntimeError(f"the service at {url} runs without alarm channels (its config has none)")
    if response.status_code in (401, 403):
        raise RuntimeError(f"the service at {url} refused the test: {response.json().get('detail', response.text)}")
    if response.status_code != 200:
        raise RuntimeError(f"the service at {url} answered {response.status_code}: {response.text[:200]}")
    answer: dict[str, Any] = response.json()
    return {"via": "service", "url": url, **answer}


async def _test_here(config: Config) -> dict[str, Any]:
    """The channels built from the config, tried from this process, then released."""
    from service.alarm.channels import build_channels
    from service.alarm.part import AlarmPart, rules_from_config

    part = AlarmPart(build_channels(config), rules_from_config(config.alarm), unit=config.alarm.unit)
    for channel in part.channels:
        for notice in channel.notices():
            print(f"potwatch: {channel.name}: {notice}", file=sys.stderr)
    try:
        answer = await part.self_test()
        if any(c.kind == "buzzer" for c in part.channels):
            await asyncio.sleep(LOCAL_SOUND_S)  # let the test pattern be heard before the pin is let go
    finally:
        await part.close()
    return {"via": "local", **answer}


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
    try:
        answer = _ask_service(config)
        print(f"potwatch: asked the running service ({answer['url']})", file=sys.stderr)
    except NoService as exc:
        if not config.alarm_channels:
            channels = "[notify] urls, [alarm] buzzer_pin, speak, sound"
            print(f"potwatch: {exc}, and {path} configures no alarm channel ({channels})", file=sys.stderr)
            return 1
        print(f"potwatch: {exc}: testing the channels of {path} from here", file=sys.stderr)
        answer = asyncio.run(_test_here(config))
    except RuntimeError as exc:
        print(f"potwatch: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0 if answer.get("ok") else 1


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
        extra = [_relative(Path(args.config), d) for d in config.profile_dirs]
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


def _reading_json(reading: Any) -> str:
    c = reading.celsius
    return json.dumps(
        {
            "probe": reading.probe,
            "channel": reading.channel,
            "celsius": None if c is None else round(c, 3),
            "fahrenheit": None if c is None else round(c_to_f(c), 3),
            "at": round(reading.at, 3),
            "raw": reading.raw,
            "fault": reading.fault,
            "live": reading.live,
        },
        ensure_ascii=False,
    )


def _reading_text(reading: Any) -> str:
    channel = f"[{reading.channel}] " if reading.channel else ""
    old = "" if reading.live else " (retained: an old value)"
    if reading.celsius is None:
        return f"{reading.probe} {channel}FAULT: {reading.fault}  raw={reading.raw!r}{old}"
    c = reading.celsius
    return f"{reading.probe} {channel}{c_to_f(c):7.2f} °F  {c:7.2f} °C  raw={reading.raw!r}{old}"


async def _watch_probe(url: str, as_json: bool) -> int:
    from drivers import ProbeDown, ProbeError, ProbeNotice, Reading, open_probe

    try:
        probe = open_probe("probe", url)
    except ProbeError as exc:
        return _fail(str(exc))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    async def pump() -> None:
        async for event in probe.events():
            if isinstance(event, Reading):
                print(_reading_json(event) if as_json else _reading_text(event), flush=True)
            elif isinstance(event, ProbeDown):
                print(f"probe gone: {event.reason}", file=sys.stderr, flush=True)
            elif isinstance(event, ProbeNotice):
                print(event.message, file=sys.stderr, flush=True)

    task = asyncio.create_task(pump())
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    for t in (task, waiter):
        t.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    failure = task.exception() if task in done else None
    if isinstance(failure, ProbeError):
        return _fail(str(failure))
    if failure is not None:
        raise failure
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
        profiles = load_profiles([_relative(config_path, d) for d in config.profile_dirs])
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

    if args.state_dir:
        service.state = Path(args.state_dir)
        service.state.mkdir(parents=True, exist_ok=True)
    else:
        service.state = state_dir(config)
    try:
        # first of all: a second service must not restore (and rewrite) the history the first one writes
        lock = InstanceLock(service.state).acquire()
    except (AlreadyRunning, LockError) as exc:
        return _fail(str(exc))
    _under_systemd(service)
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
        config = config.model_copy(update={"probes": [_real_stale(p, speed) for p in config.probes]})
        log.info("the simulated pot runs %g× faster than real time: so does the tracker's clock", speed)
    return _serve(config, path, args, speed=speed)


def sim_speed(config: Config) -> tuple[float, str | None]:
    """The one clock speed ``run`` can use: a sped-up ``sim://`` probe needs the kitchen's clock at its pace.

    Read on the real clock, a pot simulated 60× fast climbs 1,300 °F a minute
    and never gets an ETA; so the tracker (its rates, ETAs and every timeout)
    runs at the simulation's speed, as ``potwatch demo`` does. That is only
    right when every probe is simulated at that one speed: a real probe, or a
    second speed, cannot share the clock, and is refused with the way out.
    """
    speeds: dict[str, float] = {}
    for index, probe in enumerate(config.probes):
        url = urlsplit(probe.url)
        value = dict(parse_qsl(url.query)).get("speed") if url.scheme == "sim" else None
        speeds[f"probes[{index}]"] = float(value) if value is not None else 1.0
    fast = {where: speed for where, speed in speeds.items() if speed != 1.0}
    if not fast:
        return 1.0, None
    if len(set(speeds.values())) > 1:
        listed = ", ".join(f"{where} at {speed:g}×" for where, speed in speeds.items())
        return 1.0, (
            f"probes run at different speeds ({listed}): the tracker has one clock. Drop speed= from the "
            "sim:// URLs, or give every probe the same sim:// speed"
        )
    return next(iter(fast.values())), None


def _real_stale(probe: ProbeConfig, speed: float) -> ProbeConfig:
    """As the demo does: half a real second of scheduling jitter is minutes of sim time at high speed."""
    if probe.stale_after is not None:
        return probe
    return probe.model_copy(update={"stale_after": max(10.0, 0.5 * speed)})


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
    if args.state_dir is None:
        import tempfile

        args.state_dir = tempfile.mkdtemp(prefix="potwatch-demo-")
    print(
        f"potwatch demo: a simulated pot cooking rillons {args.speed:g}× faster than real time; "
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
