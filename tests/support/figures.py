"""Measured figures from the fault suite, kept with the test results.

A fault scenario passes on a bound ("lost within 2 s"), but the cook's trust
rests on how far inside the bound it stayed, and a figure creeping towards its
bound is a regression long before it fails. So each scenario records what it
measured: into the JUnit report (``record_property``, read by CI) and into a
table at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

FIGURES_KEY = pytest.StashKey[list["Figure"]]()


@dataclass(frozen=True)
class Figure:
    """One measured quantity of one scenario, with the bound it must stay within."""

    test: str
    name: str
    value: float
    unit: str
    bound: str

    def line(self) -> str:
        return f"{self.test}: {self.name} = {self.value:.3g} {self.unit} (bound: {self.bound})"


class FigureRecorder:
    """Handed to a test as the ``figure`` fixture: ``figure("probe_lost_after", 0.8, "s", "≤ 2 s")``."""

    def __init__(self, request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> None:
        self._request = request
        self._record_property = record_property

    def __call__(self, name: str, value: float, unit: str, bound: str) -> float:
        measured = Figure(self._request.node.nodeid, name, float(value), unit, bound)
        self._request.config.stash.setdefault(FIGURES_KEY, []).append(measured)
        self._record_property(f"figure:{name}", f"{measured.value:.6g} {unit} (bound {bound})")
        return measured.value


def report_figures(config: pytest.Config, write_line: Callable[[str], object]) -> None:
    """Print every recorded figure at the end of the run (from ``pytest_terminal_summary``)."""
    figures = config.stash.get(FIGURES_KEY, [])
    if not figures:
        return
    write_line("")
    write_line("measured figures (fault scenarios):")
    for measured in figures:
        write_line("  " + measured.line())
