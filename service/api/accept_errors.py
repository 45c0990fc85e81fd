"""The event loop's "socket.accept() out of system resource", once a minute instead of thousands a second.

When the process runs out of descriptors, asyncio's accept loop logs a full
traceback for every attempt, up to ``backlog`` times per wake-up, and retries
a second later: 292,811 tracebacks (123 MB) in 30 s were seen on a Pi. The
connection guard keeps the HTTP server below the descriptor limit, so this
should not happen; when it still does (another part leaking descriptors),
the journal gets one line a minute saying so, and the loop's other errors
go to asyncio's own handler as before.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from typing import Any

from service.api.throttled_log import ThrottledLog

log = logging.getLogger(__name__)

OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class AcceptErrors:
    """An exception handler for the loop (``loop.set_exception_handler``) that throttles accept errors."""

    def __init__(self, report: ThrottledLog | None = None) -> None:
        self.report = report or ThrottledLog(log, logging.ERROR)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in OUT_OF_RESOURCES and "accept" in str(context.get("message")):
            self.report.note(
                f"cannot accept connections: {os.strerror(exc.errno)}",
                "the HTTP server retries every second; see LimitNOFILE in docs/install-pi.md",
            )
            return
        loop.default_exception_handler(context)


def install(loop: asyncio.AbstractEventLoop) -> AcceptErrors:
    """Throttle the loop's accept errors; returns the handler (its counts are in ``report.total``)."""
    handler = AcceptErrors()
    loop.set_exception_handler(handler)
    return handler
