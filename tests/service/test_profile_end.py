"""A recipe's reach step says when it is over: `end = "cooled" | "ack" | "manual"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError
from service.core.profile import ReachEnd, ReachStep
from service.profiles import load_profile, load_profiles

CARAMEL = """
name = "mine"
[[steps]]
kind = "reach"
name = "caramel"
target = "225F"
"""


def test_the_builtin_reach_steps_end_when_the_pot_has_cooled() -> None:
    steps = [s for p in load_profiles().values() for s in p.steps if isinstance(s, ReachStep)]
    assert steps
    assert {s.end for s in steps} == {ReachEnd.COOLED}


@pytest.mark.parametrize("end", ["cooled", "ack", "manual"])
def test_end_is_read_from_the_recipe(tmp_path: Path, end: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(CARAMEL + f'end = "{end}"\n')
    [step] = load_profile(path).steps
    assert isinstance(step, ReachStep) and step.end == ReachEnd(end)


def test_an_unknown_end_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(CARAMEL + 'end = "never"\n')
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert any("steps[0].reach.end" in p and "cooled" in p for p in caught.value.problems), caught.value.problems
