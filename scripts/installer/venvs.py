"""One venv per build of the checkout, and ``/opt/potwatch/.venv`` a symlink to the current one.

A venv cannot be moved (its scripts name its own path), so an update builds
the new one beside the old, checks the config with it, and only then points
the symlink at it in one rename. The old venv stays until the next update:
the running service may still be using it (a restart put off until the cook
is done), and it is one symlink away from a rollback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import say
from .layout import Layout

# what the wheel is built from (pyproject.toml lists the packages; config/ ships as service.bundled)
SOURCES = ("pyproject.toml", "README.md", "service", "drivers", "config")
MARKER = ".potwatch-build.json"


def _ignored(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") or path.name.endswith(".egg-info")


def _files(checkout: Path) -> list[Path]:
    found: list[Path] = []
    for name in SOURCES:
        top = checkout / name
        if top.is_file():
            found.append(top)
        elif top.is_dir():
            found.extend(p for p in top.rglob("*") if p.is_file() and not _ignored(p.relative_to(checkout)))
    return sorted(found)


@dataclass(frozen=True)
class Build:
    """A checkout's package: its version and a hash of every file the wheel is made from."""

    checkout: Path
    version: str
    fingerprint: str

    @property
    def name(self) -> str:
        return f"{self.version}-{self.fingerprint[:12]}"

    @classmethod
    def of(cls, checkout: Path, pip_extras: tuple[str, ...] = ()) -> Build:
        """The extras the config asks for (a buzzer's pin library) make another build, in another venv."""
        digest = hashlib.sha256()
        digest.update(" ".join(sorted(pip_extras)).encode() + b"\0")
        for path in _files(checkout):
            digest.update(path.relative_to(checkout).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        version = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["version"]
        return cls(checkout, str(version), digest.hexdigest())


def current(layout: Layout) -> Path | None:
    """The venv the symlink points at, when it is a finished one."""
    link = layout.venv_link
    if not link.is_symlink():
        return None
    target = (link.parent / os.readlink(link)).resolve()
    return target if (target / MARKER).is_file() else None


def installed_build(venv: Path) -> dict[str, str]:
    data = json.loads((venv / MARKER).read_text())
    return {str(k): str(v) for k, v in data.items()}


class BuildFailed(Exception):
    """The venv or pip failed; pip's output is on the terminal above."""


def _run(argv: list[str]) -> None:
    # not captured: pip's Collecting/Downloading/Installing lines are the install's progress
    if subprocess.run(argv, check=False).returncode != 0:
        raise BuildFailed(f"{' '.join(argv[:4])} … failed (its output is above)")


def build(layout: Layout, wanted: Build, pip_extras: tuple[str, ...]) -> Path:
    """A venv holding this checkout's package, installed non-editable, beside any other."""
    venv = layout.venvs / wanted.name
    if venv.exists():
        say.done(f"removing the unfinished venv {venv} left by an earlier run")
        shutil.rmtree(venv)
    layout.venvs.mkdir(parents=True, exist_ok=True)
    say.step(f"building the venv {venv} (potwatch {wanted.version}; a few minutes on a Pi)")
    try:
        _fill(venv, wanted, pip_extras)
    except BuildFailed:
        discard(venv)
        raise
    say.done(f"built: potwatch {wanted.version} in {venv}")
    return venv


def _fill(venv: Path, wanted: Build, pip_extras: tuple[str, ...]) -> None:
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory(prefix="potwatch-build-") as tmp:
        # pip builds in the source folder: a copy keeps root-owned build files out of the clone
        staged = Path(tmp) / "potwatch"
        staged.mkdir()
        for path in _files(wanted.checkout):
            rel = path.relative_to(wanted.checkout)
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staged / rel)
        say.step("installing potwatch and its dependencies with pip (non-editable)")
        _run([*pip, str(staged)])
    if pip_extras:
        # best effort: without its pin library the buzzer says so at start, and the rest of the alarm works
        say.step(f"installing {' '.join(pip_extras)} for the alarm")
        if subprocess.run([*pip, *pip_extras], check=False).returncode != 0:
            say.warn(f"pip could not install {' '.join(pip_extras)} (above): the buzzer will not sound")
    version = subprocess.run([str(venv / "bin" / "potwatch"), "--version"], capture_output=True, text=True, check=False)
    if version.returncode != 0:
        raise BuildFailed(f"the new venv's potwatch does not start: {version.stderr.strip()[-500:]}")
    (venv / MARKER).write_text(json.dumps({"version": wanted.version, "fingerprint": wanted.fingerprint}) + "\n")


def point_at(layout: Layout, venv: Path) -> Path | None:
    """The symlink, swapped in one rename: the unit's path never names a half-made venv.

    A folder there (a venv made by hand, as the docs once said) is moved into
    venvs/ and returned: it is the old venv, kept like any other.
    """
    link = layout.venv_link
    aside = None
    if link.exists() and not link.is_symlink():
        aside = layout.venvs / "manual-venv"
        say.done(f"{link} was a folder (a venv made by hand): moved to {aside}")
        if aside.exists():
            shutil.rmtree(aside)
        link.rename(aside)
    new = link.with_name(".venv.new")
    if new.is_symlink() or new.exists():
        new.unlink()
    new.symlink_to(venv.relative_to(link.parent))
    new.replace(link)
    return aside


def prune(layout: Layout, keep: set[Path]) -> None:
    """Every venv but the ones kept (the current, and the one the service may still run)."""
    if not layout.venvs.is_dir():
        return
    for venv in sorted(layout.venvs.iterdir()):
        if venv.resolve() not in {k.resolve() for k in keep}:
            say.done(f"removing the old venv {venv}")
            shutil.rmtree(venv)


def discard(venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
