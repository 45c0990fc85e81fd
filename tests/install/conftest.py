"""One wheelhouse per session: every dependency of the package, and the build backend, as wheels.

The installer really builds its venvs and really pip-installs the checkout;
taking the wheels from here keeps that offline and a few times faster than
the index. It is made from pip's own cache after the first session.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.installer import checkout


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    # from a copy: pip builds in the source folder, and the checkout stays as it is
    source = checkout(tmp_path_factory.mktemp("source"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    for argv in (
        [*pip, "wheel", "--quiet", "-w", str(out), str(source)],
        # the build backend pip's isolated build of the checkout asks for (pyproject.toml [build-system])
        [*pip, "download", "--quiet", "--only-binary=:all:", "-d", str(out), "setuptools>=68"],
    ):
        made = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert made.returncode == 0, made.stdout + made.stderr
    for own in out.glob("potwatch-*.whl"):  # the installer builds its own from the checkout
        own.unlink()
    return out
