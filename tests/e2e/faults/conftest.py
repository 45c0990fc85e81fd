"""The fault suite: a real ``potwatch run`` driven from outside while its world breaks.

Each module is one scenario of the kind a kitchen meets (a probe unplugged, the
broker gone, a phone vanished, the clock stepped). Each test states its pass
criterion in its docstring and records what it measured with ``figure``, so a
run shows how far inside its bound each scenario stayed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.figures import FigureRecorder, report_figures


@pytest.fixture
def figure(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> FigureRecorder:
    return FigureRecorder(request, record_property)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    report_figures(config, terminalreporter.write_line)
