"""The voice channel: a sound (a chime) and a spoken sentence on the Pi's speaker.

``deliver`` plays the ``sound`` WAV, then says ``message.spoken`` (already
worded in the kitchen's unit: this channel only speaks it). The sentence is
synthesised while the chime plays, so it follows without a gap. Deliveries
take turns (two sentences at once would be noise, and an ALSA card plays one
stream at a time); each is bounded by ``timeout_s`` including its wait for the
turn, and ``silence`` kills what plays and drops what waits.

What is missing is checked before every delivery, not only at start (cheap:
a PATH lookup, a WAV header, a socket connect, one /proc file), so a speaker
plugged in or a sound file put back is used without a restart. When a part is
missing, the channel still plays what it can — a chime without the voice, the
voice without the chime, because at 225 °F any sound beats none — and the
delivery reports failure naming the missing part, so /healthz shows it.
Nothing to play on (no player, no audio device) fails at once with the reason.

``latency_s`` is the time until the first sound started (the chime, or the
voice after its synthesis): how long the cook waited. A delivery cut short by
``silence`` is not a failure: the acknowledgement it called for came.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from service.alarm.audio import ASOUND_CARDS, choose_output, player_argv
from service.alarm.channel import AlarmMessage, ChannelHealth, Delivery
from service.alarm.processes import Processes
from service.alarm.speech import ESPEAK, Synthesis, espeak_problem, synthesise
from service.alarm.wav import wav_problem

_Started = Callable[[], None]  # called when a player starts: the delivery's latency


@dataclass(frozen=True, slots=True)
class _Plan:
    """What this delivery can play now, and why not the rest."""

    player: str | None
    output: str | None  # no player or no audio device: nothing can be played
    voice: str | None  # the voice is on but cannot speak
    sound: str | None  # the sound is set but cannot play

    @property
    def problems(self) -> list[str]:
        return [p for p in (self.output, self.voice, self.sound) if p]


class VoiceChannel:
    """The ``voice`` channel (see the module's docstring for what it does when parts are missing)."""

    kind = "voice"
    name = "voice"

    def __init__(
        self,
        *,
        speak: bool,
        sound: str | None,
        audio_device: str | None = None,
        espeak: str = ESPEAK,
        player: str | None = None,
        timeout_s: float = 20.0,
        asound_cards: Path = ASOUND_CARDS,
    ) -> None:
        self.health = ChannelHealth()
        self.speak = speak
        self.sound = Path(sound) if sound else None
        self.audio_device = audio_device
        self.espeak = espeak
        self.player = player
        self.timeout_s = timeout_s
        self._cards = asound_cards
        self._processes = Processes()
        self._turn = asyncio.Lock()
        self._waiting = 0
        self._workdir: Path | None = None
        self._names = itertools.count(1)
        self._closed = False
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice checks")
        self.health.notices = self.notices()

    def notices(self) -> list[str]:
        return self._plan().problems

    def pids(self) -> list[int]:
        """The synthesiser and player processes running now."""
        return self._processes.pids()

    @property
    def waiting(self) -> int:
        """Deliveries waiting for their turn behind the one that plays."""
        return self._waiting

    async def deliver(self, message: AlarmMessage) -> Delivery:
        start = time.monotonic()
        epoch = self._processes.epoch
        if self._closed:
            return Delivery(self.name, ok=False, latency_s=0.0, error="the voice is closed (the service is stopping)")
        first: list[float] = []
        try:
            async with asyncio.timeout(self.timeout_s):
                # its own thread: a check waiting on a worker that a hung push holds would delay the voice
                plan = await asyncio.get_running_loop().run_in_executor(self._checks, self._plan)
                self.health.notices = plan.problems
                can_speak = self.speak and plan.voice is None
                can_chime = self.sound is not None and plan.sound is None
                if plan.player is None or not (can_speak or can_chime):
                    return Delivery(self.name, False, time.monotonic() - start, error="; ".join(plan.problems))
                self._waiting += 1
                try:
                    await self._turn.acquire()
                finally:
                    self._waiting -= 1
                try:
                    errors = await self._play(message, plan, epoch, lambda: first.append(time.monotonic() - start))
                finally:
                    self._turn.release()
        except TimeoutError:
            return Delivery(self.name, False, time.monotonic() - start, error=f"timed out after {self.timeout_s:g} s")
        latency = first[0] if first else time.monotonic() - start
        if self._processes.epoch != epoch:  # silenced: what it was for has been answered
            return Delivery(self.name, ok=True, latency_s=latency)
        errors = [p for p in (plan.voice, plan.sound) if p] + errors
        return Delivery(self.name, ok=not errors, latency_s=latency, error="; ".join(errors) or None)

    async def silence(self, alert_ids: Collection[str] | None = None) -> None:
        await self._processes.kill_all()

    async def close(self) -> None:
        self._closed = True
        await self.silence()
        self._checks.shutdown(wait=False)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _plan(self) -> _Plan:
        output = choose_output(self.player, self.audio_device, cards=self._cards)
        voice = espeak_problem(self.espeak) if self.speak else None
        sound = wav_problem(self.sound) if self.sound is not None else None
        if sound is not None:
            sound += ": the voice speaks without it" if self.speak and voice is None else ": no sound"
        if not self.speak and self.sound is None:
            voice = "the voice is off (speak = false) and no sound is set: nothing to play"
        return _Plan(output.player, output.problem, voice, sound)

    async def _play(self, message: AlarmMessage, plan: _Plan, epoch: int, started: _Started) -> list[str]:
        """The chime, then the sentence (synthesised meanwhile); the errors of the steps that failed."""
        assert plan.player is not None
        errors: list[str] = []
        speech: asyncio.Task[Synthesis] | None = None
        path: Path | None = None
        if self.speak and plan.voice is None and message.spoken.strip():
            path = self._scratch() / f"say-{next(self._names)}.wav"
            speech = asyncio.create_task(
                synthesise(
                    message.spoken, path, espeak=self.espeak, timeout_s=None, processes=self._processes, epoch=epoch
                )
            )
        try:
            if self.sound is not None and plan.sound is None:
                errors += await self._run_player(plan.player, self.sound, epoch, started)
            if speech is not None:
                said = await speech
                if said.ok:
                    errors += await self._run_player(plan.player, said.path, epoch, started)
                elif not said.killed:
                    errors.append(said.error or "no voice")
        finally:
            if speech is not None and not speech.done():
                speech.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await speech
            if path is not None:
                path.unlink(missing_ok=True)
        return errors

    async def _run_player(self, player: str, path: Path, epoch: int, started: _Started) -> list[str]:
        outcome = await self._processes.run(player_argv(player, path, self.audio_device), epoch=epoch, started=started)
        return [outcome.error] if outcome.error else []

    def _scratch(self) -> Path:
        """A private folder for the sentences' WAV files, made at the first one, removed at close."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="potwatch-voice-"))
        return self._workdir
