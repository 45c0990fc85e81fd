"""Fixtures shared by the driver tests."""

from __future__ import annotations

import pytest

from tests.support.plug_rig import KINDS


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Each plug kind in turn (tests/drivers/test_heater_*.py run every scenario against both doubles)."""
    return str(request.param)
