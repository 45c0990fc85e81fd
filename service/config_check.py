"""What ``potwatch check-config`` judges: the file, the profiles it uses, its push URLs and its clocks.

Its own module so that every command that needs a usable config (``run``,
``replay``, ``alarm-test``, ``doctor``) asks the same question and reports the
same lines, ``file: key.path: what is wrong``, without importing the command
line.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from service.config import Config, ConfigError, did_you_mean, load_config


def config_problems(path: Path) -> tuple[Config | None, list[str]]:
    """Everything wrong with a config file (and the profiles it uses), one line each."""
    from service.profiles import load_profiles

    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, exc.problems
    problems: list[str] = []
    try:
        profiles = load_profiles([relative(path, d) for d in config.profile_dirs])
    except ConfigError as exc:
        return config, exc.problems
    if config.cook is not None and config.cook.profile not in profiles:
        known = ", ".join(sorted(profiles))
        hint = did_you_mean(config.cook.profile, profiles)
        problems.append(f"{path}: cook.profile: no profile {config.cook.profile!r} (known: {known}){hint}")
    problems += push_url_problems(path, config)
    problems += tls_file_problems(path, config)
    _, clocks = sim_speed(config)
    if clocks:
        problems.append(f"{path}: probes: {clocks}")
    return config, problems


def push_url_problems(path: Path, config: Config) -> list[str]:
    """Each ``[notify]`` URL judged by the push channel's own rules, the key named (as probe URLs are)."""
    if not config.notify.urls:
        return []
    # the config module may not import the alarm package; this check may, and only when needed
    from service.alarm.push_url import check_push_url

    problems: list[str] = []
    for i, url in enumerate(config.notify.urls):
        why = check_push_url(url)
        if why:
            problems.append(f"{path}: notify.urls[{i}]: {why}")
    return problems


# the folders the systemd unit's ProtectHome=yes hides from the service (systemd.exec(5))
HIDDEN_BY_THE_UNIT = tuple(str(Path("/", *parts)) + os.sep for parts in (("home",), ("root",), ("run", "user")))


def tls_file_problems(path: Path, config: Config) -> list[str]:
    """Certificates and keys the service will open: there, readable, and named so it finds them.

    Found missing only when the service starts, they stopped it within a
    second, again and again under Restart=always, with a message naming no file.
    """
    wanted: list[tuple[str, str]] = []
    if config.server.tls == "files":
        wanted += [("server.tls_cert", config.server.tls_cert), ("server.tls_key", config.server.tls_key)]
    if config.mqtt is not None:
        cafile = dict(parse_qsl(urlsplit(config.mqtt.url).query)).get("cafile")
        if cafile:
            wanted.append(("mqtt.url: cafile", cafile))
    problems: list[str] = []
    for key, name in wanted:
        file = Path(name).expanduser()
        if not file.is_absolute():
            problems.append(
                f"{path}: {key}: {name!r}: give an absolute path (the service does not run in the config's folder)"
            )
            continue
        if os.access(file, os.R_OK) and file.is_file():
            continue
        why = "no such file" if not file.exists() else "not a readable file"
        hint = ""
        if str(file).startswith(HIDDEN_BY_THE_UNIT):
            hint = " (the systemd unit hides /home, /root and /run/user from the service: put it under /etc/potwatch)"
        problems.append(f"{path}: {key}: {file}: {why}{hint}")
    return problems


def relative(config_path: Path, folder: str) -> Path:
    """A folder named in the config, relative to the config file unless absolute."""
    p = Path(folder).expanduser()
    return p if p.is_absolute() else config_path.parent / p


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
