"""The connection guard's small parts: the throttled log line, the cap that fits the descriptor limit,
and the loop's accept errors. The guard itself is tested on a real process (tests/e2e/test_connections.py)."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest

from service.api.accept_errors import AcceptErrors
from service.api.connections import ACCEPT_BACKLOG, RESERVED_FDS, ConnectionLimits
from service.api.throttled_log import ThrottledLog
from tests.support.clock import OffsetClock
from tests.support.waiting import wait_until_async


def test_a_flood_is_one_line_now_and_one_sum_a_minute_later(caplog: pytest.LogCaptureFixture) -> None:
    clock = OffsetClock()
    report = ThrottledLog(logging.getLogger("flood"), every_s=60.0, clock=clock)
    with caplog.at_level(logging.INFO, "flood"):
        for _ in range(10_000):
            report.note("sockets closed", "10 s")
        assert [r.getMessage() for r in caplog.records] == ["sockets closed (10 s)"]
        clock.advance(61.0)
        report.note("sockets closed")
        report.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "sockets closed (10 s)",
        "sockets closed",
        "in the last 60 s: sockets closed ×9999",
    ]
    assert report.total["sockets closed"] == 10_001


async def test_the_sum_is_written_when_the_minute_ends_on_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    report = ThrottledLog(logging.getLogger("flood"), every_s=0.05)
    with caplog.at_level(logging.INFO, "flood"):
        report.note("evicted")
        report.note("evicted")
        report.note("refused")
        # the sum is written by a timer of its own: no further note comes to write it
        await wait_until_async(lambda: len(caplog.records) == 2, 2.0, "the minute's sum")
    assert [r.getMessage() for r in caplog.records] == ["evicted", "in the last 0.05 s: evicted ×1, refused ×1"]


@pytest.mark.parametrize(
    ("nofile", "cap"),
    [(256, 256 - RESERVED_FDS - ACCEPT_BACKLOG), (1024, 128), (100, 8), (4096, 128)],
)
def test_the_cap_leaves_room_for_an_accept_batch_and_the_rest_of_the_service(nofile: int, cap: int) -> None:
    assert ConnectionLimits().within(nofile).max_connections == cap


def test_accept_errors_are_throttled_and_the_rest_go_to_asyncio(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        handler = AcceptErrors()
        with caplog.at_level(logging.WARNING):
            for _ in range(2048):  # one wake-up of asyncio's accept loop, as seen at EMFILE
                handler(
                    loop, {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "x")}
                )
            handler(loop, {"message": "something else broke", "exception": ValueError("boom")})
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 2
        assert messages[0].startswith("cannot accept connections: Too many open files")
        assert messages[1].startswith("something else broke")
        assert handler.report.total["cannot accept connections: Too many open files"] == 2048
    finally:
        loop.close()
