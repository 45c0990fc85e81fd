"""``scripts/install --root DIR``: a real venv, a real pip install of the checkout, a real check-config.

Only what changes the machine itself (users, apt-get, systemctl, udevadm) is
recorded instead of run, in ``DIR/commands.log``: "the second run changes
nothing" is then both the tree under DIR, hash for hash, and a log the second
run adds nothing to.
"""

from __future__ import annotations

import re
import socket
import subprocess
import tomllib
from pathlib import Path

from tests.support.installer import ROOT, checkout, commands, offline_pip, run, tree


def _version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def _page_addresses(output: str) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in re.finditer(r"open https?://([^/:]+):(\d+)/ on a phone", output)]


def test_a_second_run_changes_nothing_and_uninstall_keeps_the_history(tmp_path: Path, wheelhouse: Path) -> None:
    root = tmp_path / "root"
    env = offline_pip(wheelhouse)
    first = run(ROOT, root, env=env)
    assert first.returncode == 0, first.stdout
    assert "Installing collected packages" in first.stdout, "pip's progress is not shown"

    # the package, non-editable, in the venv the unit names
    potwatch = root / "opt/potwatch/.venv/bin/potwatch"
    shown = subprocess.run([str(potwatch), "--version"], capture_output=True, text=True, check=False)
    assert shown.stdout.strip() == f"potwatch {_version()}", shown.stdout + shown.stderr
    where = subprocess.run(
        [str(potwatch.with_name("python")), "-c", "import service; print(service.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert Path(where.stdout.strip()).resolve().is_relative_to(root / "opt/potwatch/venvs"), where.stdout + where.stderr
    assert not list((root / "opt/potwatch/venvs").glob("*/lib/python*/site-packages/__editable__*"))

    # the config: the example with every option commented out, which the installed version accepts
    written = (root / "etc/potwatch/potwatch.toml").read_text()
    assert tomllib.loads(written) == {}
    example = (ROOT / "config/example.toml").read_text().splitlines()
    options = [line for line in example if line.strip() and not line.strip().startswith("#")]
    assert len(options) > 30
    assert all(f"# {line}" in written.splitlines() for line in options)
    assert f"{root / 'etc/potwatch/potwatch.toml'}: ok" in first.stdout

    # the unit and the udev rule as the checkout has them
    assert (root / "etc/systemd/system/potwatch.service").read_bytes() == (
        ROOT / "systemd/potwatch.service"
    ).read_bytes()
    rule = root / "etc/udev/rules.d/99-potwatch-probe.rules"
    assert rule.read_bytes() == (ROOT / "systemd/99-potwatch-probe.rules").read_bytes()
    log = commands(root)
    useradd = next(c for c in log if c.startswith("useradd "))
    assert "--system" in useradd and "--groups dialout potwatch" in useradd
    assert "systemctl enable potwatch.service" in log and "systemctl start potwatch.service" in log
    assert not any("espeak-ng" in c for c in log), "the default config has no voice"

    installed, recorded = tree(root), commands(root)
    second = run(ROOT, root, env=env)
    assert second.returncode == 0, second.stdout
    assert tree(root) == installed
    assert commands(root) == recorded, "the second run changed the machine"
    assert second.stdout.count("already") >= 7, second.stdout
    assert "Installing collected packages" not in second.stdout

    # what the service keeps in its StateDirectory while it runs
    state = root / "var/lib/potwatch"
    state.mkdir(parents=True)
    (state / "potwatch.db").write_bytes(b"the history of every cook")
    gone = run(ROOT, root, "--uninstall", env=env)
    assert gone.returncode == 0, gone.stdout
    assert not (root / "opt/potwatch").exists()
    assert not (root / "etc/systemd/system/potwatch.service").exists() and not rule.exists()
    assert (state / "potwatch.db").read_bytes() == b"the history of every cook"
    assert (root / "etc/potwatch/potwatch.toml").read_text() == written
    assert commands(root)[len(recorded) :] == [
        "systemctl disable --now potwatch.service",
        "systemctl daemon-reload",
        "udevadm control --reload",
    ]

    kept = tree(root)
    again = run(ROOT, root, "--uninstall", env=env)
    assert again.returncode == 0 and "already removed" in again.stdout, again.stdout
    assert tree(root) == kept

    purged = run(ROOT, root, "--uninstall", "--purge", env=env)
    assert purged.returncode == 0, purged.stdout
    assert not state.exists() and not (root / "etc/potwatch").exists()
    assert commands(root)[-1] == "userdel potwatch"


def test_a_kept_config_and_venv_by_hand_and_the_voice_and_port_it_asks_for(tmp_path: Path, wheelhouse: Path) -> None:
    root = tmp_path / "root"
    config = root / "etc/potwatch/potwatch.toml"
    config.parent.mkdir(parents=True)
    mine = "[server]\nport = 8123\n\n[alarm]\nspeak = true\n"
    config.write_text(mine)
    config.chmod(0o600)  # made by hand with sudo: root's alone, which the service (user potwatch) cannot read
    # a venv made by hand where the unit looks, as the docs once said to
    by_hand = root / "opt/potwatch/.venv/bin/potwatch"
    by_hand.parent.mkdir(parents=True)
    by_hand.write_text("#!/bin/sh\n")
    done = run(ROOT, root, env=offline_pip(wheelhouse))
    assert done.returncode == 0, done.stdout
    assert config.read_text() == mine
    assert config.stat().st_mode & 0o777 == 0o640  # kept, but readable by its group: the service's
    assert f"chown root:potwatch {config}" in commands(root)
    assert "the service could not have read it (mode 0600)" in done.stdout
    assert (root / "opt/potwatch/.venv").is_symlink()
    assert (root / "opt/potwatch/venvs/manual-venv/bin/potwatch").read_text() == "#!/bin/sh\n"  # kept aside
    log = commands(root)
    assert "apt-get install -y --no-install-recommends alsa-utils espeak-ng" in log, log
    useradd = next(c for c in log if c.startswith("useradd "))
    assert "--groups dialout,audio potwatch" in useradd, useradd

    addresses = _page_addresses(done.stdout)
    assert addresses and all(port == 8123 for _, port in addresses), done.stdout
    host, _ = addresses[0]
    if not host.endswith(".local"):  # a LAN address: one this machine holds, not its loopback
        assert not host.startswith("127."), host
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mine_too:
            mine_too.bind((host, 0))


def test_a_service_that_runs_but_does_not_answer_is_not_restarted_by_an_update(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """It may be a busy Pi in the middle of a caramel, or a port edited since it started: only --now restarts it."""
    root = tmp_path / "root"
    env = offline_pip(wheelhouse)
    first = run(ROOT, root, env=env)
    assert first.returncode == 0, first.stdout
    assert "systemctl start potwatch.service" in commands(root)  # running, as far as systemd is concerned
    version = _version()
    newer = checkout(
        tmp_path / "newer",
        {
            "pyproject.toml": (f'version = "{version}"', 'version = "9.9.9"'),
            "service/__init__.py": (f'__version__ = "{version}"', '__version__ = "9.9.9"'),
        },
    )
    before = commands(root)
    update = run(newer, root, env=env)  # nothing listens on the config's port
    assert update.returncode == 0, update.stdout
    assert "runs but does not answer" in update.stdout
    assert "systemctl restart potwatch.service" not in commands(root)[len(before) :], update.stdout
    assert (root / "opt/potwatch/restart-pending").exists()
    forced = run(newer, root, "--now", env=env)
    assert forced.returncode == 0, forced.stdout
    assert commands(root)[-1] == "systemctl restart potwatch.service"


def test_the_script_fetched_alone_fetches_a_checkout_and_installs_from_it(tmp_path: Path, wheelhouse: Path) -> None:
    """``curl …/scripts/install | sudo bash -s -- --from <git URL>``: no clone of one's own needed."""
    repo = tmp_path / "potwatch.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(repo)], check=True, timeout=120)
    alone = tmp_path / "download"
    (alone / "scripts").mkdir(parents=True)
    (alone / "scripts" / "install").write_bytes((ROOT / "scripts" / "install").read_bytes())
    (alone / "scripts" / "install").chmod(0o755)
    root = tmp_path / "root"
    env = offline_pip(wheelhouse)

    refused = run(alone, root, env=env)
    assert refused.returncode == 1 and "--from <git URL of potwatch>" in refused.stdout, refused.stdout

    done = run(alone, root, "--from", f"file://{repo}", env=env)
    assert done.returncode == 0, done.stdout
    assert f"cloning file://{repo}" in done.stdout
    src = root / "opt/potwatch/src"
    head = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    ours = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert head.stdout == ours.stdout  # the repository's commit, not this working tree
    potwatch = root / "opt/potwatch/.venv/bin/potwatch"
    shown = subprocess.run([str(potwatch), "--version"], capture_output=True, text=True, check=False)
    assert shown.stdout.strip() == f"potwatch {_version()}"
    assert "systemctl start potwatch.service" in commands(root)

    before = commands(root)
    again = run(alone, root, "--from", f"file://{repo}", env=env)
    assert again.returncode == 0, again.stdout
    assert "updating" in again.stdout and commands(root) == before, again.stdout
