"""Logs go to stderr, one record per line, and no log file wears the SD card.

Under systemd, stderr is a stream into journald, which stamps each line with
its own time, unit and PID; so the format carries none of those. What journald
cannot guess is how bad a line is: there each line starts with the
``<priority>`` prefix it reads (sd-daemon(3)), and ``journalctl -p warning -u
potwatch`` shows the warnings alone. The stream is recognised the way systemd
says to: ``$JOURNAL_STREAM`` names the device and inode of stderr, so a child
that inherited the variable but writes elsewhere is not fooled.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

FORMAT = "%(levelname)s %(name)s: %(message)s"
# syslog(3) priorities, which journald reads from a "<N>" at the start of a line
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7


def priority(levelno: int) -> int:
    return next((p for level, p in PRIORITIES if levelno >= level), DEBUG_PRIORITY)


class JournalFormatter(logging.Formatter):
    """Every line of a record (a traceback's too) gets the record's priority: journald splits on newlines."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return prefix + super().format(record).replace("\n", "\n" + prefix)


def stderr_is_journal(environ: Mapping[str, str] | None = None, fd: int = 2) -> bool:
    stream = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def log_to_stderr(level: int, environ: Mapping[str, str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalFormatter(FORMAT) if stderr_is_journal(environ) else logging.Formatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
