"""The subprocesses a sounding channel runs (the synthesiser, the player), killable all at once.

An acknowledgement must silence the speaker within a second, whatever is
running: a synthesis, a chime, a sentence. Each process gets its own session
(process group), so that the kill reaches whatever a player started too, and every
kill bumps an epoch: a step that was about to start a new process when the
acknowledgement came sees the epoch moved and does not start it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

REAP_S = 0.9  # how long a kill waits for the process to be gone: within the second an ack allows


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one process went: ``ok`` (exit 0), ``killed`` (by ``kill_all``), or the reason it failed."""

    ok: bool
    killed: bool = False
    error: str | None = None


class Processes:
    """The running processes of one channel, and the epoch that ``kill_all`` moves."""

    def __init__(self) -> None:
        self._running: set[asyncio.subprocess.Process] = set()
        self.epoch = 0

    def pids(self) -> list[int]:
        """What is running now (the tests and the self-test watch these)."""
        return sorted(p.pid for p in self._running if p.returncode is None)

    async def run(
        self,
        argv: Sequence[str],
        *,
        epoch: int,
        stdin: bytes | None = None,
        started: Callable[[], None] | None = None,
    ) -> Outcome:
        """Run ``argv`` to its end, unless ``kill_all`` (or a cancellation: a timeout) ends it first."""
        if epoch != self.epoch:
            return Outcome(ok=False, killed=True)
        program = os.path.basename(argv[0])
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            return Outcome(ok=False, error=f"{program} not found")
        except OSError as error:
            return Outcome(ok=False, error=f"{program} could not start ({error.strerror or error})")
        self._running.add(proc)
        try:
            if epoch != self.epoch:  # silenced while the process was being started
                await _kill(proc)
                return Outcome(ok=False, killed=True)
            if started is not None:
                started()
            _, err = await proc.communicate(stdin)
        except BaseException:
            await asyncio.shield(_kill(proc))
            raise
        finally:
            self._running.discard(proc)
        if proc.returncode == 0:
            return Outcome(ok=True)
        if epoch != self.epoch:
            return Outcome(ok=False, killed=True)
        return Outcome(ok=False, error=f"{program} failed (exit {proc.returncode}){_last_line(err)}")

    async def kill_all(self) -> None:
        """Kill whatever runs, wait (bounded) until it is gone, and refuse what was about to start."""
        self.epoch += 1
        await asyncio.gather(*(_kill(proc) for proc in list(self._running)))


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), REAP_S)


def _last_line(err: bytes | None) -> str:
    lines = [line.strip() for line in (err or b"").decode(errors="replace").splitlines() if line.strip()]
    return f": {lines[-1][:200]}" if lines else ""
