"""A sound card for ``aplay`` on a machine without one: what it plays, and at the speed a real one takes it.

ALSA's ``null`` device swallows a WAV as fast as the disk reads it (here a
4.2 s sentence "plays" in about 10 ms), so a player on it is never caught
playing and silencing it proves nothing. This card is ALSA's own ``file``
plugin writing into a FIFO that a thread drains, either as fast as it comes
(to check *what* was played, in order: the plugin writes the samples
unchanged, padded with silence to a whole period) or at the WAV's byte rate,
so that ``aplay`` blocks on it exactly as on a real card and a 4 s sound takes
4 s. ``device`` is the name to give as ``audio_device``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

CHUNK = 4096


class SoundCard:
    """The FIFO, its draining thread and what it received."""

    def __init__(self, folder: Path, *, byte_rate: float | None = None) -> None:
        self.fifo = folder / "card.fifo"
        os.mkfifo(self.fifo)
        self.device = f"file:FILE={self.fifo},FORMAT=raw"
        self.byte_rate = byte_rate
        self._received = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        self.opens = 0
        self._thread = threading.Thread(target=self._drain, name="sound card", daemon=True)
        self._thread.start()

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def close(self) -> None:
        self._stop = True
        # the thread may be waiting for a player to open the FIFO: be that player, with nothing to say
        with contextlib.suppress(OSError):  # nobody is reading: the thread is already past its last open
            os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
        self._thread.join(timeout=5)

    def _drain(self) -> None:
        while not self._stop:
            with open(self.fifo, "rb", buffering=0) as stream:  # blocks until a player opens the card
                self.opens += 1
                start, taken = time.monotonic(), 0
                while chunk := stream.read(CHUNK):
                    with self._lock:
                        self._received += chunk
                    taken += len(chunk)
                    if self.byte_rate:
                        # take the samples no faster than a real card plays them
                        ahead = taken / self.byte_rate - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)
