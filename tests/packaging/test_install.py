"""The wheel, installed where no checkout is: what a Pi owner's ``pip install`` gets.

The wheel is built from this checkout, installed (dependencies and all) into a
fresh venv in a temporary folder, and every command is run from there with the
checkout out of reach: a page, a recipe or the demo config that only the source
tree holds fails here, as it would on the Pi.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.tied_child import popen_tied, stop_group
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _outside_env() -> dict[str, str]:
    """This environment without what would let the checkout's own code in."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(args: list[str], cwd: Path, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_outside_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)], cwd=out)
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("potwatch-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv holding the wheel, non-editable."""
    venv = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", str(venv)], cwd=venv)
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = _run([*pip, str(wheel)], cwd=venv)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working folder with no checkout in it or above it."""
    assert ROOT not in tmp_path.parents
    return tmp_path


def test_the_wheel_holds_the_page_the_recipes_and_the_demo(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    page = {p.name for p in (ROOT / "service" / "api" / "static").iterdir()}
    recipes = {p.name for p in (ROOT / "config" / "profiles").glob("*.toml")}
    assert {f"service/api/static/{n}" for n in page} <= names
    assert {f"service/bundled/profiles/{n}" for n in recipes} <= names
    assert {"service/bundled/demo.toml", "service/bundled/example.toml", "service/bundled/potwatch.toml"} <= names


def test_every_package_of_the_tree_is_in_the_wheel(wheel: Path) -> None:
    """pyproject.toml lists the packages by hand: a new one left off would install broken."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for top in ("service", "drivers"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.relative_to(ROOT).as_posix()
            assert rel in names, f"{rel} is not in the wheel: add its package to pyproject.toml"


@pytest.mark.parametrize("which", ["example_config", "starter_config"])
def test_check_config_of_the_shipped_example(installed: Path, outside: Path, which: str) -> None:
    example = outside / "potwatch.toml"
    shown = _run(
        [str(installed / "python"), "-c", f"from service.resources import {which}; print({which}())"],
        cwd=outside,
    )
    assert shown.returncode == 0, shown.stderr
    shipped = Path(shown.stdout.strip())
    assert ROOT not in shipped.parents, f"the example came from the checkout: {shipped}"
    example.write_text(shipped.read_text())
    checked = _run([str(installed / "potwatch"), "check-config", str(example)], cwd=outside)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bad = outside / "bad.toml"
    bad.write_text('[cook]\nprofile = "no-such-recipe"\nprobe = "pot"\n')
    refused = _run([str(installed / "potwatch"), "check-config", str(bad)], cwd=outside)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr


def test_doctor_runs_from_the_installed_wheel_on_the_starter_config(installed: Path, outside: Path) -> None:
    """The doctor's package is in the wheel, and it judges the config an install copies."""
    shown = _run(
        [str(installed / "python"), "-c", "from service.resources import starter_config as s; print(s())"], cwd=outside
    )
    starter = outside / "potwatch.toml"
    starter.write_text(Path(shown.stdout.strip()).read_text())
    done = _run(
        [str(installed / "potwatch"), "doctor", "--config", str(starter), "--state-dir", str(outside), "--wait", "1"],
        cwd=outside,
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1 on a machine without /dev/ttyUSB0
    assert f"ok    config: {starter} is valid (1 probe)" in done.stdout
    assert "probe pot: " in done.stdout


def test_replay_uses_the_installed_recipes(installed: Path, outside: Path) -> None:
    trace = outside / "syrup.csv"
    rows = ["t,temp_f"] + [f"{t},{212 + 14 * (t / 240) ** 2:.2f}" for t in range(0, 240)]
    trace.write_text("\n".join(rows) + "\n")
    replayed = _run([str(installed / "potwatch"), "replay", str(trace), "--profile", "caramel"], cwd=outside)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert '"target_reached"' in replayed.stdout


@pytest.fixture
def demo(installed: Path, outside: Path) -> Iterator[str]:
    port = free_port()
    log = (outside / "demo.log").open("wb")
    proc = popen_tied(  # no demo outlives a killed test run
        [str(installed / "potwatch"), "demo", "--host", "127.0.0.1", "--port", str(port), "--state-dir", str(outside)],
        cwd=outside,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=_outside_env(),
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"demo exited {proc.returncode}: {(outside / 'demo.log').read_text()[-2000:]}")
        try:
            return httpx.get(base + "/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 60.0, "the installed demo to answer")
        yield base
    finally:
        stop_group(proc, 15)  # and SIGKILL if it hangs on its way out
        log.close()


def test_demo_serves_the_page(demo: str) -> None:
    page = httpx.get(demo + "/", timeout=5.0)
    assert page.status_code == 200, page.text
    assert "<html" in page.text.lower()
    script = httpx.get(demo + "/app.js", timeout=5.0)
    assert script.status_code == 200
    profiles = httpx.get(demo + "/api/profiles", timeout=5.0).json()
    assert "rillons" in str(profiles)
