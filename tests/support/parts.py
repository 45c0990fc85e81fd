"""Real parts the tests need (a Mosquitto binary, Chromium).

Outside CI a missing part skips its tests, saying what to install; with
``CI=true`` it fails them instead, because a green run that skipped the
broker or the browser proves nothing about them.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_part(why: str) -> NoReturn:
    """Skip, saying ``why``; under CI fail instead: a part the run could not use is a broken run."""
    if under_ci():
        pytest.fail(why)
    pytest.skip(why)


def require_binary(name: str, package: str | None = None) -> str:
    """The path of ``name``, or skip (fail under CI) naming the package to install."""
    # Debian puts daemons such as mosquitto in /usr/sbin, off a plain user's PATH.
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is not None:
        return path
    missing_part(f"{name} not found: install the Debian package {package or name!r} (the test command does this)")
