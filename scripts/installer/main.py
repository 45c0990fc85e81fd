"""``sudo ./scripts/install [--root DIR] [--now] [--uninstall [--purge]]``: the steps, in order.

An update builds and checks before it changes anything: the new venv is made
beside the old one and the new version's ``check-config`` judges the existing
config; only when it passes are the venv symlink, the unit and the udev rule
swapped. The service is restarted only between cooks (``--now`` overrides):
mid-cook, the new version is put in place and ``restart-pending`` says the
service still runs the old one, until ``scripts/install`` is run again after
the cook or the service restarts for any other reason.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from . import config_file, files, pending, running, say, venvs
from .layout import UNIT_NAME, USER, Layout
from .machine import Machine, MachineError, machine_for
from .venvs import Build, BuildFailed

CONFIG_REFUSED = 2
BASE_PACKAGES = ("python3-venv",)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/install",
        description="Install potwatch as a systemd service (or update it in place, or remove it).",
    )
    p.add_argument("--now", action="store_true", help="restart at once, even in the middle of a cook")
    p.add_argument("--uninstall", action="store_true", help="remove the service; keeps the config and the history")
    p.add_argument("--purge", action="store_true", help="with --uninstall: the config, the history and the user too")
    p.add_argument(
        "--root",
        type=Path,
        help="install under this folder instead of / (tests): users, apt-get, systemctl and udevadm are only recorded",
    )
    return p


def _packages(machine: Machine, wanted: tuple[str, ...], what: str) -> None:
    missing = [p for p in wanted if not machine.has_package(p)]
    if not missing:
        say.done(f"already installed: {' '.join(wanted)}")
        return
    say.done(f"installing {' '.join(missing)} with apt-get (for {what})")
    machine.change("apt-get", "update")
    machine.change("apt-get", "install", "-y", "--no-install-recommends", *missing)


def _user(machine: Machine, needs: config_file.Needs) -> None:
    groups = [g for g in needs.groups if machine.has_group(g)]
    for absent in sorted(set(needs.groups) - set(groups)):
        say.warn(f"no group {absent} on this machine (not a Raspberry Pi?): the service runs without it")
    if not machine.has_user(USER):
        say.done(f"creating the system user {USER} in {', '.join(groups)}")
        machine.change(
            "useradd", "--system", "--home-dir", "/var/lib/potwatch", "--no-create-home",
            "--shell", "/usr/sbin/nologin", "--groups", ",".join(groups), USER,
        )  # fmt: skip
        return
    missing = [g for g in groups if g not in machine.user_groups(USER)]
    if missing:
        say.done(f"adding {USER} to {', '.join(missing)}")
        machine.change("usermod", "-aG", ",".join(missing), USER)
    else:
        say.done(f"already there: {USER}, in {', '.join(groups)}")


def _config_access(machine: Machine, config: Path) -> None:
    """root:potwatch 0640, whoever made the file: the service must read it, and the token is no one else's.

    A config made by hand (0600 root, or 0644 with the token in it for all to
    read) passed the installer's check-config, which runs as root, and then
    failed the unit's, which runs as potwatch: a restart every second.
    """
    say.step(f"who may read {config}")
    mode = config.stat().st_mode & 0o777
    if machine.owned_by(config, "root", USER) and mode == 0o640:
        say.done(f"already root:{USER}, mode 0640")
        return
    if mode & 0o007:
        say.done(f"it was readable by every user (mode {mode:04o}), token and all: now 0640")
    elif not mode & 0o040:
        say.done(f"the service could not have read it (mode {mode:04o}): now 0640")
    machine.owner(config, "root", USER)
    config.chmod(0o640)
    say.done(f"root:{USER}, mode 0640")


def _check_config(potwatch: Path, config: Path, version: str) -> bool:
    say.step(f"checking {config} with potwatch {version}'s check-config")
    checked = subprocess.run([str(potwatch), "check-config", str(config)], capture_output=True, text=True, check=False)
    for line in (checked.stdout + checked.stderr).splitlines():
        say.done(line)
    return checked.returncode == 0


def _restart(
    machine: Machine, layout: Layout, args: argparse.Namespace, server: config_file.Server, why: str, old: Path | None
) -> None:
    """Restart between cooks; mid-cook, leave the service alone and say how the new version will take over."""
    if args.now:
        say.done(f"restarting now (--now): {why}")
        machine.change("systemctl", "restart", UNIT_NAME)
        pending.done(layout)
        return
    answer = running.ask(server)
    if answer.reached and answer.cook:
        pending.put_off(layout, why, old)
        say.done(f"a cook is running ({answer.cook}): the service is NOT restarted, so the cook goes on undisturbed.")
        say.done("The new version is installed and takes over at the service's next start. When the cook is done,")
        say.done("run  sudo ./scripts/install  again (it restarts then), or  sudo systemctl restart potwatch;")
        say.done("a reboot does it too. To restart in the middle of the cook anyway: sudo ./scripts/install --now")
        return
    if not answer.reached and machine.is_active(UNIT_NAME):
        # running, yet not answering (a busy Pi, a port or token edited since it started): a cook may
        # be on, and a caramel is not the moment to find out; --now, or the next run, restarts it
        pending.put_off(layout, why, old)
        say.done(f"the service runs but does not answer ({answer.why}): it is NOT restarted, in case a cook is on.")
        say.done("The new version takes over at its next start: sudo systemctl restart potwatch when no cook")
        say.done("is running, or sudo ./scripts/install --now.")
        return
    said = "no cook is running" if answer.reached else f"the service does not answer ({answer.why})"
    say.done(f"restarting: {why}; {said}")
    machine.change("systemctl", "restart", UNIT_NAME)
    pending.done(layout)


def install(args: argparse.Namespace, layout: Layout, machine: Machine, checkout: Path) -> int:
    existing = layout.config.exists()
    parsed = config_file.read(layout.config) if existing else {}
    needs = config_file.needs(parsed or {})
    wanted = Build.of(checkout, needs.pip_extras)
    say.step(f"potwatch {wanted.version} from {checkout}")
    for reason in needs.why:
        say.done(reason)

    say.step("system packages for the venv")
    _packages(machine, BASE_PACKAGES, "the venv")

    say.step(f"the venv {layout.venv_link}")
    old = venvs.current(layout)
    new: Path | None = None
    if old is not None and venvs.installed_build(old).get("fingerprint") == wanted.fingerprint:
        say.done(f"already installed: potwatch {wanted.version} (build {wanted.name}) in {old}")
    else:
        if old is not None:
            say.done(f"updating from build {old.name} to {wanted.name}; the old one stays until this one is checked")
        new = venvs.build(layout, wanted, needs.pip_extras)
    venv = new or old
    assert venv is not None

    say.step(f"the config {layout.config}")
    if existing:
        say.done("already there: kept as it is")
    else:
        example = (checkout / "config" / "example.toml").read_text(encoding="utf-8")
        files.write(layout.config, config_file.commented_example(example).encode(), 0o640)
        say.done("written from config/example.toml, every option commented out (the defaults apply)")

    if not _check_config(venv / "bin" / "potwatch", layout.config, wanted.version):
        say.fail(
            f"potwatch {wanted.version} refuses {layout.config}: change what check-config says above, "
            "then run scripts/install again."
        )
        if new is not None:
            venvs.discard(new)
            say.fail("nothing was swapped: the installed version stays installed and keeps running.")
        return CONFIG_REFUSED

    say.step(f"the system user {USER}")
    _user(machine, needs)
    _config_access(machine, layout.config)

    if needs.packages:
        say.step("system packages for the alarm")
        _packages(machine, needs.packages, "the alarm")

    if new is not None:
        say.step(f"switching {layout.venv_link} to the new venv")
        old = venvs.point_at(layout, new) or old
        say.done(f"{layout.venv_link} -> {new}")

    say.step(f"the unit {layout.unit}")
    unit_changed = files.put(checkout / "systemd" / UNIT_NAME, layout.unit)
    if unit_changed:
        say.done("installed from systemd/potwatch.service")
        machine.change("systemctl", "daemon-reload")
    else:
        say.done("already installed, the same")

    say.step(f"the udev rule {layout.udev_rule}")
    if files.put(checkout / "systemd" / layout.udev_rule.name, layout.udev_rule):
        say.done("installed: a CH340 probe board also appears as /dev/potwatch-probe")
        machine.change("udevadm", "control", "--reload")
        machine.change("udevadm", "trigger", "--subsystem-match=tty")
    else:
        say.done("already installed, the same")

    say.step(f"the service {UNIT_NAME}")
    if machine.is_enabled(UNIT_NAME):
        say.done("already enabled: it starts at boot")
    else:
        say.done("enabling it: it starts at boot")
        machine.change("systemctl", "enable", UNIT_NAME)
    server = config_file.server(config_file.read(layout.config) or {})
    waiting = pending.read(layout)
    if not machine.is_active(UNIT_NAME):
        say.done("starting it")
        machine.change("systemctl", "start", UNIT_NAME)
        pending.done(layout)
    elif new is not None or unit_changed:
        _restart(machine, layout, args, server, "a new version" if new is not None else "a new unit file", old)
    elif waiting is not None:
        _restart(machine, layout, args, server, waiting.why, old)
    else:
        say.done("already running the installed version")

    if new is not None:
        # kept: the new venv, the one before (a rollback), and the one a put-off restart leaves running
        still = pending.read(layout)
        keep = {new} | ({old} if old is not None else set())
        venvs.prune(layout, keep | ({layout.venvs / still.running} if still and still.running else set()))

    say.step("the page")
    for address in running.page_addresses(server):
        say.done(f"open {address} on a phone on the same network")
    return 0


def uninstall(args: argparse.Namespace, layout: Layout, machine: Machine) -> int:
    say.step(f"the service {UNIT_NAME}")
    if machine.is_enabled(UNIT_NAME) or machine.is_active(UNIT_NAME):
        say.done("stopping and disabling it")
        machine.change("systemctl", "disable", "--now", UNIT_NAME)
    else:
        say.done("already stopped and disabled")
    for what, path, reload in (
        ("the unit", layout.unit, ("systemctl", "daemon-reload")),
        ("the udev rule", layout.udev_rule, ("udevadm", "control", "--reload")),
    ):
        say.step(f"{what} {path}")
        if files.remove(path):
            say.done("removed")
            machine.change(*reload)
        else:
            say.done("already removed")
    say.step(f"the venvs in {layout.home}")
    gone = [files.remove(p) for p in (layout.venv_link, layout.venvs, layout.restart_pending)]
    if layout.home.is_dir() and not any(layout.home.iterdir()):
        layout.home.rmdir()
    say.done("removed" if any(gone) else "already removed")
    if not args.purge:
        say.step("kept")
        say.done(f"{layout.config_dir} (the config) and {layout.state_dir} (the history): --purge removes them")
        return 0
    for what, path in (("the config", layout.config_dir), ("the history", layout.state_dir)):
        say.step(f"{what} {path}")
        say.done("removed (--purge)" if files.remove(path) else "already removed")
    say.step(f"the system user {USER}")
    if machine.has_user(USER):
        say.done("removing it (--purge)")
        machine.change("userdel", USER)
    else:
        say.done("already removed")
    say.done("system packages (python3-venv, espeak-ng, alsa-utils) are left installed")
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.purge and not args.uninstall:
        say.fail("--purge goes with --uninstall")
        return 1
    if args.root is None and os.geteuid() != 0:
        say.fail("it installs a system service: run it as root (sudo ./scripts/install)")
        return 1
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "pyproject.toml").is_file() or not (checkout / "systemd" / UNIT_NAME).is_file():
        say.fail(f"{checkout} is not a potwatch checkout (no pyproject.toml or systemd/{UNIT_NAME})")
        return 1
    root = args.root.resolve() if args.root is not None else None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    layout = Layout(root or Path("/"))
    machine = machine_for(root)
    try:
        return uninstall(args, layout, machine) if args.uninstall else install(args, layout, machine, checkout)
    except (MachineError, BuildFailed, config_file.ExampleNotCommentable, OSError) as e:
        say.fail(str(e))
        return 1
