"""Text to a WAV file with espeak-ng: the voice's one step that is not playing.

Kept apart from playing so that the tests and the self-test can check what
the synthesiser makes (a WAV, of about the sentence's length) on a machine
without a speaker. espeak-ng writes the file itself (``-w``), so its header
carries the true length; the text goes in on stdin, so that a sentence can
never be read as an option.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

from service.alarm.processes import Processes
from service.alarm.wav import wav_problem, wav_seconds

ESPEAK = "espeak-ng"


@dataclass(frozen=True, slots=True)
class Synthesis:
    """A spoken sentence in ``path``, ``seconds`` long; or why there is none (``error``)."""

    path: Path
    ok: bool
    seconds: float = 0.0
    error: str | None = None
    killed: bool = False


def espeak_problem(espeak: str = ESPEAK) -> str | None:
    """Why the voice cannot speak on this machine; None when the synthesiser is there."""
    if shutil.which(espeak) is None:
        return f"{espeak} not found: no voice (install the Debian package espeak-ng)"
    return None


async def synthesise(
    text: str,
    path: Path,
    *,
    espeak: str = ESPEAK,
    timeout_s: float | None = 10.0,
    processes: Processes | None = None,
    epoch: int | None = None,
) -> Synthesis:
    """Say ``text`` into the WAV file ``path``; never raises, bounded by ``timeout_s``.

    ``processes`` and ``epoch``: the channel's, so that its ``silence`` kills a
    synthesis under way, or one that was about to start.
    """
    procs = processes if processes is not None else Processes()
    argv = [espeak, "--stdin", "-w", str(path)]
    try:
        async with asyncio.timeout(timeout_s):
            outcome = await procs.run(argv, epoch=procs.epoch if epoch is None else epoch, stdin=text.encode())
    except TimeoutError:
        return Synthesis(path, ok=False, error=f"{espeak} took longer than {timeout_s:g} s")
    if outcome.killed:
        return Synthesis(path, ok=False, killed=True, error="silenced")
    if not outcome.ok:
        return Synthesis(path, ok=False, error=f"no voice: {outcome.error}")
    problem = wav_problem(path)
    if problem is not None:
        return Synthesis(path, ok=False, error=f"{espeak} wrote no usable WAV: {problem}")
    return Synthesis(path, ok=True, seconds=wav_seconds(path))
