"""Why Apprise did not deliver, in a few words of our own and never a secret.

An Apprise plugin answers ``notify()`` with a bare ``False`` and says why in
its log. The reason has to reach ``Delivery.error`` (the self-test, the
``/healthz`` counters), but the log's text is not ours to repeat: some
plugins write the URL they posted to, and a Telegram bot's token is in its
path. So the channel listens to Apprise's log on its own worker thread only
(each channel has one; another channel's messages never mix in) and keeps
just the facts: the HTTP status a service answered, or that the connection
failed or timed out.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

APPRISE_LOGGER = "apprise"

# Apprise's plugins end a refused request's warning with "error=<status>."
_STATUS = re.compile(r"\berror=(\d{3})\b")
_CONNECTION = re.compile(r"connection error|socket exception|i/o error", re.IGNORECASE)


class _ThreadRecords(logging.Handler):
    """The messages Apprise logs on one thread, while it is attached."""

    def __init__(self, thread: int) -> None:
        super().__init__(logging.WARNING)
        self.thread = thread
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            try:
                self.messages.append(record.getMessage())
            except Exception:  # a plugin's malformed log call must not break a delivery
                self.messages.append("")


def keep_apprise_out_of_the_log() -> None:
    """Apprise's own records stay here: its plugins may write the URL they posted to, token and all.

    What a failure was reaches the service's log and /healthz in our words
    (``failure_reason``); Apprise's chatter ("Sent ntfy notification to …")
    and its warnings do not reach the journal at all.
    """
    logger = logging.getLogger(APPRISE_LOGGER)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


@contextmanager
def apprise_messages() -> Iterator[list[str]]:
    """The warnings Apprise logs on this thread inside the block (and nowhere else: see above)."""
    handler = _ThreadRecords(threading.get_ident())
    logger = logging.getLogger(APPRISE_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def failure_reason(messages: list[str], elapsed_s: float, read_timeout_s: float) -> str:
    """One short reason for a failed attempt, from what Apprise logged and how long the attempt took.

    A request that failed only once its read timeout had run out is a
    timeout: Apprise logs a timeout and a refused connection alike.
    """
    for message in messages:
        found = _STATUS.search(message)
        if found:
            return f"the service answered HTTP {found.group(1)}"
    if any(_CONNECTION.search(m) for m in messages):
        if elapsed_s >= 0.9 * read_timeout_s:
            return f"timed out: no answer within {read_timeout_s:.1f} s"
        return "could not connect"
    return "the service did not accept the message"
