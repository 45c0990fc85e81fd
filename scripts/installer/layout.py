"""Where an install puts each thing, under ``/`` or under a test's ``--root``.

The venv path, the config path and the unit's name are what
``systemd/potwatch.service`` names: they stay exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "potwatch.service"
UDEV_RULE_NAME = "99-potwatch-probe.rules"
USER = "potwatch"


@dataclass(frozen=True)
class Layout:
    """Every path the installer writes, under one root."""

    root: Path

    def _at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def home(self) -> Path:
        """``/opt/potwatch``: the venvs and the installer's own bookkeeping."""
        return self._at("/opt/potwatch")

    @property
    def venv_link(self) -> Path:
        """``/opt/potwatch/.venv``: a symlink to the current venv, swapped in one rename."""
        return self.home / ".venv"

    @property
    def venvs(self) -> Path:
        """One venv per installed build; the current one and the one before are kept."""
        return self.home / "venvs"

    @property
    def restart_pending(self) -> Path:
        """Present while a new version is installed but the service still runs the old one."""
        return self.home / "restart-pending"

    @property
    def config_dir(self) -> Path:
        return self._at("/etc/potwatch")

    @property
    def config(self) -> Path:
        return self.config_dir / "potwatch.toml"

    @property
    def state_dir(self) -> Path:
        """``/var/lib/potwatch``: the history; made by systemd (``StateDirectory=``), kept unless --purge."""
        return self._at("/var/lib/potwatch")

    @property
    def unit(self) -> Path:
        return self._at("/etc/systemd/system") / UNIT_NAME

    @property
    def udev_rule(self) -> Path:
        return self._at("/etc/udev/rules.d") / UDEV_RULE_NAME
