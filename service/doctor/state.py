"""The state directory: where it is, whether the service user can write it, and the room left.

The history database, the measured calibrations and the self-signed
certificate live there; on a read-only or full card recording pauses
(docs/history.md). Space is judged by what the history needs: a 1 Hz probe
adds about 3.5 MB a day (docs/history.md, measured), and a damaged database is
salvaged into a copy beside it, which needs as much room again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from service.config import Config
from service.doctor.report import Finding
from service.doctor.user import ServiceUser, Unit, group_name, may, user_name

MB = 1_000_000
FAIL_UNDER = 10 * MB
"""About three days of one probe: recording would pause within the week."""
WARN_UNDER = 100 * MB
"""About a month of one 1 Hz probe running round the clock, and room to salvage a week's database (25 MB)."""


def state_location(
    config: Config | None, override: str | None, unit: Unit | None, user: ServiceUser
) -> tuple[Path, str, bool]:
    """The directory the service uses, in ``potwatch run``'s order; why; whether systemd makes it."""
    if override:
        return Path(override).expanduser(), "--state-dir", False
    if config is not None and config.storage.state_dir:
        return Path(config.storage.state_dir).expanduser(), "[storage] state_dir", False
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]), "$STATE_DIRECTORY", False
    if unit is not None and unit.state_directory:
        return Path("/var/lib") / unit.state_directory, f"StateDirectory= of {unit.path}", True
    return user.home / ".local" / "state" / "potwatch", f"the default for {user.name} (no unit installed)", False


def check_state(config: Config | None, override: str | None, unit: Unit | None, user: ServiceUser) -> list[Finding]:
    path, why, systemd_makes = state_location(config, override, unit, user)
    check = "state dir"
    where = f"{path} ({why})"
    if not path.exists():
        parent = _existing_parent(path)
        if systemd_makes:
            return [Finding(check, "ok", f"{where} does not exist yet: systemd makes it at start"), _space(parent)]
        if _writable_for(user, parent):
            return [
                Finding(check, "warn", f"{where} does not exist yet", f"potwatch run makes it; or: mkdir -p {path}"),
                _space(parent),
            ]
        return [
            Finding(
                check,
                "FAIL",
                f"{where} does not exist, and {user.name} cannot make it in {parent}",
                f"sudo mkdir -p {path} && sudo chown {user.name}: {path}",
            )
        ]
    if not path.is_dir():
        return [Finding(check, "FAIL", f"{where} is not a directory", "move it away, or set [storage] state_dir")]
    # only a process that is the service user (or root) can try a write for it
    problem = _write_test(path) if os.geteuid() in (0, user.uid) else None
    if problem is not None:
        return [Finding(check, "FAIL", f"{where}: {problem[0]}", problem[1]), _space(path)]
    if not systemd_makes and not _writable_for(user, path):
        st = path.stat()
        seen = f"{stat.filemode(st.st_mode)} {user_name(st.st_uid)}:{group_name(st.st_gid)}"
        fix = f"sudo chown -R {user.name}: {path}"
        return [Finding(check, "FAIL", f"{where} ({seen}): {user.name} cannot write to it", fix), _space(path)]
    findings = [Finding(check, "ok", f"{where} is writable for {user.name}")]
    findings += _database_files(config, path, user, systemd_makes)
    findings.append(_space(path))
    return findings


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _writable_for(user: ServiceUser, path: Path) -> bool:
    """May ``user`` make files in ``path``: write and enter it, and enter every folder above it."""
    try:
        if not may(user, path.stat(), read=False, write=True, execute=True):
            return False
        return all(may(user, p.stat(), read=False, write=False, execute=True) for p in path.parents)
    except OSError:
        return False


def _write_test(path: Path) -> tuple[str, str] | None:
    """Write, sync and remove a small file: a read-only or full card says so here, whoever runs doctor."""
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".potwatch-doctor-") as handle:
            handle.write(b"potwatch doctor: a write test\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return (
                "the file system is read-only (a card the kernel remounted after errors?)",
                "dmesg | grep -i -e remount -e 'I/O error'; back up the card and check it (fsck), or replace it",
            )
        if exc.errno == errno.ENOSPC:
            return "the disk is full", "free space: sudo apt-get clean; sudo journalctl --vacuum-size=50M"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"cannot write here ({exc.strerror})", f"sudo chown -R $(whoami): {path}, or run doctor as the user"
        return f"cannot write here: {exc.strerror}", f"ls -ld {path}"
    return None


def _database_files(config: Config | None, folder: Path, user: ServiceUser, systemd_makes: bool) -> list[Finding]:
    """A database left behind by ``sudo potwatch run`` is root's: the service cannot record into it."""
    if config is None or systemd_makes:  # systemd hands the whole directory to the user at every start
        return []
    db = Path(config.storage.path).expanduser()
    db = db if db.is_absolute() else folder / db
    findings: list[Finding] = []
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            if not may(user, st, read=True, write=True):
                findings.append(
                    Finding(
                        "state dir",
                        "FAIL",
                        f"{path} is {user_name(st.st_uid)}'s ({stat.filemode(st.st_mode)}): {user.name} cannot "
                        "record into it",
                        f"sudo chown {user.name}: {path}",
                    )
                )
    return findings


def _space(path: Path) -> Finding:
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return Finding("disk", "warn", f"cannot tell the space left at {path}: {exc.strerror}")
    free = usage.free
    days = free / (3.5 * MB)
    detail = (
        f"{free / MB:,.0f} MB free of {usage.total / MB:,.0f} MB at {path} (about {days:,.0f} days of a 1 Hz probe)"
    )
    fix = (
        "free space: sudo apt-get clean; sudo journalctl --vacuum-size=50M; [storage] retention_days forgets old cooks"
    )
    if free < FAIL_UNDER:
        return Finding("disk", "FAIL", detail, fix)
    if free < WARN_UNDER:
        return Finding("disk", "warn", detail, fix)
    return Finding("disk", "ok", detail)
