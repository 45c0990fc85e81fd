"""Files put in place only when they differ, so that a second run touches nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def put(source: Path, target: Path, mode: int = 0o644) -> bool:
    """``source``'s bytes at ``target`` (written beside it, then renamed); False when already the same."""
    data = source.read_bytes()
    return write(target, data, mode)


def write(target: Path, data: bytes, mode: int = 0o644) -> bool:
    if target.is_file() and target.read_bytes() == data and (target.stat().st_mode & 0o777) == mode:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, target)
    return True


def remove(path: Path) -> bool:
    """Gone, whatever it was; False when it was not there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return True
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False
