"""``scripts/install --root DIR`` as a test runs it: a checkout to install from, the run, the tree it leaves.

The installer is run as the Pi owner runs it, a subprocess of the script in a
checkout. Its pip installs come from a local wheelhouse (``PIP_NO_INDEX``,
``PIP_FIND_LINKS``), made once per session from this checkout's dependencies,
so a test builds real venvs without the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# what an owner's clone holds that the installer reads: the package's sources, the script, the unit
CHECKOUT_PARTS = ("pyproject.toml", "README.md", "service", "drivers", "config", "scripts", "systemd")


def checkout(dst: Path, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    """A copy of this checkout at ``dst``, with each ``path: (old, new)`` edit made (``old`` must be there)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in CHECKOUT_PARTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=ignore, symlinks=True)
        else:
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    for rel, (old, new) in (edits or {}).items():
        path = dst / rel
        text = path.read_text()
        assert old in text, f"{rel} no longer holds {old!r}: the test's edit needs updating"
        path.write_text(text.replace(old, new, 1))
    return dst


def offline_pip(wheelhouse: Path) -> dict[str, str]:
    """The environment that makes every pip of the installer take its wheels from ``wheelhouse`` only."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_INDEX_URL")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_DISABLE_PIP_VERSION_CHECK="1")
    # the system's python3, as sudo finds it, never this test run's venv
    venv_bin = (ROOT / ".venv" / "bin").resolve()
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != venv_bin
    )
    return env


def run(
    source: Path, root: Path, *args: str, env: dict[str, str], timeout: float = 900.0
) -> subprocess.CompletedProcess[str]:
    """``source/scripts/install --root root ARGS``; stdout and stderr together, as the terminal shows them."""
    return subprocess.run(
        [str(source / "scripts" / "install"), "--root", str(root), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with what it is: a file's mode and hash, a link's target, a folder's mode."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[rel] = f"link -> {os.readlink(path)}"
        elif stat.S_ISDIR(info.st_mode):
            found[rel] = f"dir {stat.S_IMODE(info.st_mode):o}"
        else:
            found[rel] = f"file {stat.S_IMODE(info.st_mode):o} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


def commands(root: Path) -> list[str]:
    """What the installer would have run on a real machine (users, apt-get, systemctl, udevadm)."""
    log = root / "commands.log"
    return log.read_text().splitlines() if log.exists() else []
