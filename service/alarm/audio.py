"""Where the voice's sound goes: which player, and whether there is anything to play it on.

``paplay`` when a PulseAudio or PipeWire server answers (a desktop session,
or Raspberry Pi OS with PipeWire), because that server owns the card and a
plain ALSA client would find it busy; ``aplay`` otherwise, which is what a
headless Pi running the service as a system user has. Every check here is
cheap enough to repeat before each delivery (a socket connect, a file read),
so a speaker plugged in after start-up is used without a restart.

"No audio device" is read from ``/proc/asound/cards``, the kernel's own list
that ``aplay -l`` prints: readable without the audio group, no subprocess, and
it says "no soundcards" exactly when ``aplay -l`` does.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APLAY = "aplay"
PAPLAY = "paplay"
ASOUND_CARDS = Path("/proc/asound/cards")
DEV_SND = Path("/dev/snd")
PULSE_PORT = 4713
CONNECT_S = 0.25

_CARD_LINE = re.compile(r"^\s*(\d+)\s+\[(\S+)\s*\]")
# device names that pick one card: hw:1, plughw:0,0, hw:Headphones, sysdefault:CARD=vc4hdmi0, …
_CARD_NAMED = re.compile(r"CARD=([^,\s]+)")
_HW = re.compile(r"^(?:plug)?hw:([^,\s]+)")


@dataclass(frozen=True, slots=True)
class Output:
    """The player to use, or why nothing can be played (``problem``)."""

    player: str | None
    problem: str | None = None
    pulse: bool = False


def choose_output(
    player: str | None,
    device: str | None,
    *,
    cards: Path = ASOUND_CARDS,
    env: Mapping[str, str] | None = None,
) -> Output:
    """The player for ``player`` (None: the system's) and ``device`` (an ALSA name), checked now."""
    env = os.environ if env is None else env
    if player is not None:
        found = shutil.which(player)
        if found is None:
            return Output(None, f"player {player!r} not found: no voice and no sound")
        if os.path.basename(player) == PAPLAY:
            answers = pulse_answers(env)
            why = None if answers else "paplay: no PulseAudio or PipeWire server answers: no voice and no sound"
            return Output(found if answers else None, why, pulse=True)
        if os.path.basename(player) == APLAY:
            problem = card_problem(device, cards)
            return Output(None if problem else found, problem)
        return Output(found)
    # an audio_device is an ALSA name: it means aplay, whoever else is there
    paplay = shutil.which(PAPLAY) if device is None else None
    if paplay is not None and pulse_answers(env):
        return Output(paplay, pulse=True)
    aplay = shutil.which(APLAY)
    if aplay is None:
        return Output(
            None, "no audio player: aplay not found (install the Debian package alsa-utils): no voice and no sound"
        )
    problem = card_problem(device, cards)
    return Output(None if problem else aplay, problem)


def player_argv(player: str, path: Path, device: str | None) -> list[str]:
    """The command that plays ``path`` through ``player`` on ``device``."""
    name = os.path.basename(player)
    if name == APLAY:
        return [player, "-q", *(["-D", device] if device else []), str(path)]
    if name == PAPLAY:
        return [player, *([f"--device={device}"] if device else []), str(path)]
    return [player, str(path)]


def card_problem(device: str | None, cards: Path = ASOUND_CARDS) -> str | None:
    """Why ALSA has nothing to play ``device`` on; None when it has, or when ``device`` needs no card.

    ``null``, Bluetooth (bluealsa) and the user's own PCMs live outside the
    kernel's card list, so only the default device and names that pick a card
    are checked against it.
    """
    wanted = _card_wanted(device)
    if wanted is None:
        return None
    try:
        listed = cards.read_text(errors="replace")
    except FileNotFoundError:
        return f"no audio device: this machine has no sound support ({cards} is missing): no voice and no sound"
    except OSError as error:
        return f"no audio device: {cards} cannot be read ({error.strerror or error}): no voice and no sound"
    found = [(m.group(1), m.group(2)) for m in map(_CARD_LINE.match, listed.splitlines()) if m]
    if not found:
        return "no audio device: no sound card (aplay -l finds none): no voice and no sound"
    chosen = [card for card in found if wanted in card] if wanted else found[:1]
    if not chosen:
        names = ", ".join(f"{index} {name}" for index, name in found)
        return f"audio_device {device!r}: no such sound card (there are: {names}): no voice and no sound"
    control = DEV_SND / f"controlC{chosen[0][0]}"
    if control.exists() and not os.access(control, os.R_OK | os.W_OK):
        return f"no permission to use the sound card ({control}): add the service's user to the audio group"
    return None


def _card_wanted(device: str | None) -> str | None:
    """The card a device name picks ("" for any card), or None when it needs none of the kernel's."""
    if device is None or device in ("default", "sysdefault"):
        return ""
    named = _CARD_NAMED.search(device) or _HW.match(device)
    return named.group(1) if named else None


def pulse_answers(env: Mapping[str, str] | None = None) -> bool:
    """Whether a PulseAudio (or PipeWire's pulse) server takes a connection, where paplay would look."""
    env = os.environ if env is None else env
    for address in _pulse_addresses(env):
        try:
            with socket.socket(*address[:2]) as sock:
                sock.settimeout(CONNECT_S)
                sock.connect(address[2])
                return True
        except OSError:
            continue
    return False


_Address = tuple[int, int, str | tuple[str, int]]


def _pulse_addresses(env: Mapping[str, str]) -> list[_Address]:
    """PULSE_SERVER's entries, else the session's socket ($PULSE_RUNTIME_PATH, $XDG_RUNTIME_DIR)."""
    found: list[_Address] = []
    server = env.get("PULSE_SERVER", "").strip()
    for entry in server.split():
        entry = re.sub(r"^\{[^}]*\}", "", entry)
        if entry.startswith("unix:") or entry.startswith("/"):
            found.append((socket.AF_UNIX, socket.SOCK_STREAM, entry.removeprefix("unix:")))
        elif entry:
            host, _, port = re.sub(r"^tcp4?:", "", entry).partition(":")
            found.append((socket.AF_INET, socket.SOCK_STREAM, (host, int(port) if port.isdigit() else PULSE_PORT)))
    if server:
        return found
    runtime = env.get("XDG_RUNTIME_DIR")
    for base in (env.get("PULSE_RUNTIME_PATH"), os.path.join(runtime, "pulse") if runtime else None):
        if base:
            found.append((socket.AF_UNIX, socket.SOCK_STREAM, os.path.join(base, "native")))
    return found
