"""The import direction of ARCHITECTURE.md, checked so that it stays true.

core ← config ← runtime ← adapters ← cli; drivers never import service; the
core imports only the standard library and itself.

And the tests' own rule: a helper two test modules need lives in tests/support,
never in one of them or in a conftest. Kept in a test module, nobody looks for
it there, and whoever changes it for their own tests breaks the tests that
borrowed it; a conftest is for pytest to load, not to import from.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
from pathlib import Path

import pytest

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


def test_drivers_never_import_the_service() -> None:
    for path in modules_under("drivers"):
        for name in imports_of(path):
            assert not name.startswith("service"), f"{path}: imports {name}"


def test_nothing_below_the_adapters_imports_them() -> None:
    lower = ["service/core", "service/config.py", "service/profiles.py", "service/replay.py"]
    adapters = ("service.api", "service.mqtt", "service.history", "service.notify", "service.runtime")
    for folder in lower:
        paths = [ROOT / folder] if folder.endswith(".py") else modules_under(folder)
        for path in paths:
            for name in imports_of(path):
                assert not name.startswith(adapters), f"{path}: imports {name}"


# pytest's default ``python_files``, and the conftest it loads on its own
TEST_FILES = ("test_*.py", "*_test.py", "conftest.py")


def imported_names(source: str, path: Path) -> set[str]:
    """Every module ``source`` (the text of the file at ``path``) may load.

    Imports at any depth (inside a function too), relative ones made absolute,
    ``from package import module`` as the module, and ``pytest_plugins`` entries.
    """
    tree = ast.parse(source, filename=str(path))
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytest_plugins" for target in node.targets
        ):
            found.update(
                element.value
                for element in ast.walk(node.value)
                if isinstance(element, ast.Constant) and isinstance(element.value, str)
            )
    return found


def reached_test_module(name: str) -> Path | None:
    """The test module or conftest that the dotted ``name`` is, if it is one."""
    path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
    if path.is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in TEST_FILES):
        return path
    return None


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    found = [
        f"{path.relative_to(ROOT)}: imports {name}: move what it needs to tests/support"
        for path in [*modules_under("tests"), *modules_under("bench")]
        for name in sorted(imported_names(path.read_text(), path))
        if reached_test_module(name) is not None
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "reached"),
    [
        ("from tests.service.test_api import hub\n", "tests.service.test_api"),
        ("import tests.e2e.conftest\n", "tests.e2e.conftest"),
        ("from tests.service import test_discovery\n", "tests.service.test_discovery"),
        ("from .conftest import browser\n", "tests.e2e.conftest"),
        ("from ..service.test_history import rows\n", "tests.service.test_history"),
        ("def later() -> None:\n    from tests.drivers.test_w1_probe import w1\n", "tests.drivers.test_w1_probe"),
        ('pytest_plugins = ["tests.e2e.conftest"]\n', "tests.e2e.conftest"),
    ],
)
def test_the_import_check_sees_each_way_of_reaching_a_test_module(source: str, reached: str) -> None:
    """The check above passing means nothing unless it would catch these (as if in tests/e2e/)."""
    names = imported_names(source, ROOT / "tests" / "e2e" / "test_somewhere.py")
    assert reached in names
    assert reached_test_module(reached) is not None


def test_helper_modules_are_not_test_modules() -> None:
    assert reached_test_module("tests.support.waiting") is None
    assert reached_test_module("tests.core.traces") is None
    assert reached_test_module("tests.support") is None
