"""One ``potwatch run`` per state directory: a second one refuses, naming the process that holds it.

Two services on one state directory would both write the history database and
both drive the buzzer; the second would also fail to listen on the port, but
only after it had restored (and rewritten) the history. So the lock is taken
first: ``flock`` on ``potwatch.lock`` in the state directory, with the holder's
PID written in the file for the message. The kernel releases an ``flock`` when
its process dies, however it dies, so a lock file left by a killed process
blocks nothing: the next start takes it and writes its own PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "potwatch.lock"


class AlreadyRunning(Exception):
    """Another process holds the state directory's lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path, self.pid = path, pid
        who = f"PID {pid}" if pid is not None else "a process that has not written its PID yet"
        super().__init__(
            f"another potwatch ({who}) is running on the state directory {path.parent} "
            f"(it holds {path}): stop it first (sudo systemctl stop potwatch, or kill {pid or 'it'}), "
            "or give this one its own --state-dir"
        )


class LockError(Exception):
    """The lock file cannot be opened or locked at all (permissions, a read-only directory)."""


class InstanceLock:
    """Held from ``acquire`` until the process exits (or ``release``)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        try:
            # not O_TRUNC: the holder's PID must stay readable to whoever is refused
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LockError(f"cannot open the lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            raise AlreadyRunning(self.path, pid) from None
        except OSError as exc:
            os.close(fd)
            raise LockError(f"cannot lock {self.path}: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
