"""The import direction of ARCHITECTURE.md, checked so that it stays true.

core ← config ← runtime ← adapters ← cli; drivers never import service, but for
``service.core.units`` (pure, standard library only), because a duration means
the same in a probe URL and in the config; the core imports only the standard
library and itself.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_core_is_pure() -> None:
    stdlib = sys.stdlib_module_names
    banned = {"time", "asyncio", "logging", "socket", "threading", "subprocess", "os", "random"}
    for path in modules_under("service/core"):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top == "service":
                assert name.startswith("service.core"), f"{path}: imports {name}"
                continue
            if top == "__future__":
                continue
            assert top in stdlib, f"{path}: imports {name}, which is not the standard library"
            assert top not in banned, f"{path}: imports {name}: the core reads no clock and does no I/O"


# The one module of the service drivers may use: a duration means the same in
# a probe URL and in the config.
DRIVERS_MAY_IMPORT = frozenset({"service.core.units"})


def test_drivers_never_import_the_service() -> None:
    for path in modules_under("drivers"):
        for name in imports_of(path):
            if name.split(".")[0] == "service":
                assert name in DRIVERS_MAY_IMPORT, f"{path}: imports {name}"


def test_what_drivers_may_import_of_the_service_is_pure() -> None:
    # service.core.units must stay stdlib-only for drivers to keep working as a library.
    for name in DRIVERS_MAY_IMPORT:
        path = ROOT / (name.replace(".", "/") + ".py")
        for imported in imports_of(path):
            top = imported.split(".")[0]
            assert top == "__future__" or top in sys.stdlib_module_names, f"{path}: imports {imported}"


def test_nothing_below_the_adapters_imports_them() -> None:
    lower = ["service/core", "service/config.py", "service/profiles.py", "service/replay.py"]
    adapters = ("service.api", "service.mqtt", "service.history", "service.notify", "service.runtime")
    for folder in lower:
        paths = [ROOT / folder] if folder.endswith(".py") else modules_under(folder)
        for path in paths:
            for name in imports_of(path):
                assert not name.startswith(adapters), f"{path}: imports {name}"
