"""The import direction of ARCHITECTURE.md, checked so that it stays true.

core ← config ← runtime ← adapters ← cli; drivers never import service, but for
``service.core.units`` (pure, standard library only), because a duration means
the same in a probe URL and in the config; the core imports only the standard
library and itself; the adapters (api, mqtt, history, alarm) know neither each
other nor the wiring, except that the API reads past cooks from the history's
reader; and no two modules of service/ import each other, however indirectly.

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


# ---- the import graph of service/ -------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: its top level, including ``if TYPE_CHECKING:``
    blocks (counted: a circle a type checker must untangle is a circle for a reader too)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            pending += [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            pending += [*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)]
    return found


def _targets(node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """Our modules a statement imports; ``from package import module`` names the module."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    if node.level or not node.module:
        return set()
    named = {f"{node.module}.{alias.name}" for alias in node.names}
    found = named & modules
    if named - found and node.module in modules:
        found.add(node.module)
    return found


def import_graph(*, lazy: bool) -> dict[str, set[str]]:
    """Who imports whom in service/; ``lazy``: also imports inside functions (deferred, but still a dependency)."""
    paths = {module_name(p): p for p in modules_under("service")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        every = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        nodes = every if lazy else _module_level(tree)
        graph[name] = {t for n in nodes for t in _targets(n, set(paths))} - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_one() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_circle_of_imports_at_module_level() -> None:
    assert circles(import_graph(lazy=False)) == []


def test_no_circle_even_through_imports_deferred_into_functions() -> None:
    """A deferred import hides a circle from Python, not from whoever must change the code."""
    assert circles(import_graph(lazy=True)) == []


ADAPTERS = ("service.api", "service.mqtt", "service.history", "service.alarm")
WIRING = ("service.serve", "service.cli", "service.doctor")
# ARCHITECTURE.md: the API reads past cooks from the history, and that is all it takes from it
MAY_IMPORT = {"service.api": ("service.history.reader",)}
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()  # none left: a new one is written here with its reason


def _within(name: str, packages: tuple[str, ...]) -> str | None:
    return next((p for p in packages if name == p or name.startswith(p + ".")), None)


def test_adapters_import_neither_each_other_nor_the_wiring() -> None:
    crossings: set[tuple[str, str]] = set()
    for module, imported in import_graph(lazy=True).items():
        home = _within(module, ADAPTERS)
        if home is None:
            continue
        for target in imported:
            other = _within(target, ADAPTERS)
            foreign = other is not None and other != home and not _within(target, MAY_IMPORT.get(home, ()))
            if foreign or _within(target, WIRING):
                crossings.add((module, target))
    assert crossings - KNOWN_EXCEPTIONS == set()
    assert crossings >= KNOWN_EXCEPTIONS, f"fixed: remove {KNOWN_EXCEPTIONS - crossings} from KNOWN_EXCEPTIONS"


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
    adapters = ("service.api", "service.mqtt", "service.history", "service.alarm", "service.runtime")
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
