"""An update on a Pi that is cooking: the new version judges the config first, and waits for the cook.

The "running service" is real: the installed old version's own ``potwatch
run`` (from ``DIR/opt/potwatch/.venv``), cooking rillons on a simulated pot
and answering ``/api/status`` on the port the config names. Only systemctl is
recorded instead of run, so a restart shows as a line in ``commands.log`` and
the old process, left alone, proves what a put-off restart leaves running.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.installer import ROOT, checkout, commands, offline_pip, run, tree
from tests.support.net import free_port
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

TOKEN = "kitchen-secret"
OLD_VERSION = "0.2.0"


@dataclass
class Kitchen:
    root: Path
    service: ServiceProcess
    env: dict[str, str]

    @property
    def potwatch(self) -> Path:
        return self.root / "opt/potwatch/.venv/bin/potwatch"

    def installed_version(self) -> str:
        shown = subprocess.run([str(self.potwatch), "--version"], capture_output=True, text=True, check=False)
        return shown.stdout.strip()

    def cook(self) -> object:
        return self.service.get("/api/status")["cook"]

    def ensure_cooking(self) -> None:
        if self.cook() is None:
            started = self.service.post(
                "/api/cooks", json={"profile": "rillons", "probe": "pot"}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert started.status_code < 300, started.text
        wait_until(self.cook, 20.0, "a cook to be running")

    def installed(self) -> dict[str, str]:
        """What the installer owns (the state directory is the running service's to change)."""
        return {k: v for k, v in tree(self.root).items() if k.startswith(("opt/", "etc/"))}


def _newer(dst: Path, version: str, *more: tuple[str, tuple[str, str]]) -> Path:
    """This checkout as the next release: another version number, and any other edit."""
    edits = {
        "pyproject.toml": (f'version = "{OLD_VERSION}"', f'version = "{version}"'),
        "service/__init__.py": (f'__version__ = "{OLD_VERSION}"', f'__version__ = "{version}"'),
    }
    edits.update(dict(more))
    return checkout(dst, edits)


def _venvs(kitchen: Kitchen) -> list[str]:
    """The versions of the venvs kept under /opt/potwatch/venvs."""
    return sorted(v.name.split("-")[0] for v in (kitchen.root / "opt/potwatch/venvs").iterdir())


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Kitchen]:
    root = tmp_path_factory.mktemp("pi")
    port = free_port()
    config = root / "etc/potwatch/potwatch.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ntoken = "{TOKEN}"\n\n'
        f'[storage]\nstate_dir = "{root / "var/lib/potwatch"}"\nretention_days = 30\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?kind=rillons&braise=135min"\n\n'
        '[cook]\nprofile = "rillons"\nprobe = "pot"\n'
    )
    env = offline_pip(wheelhouse)
    assert ROOT.joinpath("service/__init__.py").read_text().count(f'"{OLD_VERSION}"') == 1
    installed = run(ROOT, root, env=env)
    assert installed.returncode == 0, installed.stdout
    service = ServiceProcess(
        ["run", "--config", str(config)],
        root / "service.log",
        port,
        command=[str(root / "opt/potwatch/.venv/bin/potwatch")],
    )
    with service:
        yield Kitchen(root, service, env)


def test_an_update_whose_check_config_refuses_the_config_changes_nothing(kitchen: Kitchen, tmp_path: Path) -> None:
    kitchen.ensure_cooking()
    # the next release keeps history for a year at least: the config's 30 days no longer pass
    stricter = (
        "service/config.py",
        ("retention_days: int | None = Field(None, ge=1,", "retention_days: int | None = Field(None, ge=365,"),
    )
    new = _newer(tmp_path / "new", "0.2.1", stricter)
    before, recorded, pid = (
        kitchen.installed(),
        commands(kitchen.root),
        kitchen.service.proc and kitchen.service.proc.pid,
    )

    refused = run(new, kitchen.root, env=kitchen.env)
    assert refused.returncode == 2, refused.stdout
    assert "storage.retention_days" in refused.stdout, refused.stdout  # check-config's own words: what to change
    assert "potwatch 0.2.1 refuses" in refused.stdout
    assert kitchen.installed() == before
    assert commands(kitchen.root) == recorded, "a refused update touched the service"
    assert kitchen.installed_version() == f"potwatch {OLD_VERSION}"
    status = kitchen.service.get("/api/status")
    assert status["version"] == OLD_VERSION and status["cook"] is not None
    assert kitchen.service.proc is not None and kitchen.service.proc.pid == pid and kitchen.service.proc.poll() is None


def test_an_update_mid_cook_is_installed_and_restarts_after_the_cook(kitchen: Kitchen, tmp_path: Path) -> None:
    kitchen.ensure_cooking()
    new = _newer(tmp_path / "new", "0.2.2")
    recorded = commands(kitchen.root)

    deferred = run(new, kitchen.root, env=kitchen.env)
    assert deferred.returncode == 0, deferred.stdout
    assert "a cook is running" in deferred.stdout and "NOT restarted" in deferred.stdout, deferred.stdout
    assert commands(kitchen.root) == recorded, "the service was restarted mid-cook"
    assert kitchen.installed_version() == "potwatch 0.2.2"  # in place, for the next start
    assert (kitchen.root / "opt/potwatch/restart-pending").exists()
    assert _venvs(kitchen) == ["0.2.0", "0.2.2"]  # the running one is kept
    assert kitchen.service.get("/api/status")["version"] == OLD_VERSION

    # the cook still going, a second run still waits, and says so
    waiting = run(new, kitchen.root, env=kitchen.env)
    assert waiting.returncode == 0 and "a cook is running" in waiting.stdout, waiting.stdout
    assert commands(kitchen.root) == recorded

    # a further release before the cook ends: the venv the service still runs is kept all the same
    newest = _newer(tmp_path / "newest", "0.2.3")
    again = run(newest, kitchen.root, env=kitchen.env)
    assert again.returncode == 0 and "a cook is running" in again.stdout, again.stdout
    assert commands(kitchen.root) == recorded
    assert _venvs(kitchen) == ["0.2.0", "0.2.2", "0.2.3"]
    assert kitchen.service.get("/api/status")["version"] == OLD_VERSION

    stopped = kitchen.service.post("/api/cooks/current/stop", headers={"Authorization": f"Bearer {TOKEN}"})
    assert stopped.status_code < 300, stopped.text
    wait_until(lambda: kitchen.cook() is None, 20.0, "the cook to end")
    after = run(newest, kitchen.root, env=kitchen.env)
    assert after.returncode == 0, after.stdout
    assert commands(kitchen.root)[len(recorded) :] == ["systemctl restart potwatch.service"], after.stdout
    assert "no cook is running" in after.stdout
    assert not (kitchen.root / "opt/potwatch/restart-pending").exists()


def test_now_restarts_in_the_middle_of_a_cook(kitchen: Kitchen, tmp_path: Path) -> None:
    kitchen.ensure_cooking()
    new = _newer(tmp_path / "new", "0.2.4")
    recorded = commands(kitchen.root)
    forced = run(new, kitchen.root, "--now", env=kitchen.env)
    assert forced.returncode == 0, forced.stdout
    assert commands(kitchen.root)[len(recorded) :] == ["systemctl restart potwatch.service"], forced.stdout
    assert kitchen.installed_version() == "potwatch 0.2.4"
    assert _venvs(kitchen) == ["0.2.3", "0.2.4"]  # restarted: the new one, and the one before for a rollback
