"""The link's own dead-link check: ask after half a keepalive of silence, give up a keepalive later.

Times are handed in, so every boundary is exact. The end-to-end proof (a real
``potwatch run`` behind a proxy that goes silent) is
tests/e2e/faults/test_broker_half_open.py.
"""

from __future__ import annotations

from drivers.mqtt_liveness import Liveness, Verdict


def test_a_talking_broker_is_never_asked() -> None:
    live = Liveness(keepalive=10, now=0.0)
    for t in range(1, 100):
        live.heard(t * 1.0)
        assert live.check(t + 0.9) is Verdict.ALIVE


def test_half_a_keepalive_of_silence_asks_once_and_an_answer_clears_it() -> None:
    live = Liveness(keepalive=10, now=0.0)
    assert live.check(4.99) is Verdict.ALIVE
    assert live.check(5.0) is Verdict.ASK
    assert live.check(6.0) is Verdict.ALIVE  # asked already: one question at a time
    live.heard(6.5)  # the UNSUBACK
    assert live.check(11.49) is Verdict.ALIVE
    assert live.check(11.5) is Verdict.ASK


def test_no_answer_for_a_keepalive_after_asking_is_a_dead_link_within_one_and_a_half() -> None:
    live = Liveness(keepalive=2, now=100.0)
    assert live.check(101.0) is Verdict.ASK
    assert live.check(102.99) is Verdict.ALIVE
    assert live.check(103.0) is Verdict.DEAD  # 1.5 × keepalive after the last word: the broker's own limit
    assert live.silent_for(103.0) == 3.0


def test_a_late_heard_from_an_older_moment_does_not_move_the_last_word_back() -> None:
    live = Liveness(keepalive=10, now=0.0)
    live.heard(8.0)
    live.heard(7.0)  # paho's thread and the supervisor read the clock a moment apart
    assert live.silent_for(9.0) == 1.0
