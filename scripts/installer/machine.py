"""The parts of the machine the installer changes that a test cannot: users, apt, systemd, udev.

``RealMachine`` runs the commands. ``RecordingMachine`` (``--root`` only)
writes each command that would change the machine to ``DIR/commands.log`` and
keeps the state those commands would have left (users, packages, enabled and
running units) in ``DIR/.machine.json``, so that a second run asks the same
questions and gets the answers the first run left behind. Nothing else is
stood in for: the venv, pip, the files and ``check-config`` are real.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shlex
import subprocess
from pathlib import Path
from typing import Protocol

from . import say


class Machine(Protocol):
    def has_user(self, user: str) -> bool: ...
    def user_groups(self, user: str) -> set[str]: ...
    def has_group(self, group: str) -> bool: ...
    def has_package(self, package: str) -> bool: ...
    def is_enabled(self, unit: str) -> bool: ...
    def is_active(self, unit: str) -> bool: ...
    def change(self, *argv: str) -> None:
        """Run a command that changes the machine; a failure stops the install."""
        ...

    def owner(self, path: Path, user: str, group: str) -> None: ...
    def owned_by(self, path: Path, user: str, group: str) -> bool: ...


def _quiet(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


class RealMachine:
    """This machine, as root."""

    def has_user(self, user: str) -> bool:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return False
        return True

    def user_groups(self, user: str) -> set[str]:
        found = _quiet(["id", "-nG", user])
        return set(found.stdout.split()) if found.returncode == 0 else set()

    def has_group(self, group: str) -> bool:
        try:
            grp.getgrnam(group)
        except KeyError:
            return False
        return True

    def has_package(self, package: str) -> bool:
        found = _quiet(["dpkg-query", "-W", "-f=${Status}", package])
        return found.returncode == 0 and found.stdout.strip().endswith(" installed")

    def is_enabled(self, unit: str) -> bool:
        return _quiet(["systemctl", "is-enabled", "--quiet", unit]).returncode == 0

    def is_active(self, unit: str) -> bool:
        return _quiet(["systemctl", "is-active", "--quiet", unit]).returncode == 0

    def change(self, *argv: str) -> None:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive") if argv[0] == "apt-get" else None
        # not captured: apt's and systemctl's own words are the progress the owner sees
        if subprocess.run(list(argv), env=env, check=False).returncode != 0:
            raise MachineError(f"{shlex.join(argv)} failed (its output is above)")

    def owner(self, path: Path, user: str, group: str) -> None:
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)

    def owned_by(self, path: Path, user: str, group: str) -> bool:
        st = path.stat()
        try:
            return (st.st_uid, st.st_gid) == (pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
        except KeyError:
            return False


class MachineError(Exception):
    """A command that changes the machine failed."""


class RecordingMachine:
    """The machine under ``--root DIR``: changes recorded, their effect remembered."""

    # what a Raspberry Pi OS image has: the groups the service may need
    GROUPS = frozenset({"dialout", "audio", "gpio"})

    def __init__(self, root: Path) -> None:
        self._log = root / "commands.log"
        self._state_file = root / ".machine.json"
        self._state: dict[str, list[str]] = {
            "users": [],
            "groups_of_potwatch": [],
            "packages": [],
            "enabled": [],
            "active": [],
            "owned": [],  # "user:group path" of every chown
        }
        if self._state_file.exists():
            self._state.update(json.loads(self._state_file.read_text()))

    def _save(self) -> None:
        self._state_file.write_text(json.dumps(self._state, indent=1, sort_keys=True) + "\n")

    def has_user(self, user: str) -> bool:
        return user in self._state["users"]

    def user_groups(self, user: str) -> set[str]:
        return set(self._state["groups_of_potwatch"]) if self.has_user(user) else set()

    def has_group(self, group: str) -> bool:
        return group in self.GROUPS

    def has_package(self, package: str) -> bool:
        return package in self._state["packages"]

    def is_enabled(self, unit: str) -> bool:
        return unit in self._state["enabled"]

    def is_active(self, unit: str) -> bool:
        return unit in self._state["active"]

    def change(self, *argv: str) -> None:
        with self._log.open("a") as log:
            log.write(shlex.join(argv) + "\n")
        self._remember(list(argv))
        self._save()

    def _remember(self, argv: list[str]) -> None:
        state = self._state

        def add(key: str, *values: str) -> None:
            state[key] = sorted(set(state[key]) | set(values))

        def drop(key: str, *values: str) -> None:
            state[key] = sorted(set(state[key]) - set(values))

        command, *rest = argv
        if command == "useradd":
            add("users", rest[-1])
            add("groups_of_potwatch", *rest[rest.index("--groups") + 1].split(","))
        elif command == "usermod":
            add("groups_of_potwatch", *rest[rest.index("-aG") + 1].split(","))
        elif command == "userdel":
            drop("users", rest[-1])
            state["groups_of_potwatch"] = []
        elif command == "apt-get" and "install" in rest:
            add("packages", *[a for a in rest[rest.index("install") + 1 :] if not a.startswith("-")])
        elif command == "systemctl":
            verb, *units = [a for a in rest if not a.startswith("-")]
            if verb == "enable":
                add("enabled", *units)
            elif verb == "disable":
                drop("enabled", *units)
                if "--now" in rest:
                    drop("active", *units)
            elif verb in ("start", "restart"):
                add("active", *units)
            elif verb == "stop":
                drop("active", *units)
        elif command == "chown":
            state["owned"] = sorted(
                {o for o in state["owned"] if not o.endswith(f" {rest[1]}")} | {f"{rest[0]} {rest[1]}"}
            )

    def owner(self, path: Path, user: str, group: str) -> None:
        self.change("chown", f"{user}:{group}", str(path))

    def owned_by(self, path: Path, user: str, group: str) -> bool:
        return f"{user}:{group} {path}" in self._state["owned"]


def machine_for(root: Path | None) -> Machine:
    if root is None:
        return RealMachine()
    say.done(f"--root {root}: users, apt-get, systemctl and udevadm are recorded in {root / 'commands.log'}")
    return RecordingMachine(root)
