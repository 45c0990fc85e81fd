"""The serial devices plugged in, their stable names, and whether the service user may open them.

A probe that works for ``sudo potwatch probe`` and not for the service is the
commonest failure on a fresh Pi: the device node is ``root:dialout 0660`` and
the service user is not in ``dialout``. So each node is judged for the service
user, with the exact command that fixes it.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from service.doctor.report import Finding
from service.doctor.user import ServiceUser, group_name, may, user_name

NODE_PATTERNS = ("/dev/ttyUSB*", "/dev/ttyACM*")
BY_ID = Path("/dev/serial/by-id")


def stable_names(by_id: Path = BY_ID) -> dict[str, list[str]]:
    """Device node → its ``/dev/serial/by-id`` names (vendor, product and serial: the same on every port)."""
    names: dict[str, list[str]] = {}
    try:
        links = sorted(by_id.iterdir())
    except OSError:
        return names
    for link in links:
        names.setdefault(os.path.realpath(link), []).append(str(link))
    return names


def serial_findings(
    user: ServiceUser, configured: Iterable[str], by_id: Path = BY_ID, patterns: Iterable[str] = NODE_PATTERNS
) -> list[Finding]:
    """One finding per serial device node (plugged in, or named by a configured probe)."""
    names = stable_names(by_id)
    configured = list(configured)
    nodes = sorted({p for pattern in patterns for p in glob.glob(pattern)} | set(names))
    for path in configured:
        real = os.path.realpath(path)
        if os.path.exists(real) and real not in nodes:
            nodes.append(real)
    if not nodes:
        if configured:
            return [
                Finding(
                    "serial",
                    "warn",
                    "no USB serial device is plugged in (/dev/ttyUSB*, /dev/ttyACM*)",
                    "plug the probe in; `dmesg | tail` shows what the kernel saw of it",
                )
            ]
        return [Finding("serial", "info", "no USB serial device plugged in, and no serial probe configured")]
    findings = [_node_finding(node, names.get(node, []), user) for node in nodes]
    findings += _unstable_paths(configured, names)
    return findings


def _node_finding(node: str, links: list[str], user: ServiceUser) -> Finding:
    check = f"device {node}"
    aka = f" (= {', '.join(links)})" if links else ""
    try:
        st = os.stat(node)
    except OSError as exc:
        return Finding(check, "FAIL", f"cannot be looked at{aka}: {exc.strerror}", "ls -l " + node)
    group = group_name(st.st_gid)
    mode = stat.filemode(st.st_mode)
    seen = f"{mode} {user_name(st.st_uid)}:{group}{aka}"
    if may(user, st, read=True, write=True):
        how = "root may open anything" if user.is_root else _how_allowed(user, st)
        return Finding(check, "ok", f"{seen}; {user.name} may open it ({how})")
    if st.st_mode & 0o060 == 0o060 and group != "root":
        fix = (
            f"sudo usermod -aG {group} {user.name}, then restart the service (sudo systemctl restart potwatch) "
            "or, for your own login, log out and in again"
        )
        return Finding(check, "FAIL", f"{seen}; {user.name} is not in group {group!r}, which may open it", fix)
    fix = (
        'a udev rule that gives it GROUP="dialout", MODE="0660" (systemd/99-potwatch-probe.rules), '
        f"then sudo usermod -aG dialout {user.name}"
    )
    why = "its group is root's" if group == "root" else "its mode does not let its group both read and write it"
    return Finding(check, "FAIL", f"{seen}; {user.name} may not open it, and {why}", fix)


def _how_allowed(user: ServiceUser, st: os.stat_result) -> str:
    if st.st_uid == user.uid:
        return "its owner"
    if st.st_gid in user.unit_groups and not (st.st_gid == user.gid or st.st_gid in user.groups):
        return f"group {group_name(st.st_gid)}, from the unit's SupplementaryGroups="
    if user.has_group(st.st_gid):
        return f"in group {group_name(st.st_gid)}"
    return "open to everyone"


def _unstable_paths(configured: list[str], names: dict[str, list[str]]) -> list[Finding]:
    """A probe named ``/dev/ttyUSB0`` may be ``ttyUSB1`` after a replug; its by-id name stays."""
    findings: list[Finding] = []
    for path in configured:
        if path.startswith(str(BY_ID)) or not any(path.startswith(p.rstrip("*")) for p in NODE_PATTERNS):
            continue
        stable = names.get(os.path.realpath(path))
        if stable:
            findings.append(
                Finding(
                    f"device {path}",
                    "warn",
                    "the config names it by its number, which can change when it or another adapter is replugged",
                    f"use its stable name in the probe's URL: serial://{stable[0]}",
                )
            )
    return findings


BUZZER_NODES = ("/dev/gpiochip*",)  # gpiozero drives the pin through lgpio: the GPIO chip's character device
SOUND_NODES = ("/dev/snd/pcmC*D*p", "/dev/snd/controlC*")  # what aplay opens on a card


def alarm_device_findings(user: ServiceUser, buzzer: bool, voice: bool) -> list[Finding]:
    """The GPIO chip for a buzzer and the sound card for a voice: their groups (gpio, audio) and the service user."""
    findings: list[Finding] = []
    if buzzer:
        findings += _nodes_finding(
            "buzzer",
            BUZZER_NODES,
            user,
            Finding(
                "buzzer",
                "warn",
                "no /dev/gpiochip* here: the buzzer needs a Raspberry Pi's GPIO",
                "ls -l /dev/gpiochip*",
            ),
        )
    if voice:
        findings += _nodes_finding(
            "voice",
            SOUND_NODES,
            user,
            Finding(
                "voice",
                "info",
                "no sound card here (/dev/snd): the voice plays only through [alarm] audio_device or a sound server",
                "aplay -l lists the cards",
            ),
        )
    return findings


def _nodes_finding(kind: str, patterns: tuple[str, ...], user: ServiceUser, none: Finding) -> list[Finding]:
    nodes = sorted(p for pattern in patterns for p in glob.glob(pattern))
    if not nodes:
        return [none]
    refused: dict[str, list[str]] = {}
    for node in nodes:
        try:
            st = os.stat(node)
        except OSError:
            continue
        if not may(user, st, read=True, write=True):
            refused.setdefault(group_name(st.st_gid), []).append(node)
    if not refused:
        return [Finding(kind, "ok", f"{user.name} may open {', '.join(nodes)}")]
    return [
        Finding(
            kind,
            "FAIL",
            f"{user.name} may not open {', '.join(paths)} (group {group})",
            f"sudo usermod -aG {group} {user.name}, then sudo systemctl restart potwatch",
        )
        for group, paths in refused.items()
    ]
