"""The config an install writes, and what an existing one asks of the machine.

The installed file is ``config/example.toml`` with every option commented
out: the service starts on its defaults (the page on port 8000, no probe
yet), and every option is there, with what it does, to uncomment.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = """\
# /etc/potwatch/potwatch.toml, written by scripts/install from config/example.toml.
# Every option is commented out, so the service starts on the defaults. Uncomment
# what you need (your probe first: find it with  potwatch probe 'serial:///dev/ttyUSB0?format=auto'),
# then check the file and restart:
#   sudo /opt/potwatch/.venv/bin/potwatch check-config /etc/potwatch/potwatch.toml
#   sudo systemctl restart potwatch
# scripts/install never overwrites this file.

"""


class ExampleNotCommentable(Exception):
    """The example holds a value that commenting line by line does not turn off (a multi-line string)."""


def commented_example(example: str) -> str:
    """Every line of the example that sets something, commented out; the comments as they are."""
    lines = []
    for line in example.splitlines():
        text = line.strip()
        lines.append(line if not text or text.startswith("#") else f"# {line}")
    written = HEADER + "\n".join(lines) + "\n"
    left = tomllib.loads(written)
    if left:
        raise ExampleNotCommentable(f"commenting the example left {sorted(left)} set")
    return written


@dataclass(frozen=True)
class Needs:
    """What the config's alarm channels ask of the machine, and why (each reason is shown)."""

    groups: tuple[str, ...] = ("dialout",)
    packages: tuple[str, ...] = ()
    pip_extras: tuple[str, ...] = ()
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class Server:
    """Where the service listens, and how to ask it."""

    host: str = "0.0.0.0"
    port: int = 8000
    token: str = ""
    tls: bool = False


def read(path: Path) -> dict[str, Any] | None:
    """The config as TOML, or None when it is not TOML (check-config then says why)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def needs(config: dict[str, Any]) -> Needs:
    """Serial probes need dialout always; a buzzer needs gpio and a pin library; a voice needs audio and its tools."""
    table = config.get("alarm")
    alarm: dict[str, Any] = table if isinstance(table, dict) else {}
    groups = ["dialout"]
    packages: list[str] = []
    pip: list[str] = []
    why: list[str] = []
    if alarm.get("buzzer_pin") is not None:
        groups.append("gpio")
        pip.append("lgpio")  # gpiozero's pin library on bookworm; piwheels has it built for the Pi
        why.append("alarm.buzzer_pin is set: the gpio group and the lgpio pin library")
    speak = alarm.get("speak") is True
    if speak or alarm.get("sound"):
        groups.append("audio")
        packages.append("alsa-utils")  # aplay
        if speak:
            packages.append("espeak-ng")
        why.append("alarm.speak or alarm.sound is set: the audio group, aplay" + (" and espeak-ng" if speak else ""))
    return Needs(tuple(groups), tuple(packages), tuple(pip), tuple(why))


def server(config: dict[str, Any]) -> Server:
    table = config.get("server")
    table = table if isinstance(table, dict) else {}
    port = table.get("port", 8000)
    return Server(
        host=str(table.get("host", "0.0.0.0")),
        port=port if isinstance(port, int) else 8000,
        token=str(table.get("token", "")),
        tls=bool(table.get("tls", "")),
    )
