"""Child processes whose life is tied to ours: when this process dies, however it dies, they get SIGKILL.

A test run or a bench that is SIGKILLed (or SIGTERMed, which skips every
``finally``) runs none of its cleanup, and a ``potwatch run``, a Mosquitto or
a Node-RED started in a session of its own then lives on, holding its pty or
port, for hours. Linux can tie them for us: ``prctl(PR_SET_PDEATHSIG,
SIGKILL)`` in the child, between fork and exec, asks the kernel to kill it
when its parent goes (it survives the exec of an ordinary binary).

Two traps, both handled here:

* the signal comes when the *thread* that forked the child exits, not the
  process: a child started from a short-lived thread (``asyncio.to_thread``,
  a helper thread) would be killed with it. So every child is forked by one
  long-lived thread of our own, whichever thread asks;
* the parent may die between the fork and the ``prctl``; the child then
  checks that its parent is still the process that forked it, and if not,
  kills itself.

Elsewhere than Linux the child is started plainly (no such call). ``sigterm_raises``
makes a SIGTERM run the cleanup that a Ctrl-C runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None  # loaded now, not after a fork
# looked up now too: a symbol lookup (dlsym) after fork in a threaded parent may take a lock some
# other thread held at the fork
_PRCTL = _LIBC.prctl if _LIBC is not None else None
# one worker, never retired until the interpreter exits: the forking thread outlives every child it forks
_FORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tied-child-forker")


def _tie_to(parent: int, then: Callable[[], None] | None) -> Callable[[], None]:
    """The ``preexec_fn``: runs in the child, after fork, before exec."""

    def tie() -> None:
        if _PRCTL is not None:
            zero = ctypes.c_ulong(0)  # prctl's arguments are unsigned longs: no stray high bits
            if _PRCTL(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), zero, zero, zero) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
            if os.getppid() != parent:  # the parent died before the prctl: nobody will signal us
                os.kill(os.getpid(), signal.SIGKILL)
        if then is not None:
            then()

    return tie


def popen_tied(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(args, **kwargs)``, the child killed when this process dies.

    A ``preexec_fn`` given is run too, after the tie.
    """
    tie = _tie_to(os.getpid(), kwargs.pop("preexec_fn", None))
    return _FORKER.submit(lambda: subprocess.Popen(args, preexec_fn=tie, **kwargs)).result()


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` in the main thread, as Ctrl-C raises
    ``KeyboardInterrupt``: every ``finally`` then runs and the children are stopped in good order.

    Python's default for SIGTERM is to die at once, cleanup skipped (the tie above still kills
    the children, but with SIGKILL). Only the main thread can set a handler; elsewhere, and
    where someone has set one already, this does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return

    def raise_exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a child started with ``start_new_session=True`` and all its process group: SIGTERM, and
    SIGKILL if it is not gone within ``timeout`` s (a child that hangs on its way out must not stay)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
