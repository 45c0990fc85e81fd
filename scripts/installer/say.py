"""What the installer tells the person at the terminal: one line per step, flushed at once.

An install takes minutes on a Pi; every step says what it is doing before it
does it, so the terminal is never silent while pip or apt works.
"""

from __future__ import annotations

import sys


def step(text: str) -> None:
    """A step begins."""
    print(f"==> {text}", flush=True)


def done(text: str) -> None:
    """What a step did, or found already done."""
    print(f"    {text}", flush=True)


def warn(text: str) -> None:
    """Something the owner should know that does not stop the install."""
    print(f"    warning: {text}", file=sys.stderr, flush=True)


def fail(text: str) -> None:
    """Why the installer stops."""
    print(f"scripts/install: {text}", file=sys.stderr, flush=True)
