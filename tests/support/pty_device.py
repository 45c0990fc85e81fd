"""Fake serial devices on real pseudo-terminals.

The driver opens the pty's slave path through pyserial exactly as it opens a
/dev/ttyUSB0; the test plays the device on the master side. Closing the master
makes the slave path vanish and the driver's read fail with the same
``SerialException`` a real unplug gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.service import SseReader


class PtyDevice:
    """One end of a pseudo-terminal that the test writes to as if it were the device."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        # A USB-serial adapter does no echo or line editing: neither may the pty
        # before the driver's pyserial sets its own raw mode.
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.closed = False

    def write(self, data: bytes) -> None:
        """Write all of ``data``; blocks while the pty buffer is full (call from a thread for big data).

        Unplugged, it raises: the fd number may by now belong to another test's pty.
        """
        if self.closed:
            raise OSError(errno.EBADF, "the device is unplugged")
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.1)
                continue
            view = view[written:]

    async def send(self, data: bytes) -> None:
        """Write from a thread, so the event loop keeps reading while the buffer drains."""
        await asyncio.to_thread(self.write, data)

    def read(self, timeout: float) -> bytes:
        """What the driver wrote to the device, waiting at most ``timeout``."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 4096)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise

    def unplug(self) -> None:
        """Pull the cable: the slave path disappears and reads on it fail."""
        if not self.closed:
            self.closed = True
            for fd in (self.master, self.slave):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> PtyDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unplug()


class Streamer(threading.Thread):
    """A device that prints a line every ``period`` seconds until stopped; ``sent`` counts its bytes."""

    def __init__(self, device: PtyDevice, line: bytes, period: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.device, self.line, self.period = device, line, period
        self.stop = threading.Event()
        self.sent = 0
        os.set_blocking(device.master, False)

    def next_bytes(self) -> bytes:
        """What the device sends each period."""
        return self.line

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.sent += os.write(self.device.master, self.next_bytes())
            except BlockingIOError:
                pass  # nobody reading yet and the pty buffer is full: like a real UART, drop
            except OSError:
                return
            self.stop.wait(self.period)  # the device's own pace, not a wait for the driver

    def __enter__(self) -> Streamer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(2)


class UrandomDevice(Streamer):
    """A device babbling ``os.urandom`` at the pace of a real UART (ten bits a byte) until stopped."""

    def __init__(self, device: PtyDevice, baud: int, chunk: int = 256) -> None:
        super().__init__(device, b"", chunk * 10 / baud)
        self.chunk = chunk

    def next_bytes(self) -> bytes:
        return os.urandom(self.chunk)


class FakeTc4Board(threading.Thread):
    """Answers Artisan's TC4 commands on the master side, like aArtisan firmware.

    ``reply(units)`` builds the answer to READ in the units last set with
    ``UNITS;`` (the firmware's default is F). ``deaf_for`` ignores everything
    sent in the first seconds, like an Arduino still in its bootloader after
    the DTR reset that opening the port causes.
    """

    def __init__(self, device: PtyDevice, reply: Callable[[str], str], deaf_for: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.device, self.reply = device, reply
        self.units = "F"
        self.commands: list[str] = []
        self.stop = threading.Event()
        self.deaf_until = time.monotonic() + deaf_for

    def run(self) -> None:
        pending = b""
        while not self.stop.is_set() and not self.device.closed:
            try:
                pending += self.device.read(0.05)
            except OSError:
                return
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self._answer(line.decode().strip())

    def _answer(self, command: str) -> None:
        if time.monotonic() < self.deaf_until:
            return
        self.commands.append(command)
        if command.startswith("CHAN;"):
            self._say(f"# Active channels set to {command[5:]}")
        elif command.startswith("UNITS;"):
            self.units = command[6:]
            self._say(f"# Changed units to {self.units}")
        elif command == "READ":
            self._say(self.reply(self.units))

    def _say(self, text: str) -> None:
        with contextlib.suppress(OSError):
            self.device.write(text.encode() + b"\r\n")

    def __enter__(self) -> FakeTc4Board:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(2)


class Thermometer(Streamer):
    """A USB probe printing its temperature (°F, a bare number) every ``period`` s until stopped.

    ``fahrenheit`` is what it reads now; the test moves it as the pot would.
    ``printing`` cleared, it says nothing (a probe lost) until set again.
    ``climb`` walks it to a temperature in small steps, like a syrup boiling
    down (a jump would be rejected as a spike, and rightly); ``say`` prints
    one line now. ``sent_lines`` counts whole lines written, so a test can
    wait for the device to have said something rather than sleep. Like a
    real UART it drops what nobody reads, and it stops once the pty is gone.
    """

    def __init__(self, device: PtyDevice, fahrenheit: float = 100.0, period: float = 0.1) -> None:
        super().__init__(device, b"", period)
        self.fahrenheit = fahrenheit
        self.sent_lines = 0
        self.printing = threading.Event()
        self.printing.set()
        self._lock = threading.Lock()  # one line at a time, and none of the period's inside a climb

    def run(self) -> None:
        while not self.stop.is_set():
            if self.printing.is_set():
                with self._lock:
                    self._write(self.fahrenheit)
            self.stop.wait(self.period)  # the device's own pace, not a wait for the driver

    def _write(self, fahrenheit: float) -> None:
        line = f"{fahrenheit:.2f}\n".encode()
        try:
            self.sent += os.write(self.device.master, line)
            self.sent_lines += 1
        except BlockingIOError:
            pass  # nobody reading yet: a UART drops too
        except OSError:
            self.stop.set()  # unplugged

    def climb(self, to_f: float, from_f: float | None = None, step_f: float = 0.1, every: float = 0.01) -> None:
        """From ``from_f`` (else where it is) up to ``to_f`` in ``step_f`` steps, one every ``every`` s."""
        with self._lock:
            value = self.fahrenheit if from_f is None else from_f
            while value < to_f:
                value = min(to_f, value + step_f)
                self._write(value)
                time.sleep(every)
            self.fahrenheit = to_f

    def say(self, fahrenheit: float) -> None:
        """One line now (a barrier: its reading comes out after everything sent before it)."""
        with self._lock:
            self.fahrenheit = fahrenheit
            self._write(fahrenheit)

    def __enter__(self) -> Thermometer:
        self.start()
        return self


class ByIdLink:
    """``/dev/serial/by-id/usb-…`` as udev keeps it: a symlink to whichever tty the probe got this time.

    ``plug(device)`` points the link at the device's tty; ``unplug()`` removes
    it, as udev does when the adapter leaves the bus.
    """

    def __init__(self, directory: Path, name: str = "usb-Potwatch_Probe_PW0001-if00-port0") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / name

    def plug(self, device: PtyDevice) -> None:
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(device.path)
        tmp.replace(self.path)  # atomic, as udev's own rename

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)


def prime(device: PtyDevice, stream: SseReader) -> None:
    """Write until the driver has the port open (it drops what came before) and a reading is through."""
    stream.attached()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        device.write(b"100.00\n")
        try:
            stream.take("reading", 0.5)
            return
        except AssertionError:
            continue
    raise AssertionError("the serial driver never delivered a reading")
