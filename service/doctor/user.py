"""Who the service runs as, and what its systemd unit adds: the user the other checks judge for.

Doctor is usually run by a person (often with sudo), the service by its own
user. So the device and state-directory checks ask what *the service user*
may do: ``potwatch`` when that user exists (or ``--user``), else the user
running doctor. An installed unit may name another ``User=``, add groups
(``SupplementaryGroups=dialout``) and a ``StateDirectory=``; those count too.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_USER = "potwatch"
UNIT_NAME = "potwatch.service"
UNIT_DIRS = (Path("/etc/systemd/system"), Path("/run/systemd/system"), Path("/lib/systemd/system"))


@dataclass(frozen=True, slots=True)
class Unit:
    """The few ``[Service]`` settings of an installed unit that decide what the service may touch."""

    path: Path
    user: str | None = None
    groups: tuple[str, ...] = ()  # SupplementaryGroups=
    state_directory: str | None = None  # the first StateDirectory= entry: /var/lib/<it>


def read_unit(path: Path) -> Unit:
    """``path`` and its drop-ins (``potwatch.service.d/*.conf``), later settings winning as systemd's do."""
    user: str | None = None
    groups: list[str] = []
    state: str | None = None
    for source in [path, *sorted(path.with_name(path.name + ".d").glob("*.conf"))]:
        for key, value in _service_settings(source):
            if key == "User":
                user = value or None
            elif key == "SupplementaryGroups":
                groups = [] if not value else [*groups, *value.split()]  # an empty assignment resets
            elif key == "StateDirectory":
                state = value.split()[0] if value.split() else None
    return Unit(path, user, tuple(groups), state)


def _service_settings(path: Path) -> Iterable[tuple[str, str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line:
            key, value = line.split("=", 1)
            yield key.strip(), value.strip()


def installed_unit(dirs: Iterable[Path] = UNIT_DIRS) -> Unit | None:
    """The unit systemd would use: the first of /etc, /run and /lib that holds one."""
    for folder in dirs:
        path = folder / UNIT_NAME
        if path.is_file():
            return read_unit(path)
    return None


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """A user with the groups it holds: its own (/etc/group), and those its unit adds."""

    name: str
    uid: int
    gid: int
    home: Path
    why: str
    groups: frozenset[int] = field(default_factory=frozenset)
    unit_groups: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    def has_group(self, gid: int) -> bool:
        return gid == self.gid or gid in self.groups or gid in self.unit_groups


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class NoSuchUser(LookupError):
    """``--user`` names nobody on this machine."""


def service_user(requested: str | None, unit: Unit | None) -> ServiceUser:
    """The user to judge for, and why that one (said in the report)."""
    if requested:
        try:
            entry = pwd.getpwnam(requested)
        except KeyError:
            raise NoSuchUser(f"no user {requested!r} on this machine (--user)") from None
        why = "named with --user"
    elif unit is not None and unit.user:
        try:
            entry = pwd.getpwnam(unit.user)
        except KeyError:
            raise NoSuchUser(f"{unit.path} runs the service as User={unit.user}, who does not exist") from None
        why = f"User= of {unit.path}"
    else:
        try:
            entry = pwd.getpwnam(SERVICE_USER)
            why = f"the {SERVICE_USER} user"
        except KeyError:
            entry = pwd.getpwuid(os.geteuid())
            why = f"no {SERVICE_USER!r} user here: the user running doctor"
    groups = frozenset(g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem)
    unit_groups: set[int] = set()
    for name in unit.groups if unit is not None else ():
        # a group missing here is the unit's own problem: systemd refuses to start it
        with contextlib.suppress(KeyError):
            unit_groups.add(grp.getgrnam(name).gr_gid)
    return ServiceUser(
        entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), why, groups, frozenset(unit_groups)
    )


def may(user: ServiceUser, st: os.stat_result, read: bool, write: bool, execute: bool = False) -> bool:
    """Whether ``user`` may read/write/enter a file with this owner, group and mode (root may do all)."""
    if user.is_root:
        return True
    if st.st_uid == user.uid:
        shift = 6
    elif user.has_group(st.st_gid):
        shift = 3
    else:
        shift = 0
    bits = (st.st_mode >> shift) & 0o7
    return (not read or bool(bits & 4)) and (not write or bool(bits & 2)) and (not execute or bool(bits & 1))
