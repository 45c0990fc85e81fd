"""bench/heat_control.py passes the settings it is asked to try on to the controller it runs."""

from __future__ import annotations

from bench.heat_control import Caramel, Reach, caramel_miss
from tests.support.heat_loop import caramel_pot


def test_a_carryover_asked_for_lands_the_caramel_that_much_lower() -> None:
    """Pass: the default caramel at 1 kW with a 5 s probe lands about 2 °F lower with ``--carryover 2`` than
    with none (the pot has no element: the heat goes when the plug opens). A flag that never reached the
    controller would land both the same."""
    caramel = Caramel("default caramel", caramel_pot)
    bare = caramel_miss(caramel, 1, 1000.0, 5.0)
    earlier = caramel_miss(caramel, 1, 1000.0, 5.0, Reach(carryover_f=2.0))
    assert 1.5 <= bare - earlier <= 2.5, (bare, earlier)
