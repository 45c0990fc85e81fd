"""USB serial probes: ASCII line streams and the TC4 / aArtisan polling protocol.

``serial:///dev/serial/by-id/usb-…?baud=9600&format=auto&unit=C&channel=…``

The port is read on the event loop (``loop.add_reader`` on pyserial's
non-blocking fd, as Moonraker does), so a stuck device never stalls the pot.
Each chunk is stamped with the injected monotonic clock the moment it arrives;
the lines it completes carry that time.

What a wobbly cable looks like, and what we do:

* unplug: the fd turns readable and pyserial raises ``SerialException`` ("device
  reports readiness to read but returned no data"; ``is_open`` stays True, so
  it is never trusted). We yield ``ProbeDown`` at once, close, and try the path
  twice a second; a by-id symlink re-pointed at a new ``ttyUSBn`` is followed
  because every attempt opens the path afresh.
* garbage (wrong baud, binary, runaway lines, bad UTF-8): counted, logged at
  debug, dropped; 30 s of nothing else yields a fault reading. Random bytes
  also hold the odd well-formed line (a lone ``9``): while the recent stream
  is more noise than sense, counted in bytes (drivers/noise.py), such lines
  are suspect, garbage like the rest, so the fault still comes at 30 s.
* busy or forbidden port: a notice naming the device, its group and what to do,
  once per change, while we keep retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import grp
import logging
import os
import pwd
import re
import stat
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Final

import serial

from drivers.base import Clock, ProbeDown, ProbeEvent, ProbeNotice, ProbeUrlError, Reading
from drivers.formats import (
    DEFAULT_TC4_CHAN,
    LINE_FORMATS,
    LineDecoder,
    LineResult,
    LineSplitter,
    decode_line,
    make_line_decoder,
    safe_text,
    tc4_channels,
    to_text,
)
from drivers.noise import NoiseMeter
from drivers.registry import ProbeUrl
from drivers.values import Unit

log = logging.getLogger(__name__)

OPTIONS: Final = ("baud", "format", "unit", "channel", "interval", "chan")
DEFAULT_BAUD: Final = 9600
# aArtisan / TC4 firmware talks at 115200 (19200 on old boards: set baud=).
DEFAULT_TC4_BAUD: Final = 115200
READ_CHUNK: Final = 4096
MAX_QUEUED_CHUNKS: Final = 1024


# ---------------------------------------------------------------------------
# settings


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """A serial probe URL, checked once before any I/O."""

    path: str
    baud: int = DEFAULT_BAUD
    fmt: str = "auto"
    unit: Unit = "C"
    channel: str | None = None
    interval: float = 1.0  # TC4: seconds between READ polls
    chan: str = DEFAULT_TC4_CHAN  # TC4: the CHAN; mapping we send

    @property
    def tc4_channels(self) -> int:
        """How many channels the TC4 reply carries: the ones CHAN; switched on."""
        return len(tc4_channels(self.chan))


@dataclass(frozen=True, slots=True)
class Timing:
    """How long the driver waits before it says or does something (tests shrink them)."""

    path_poll: float = 0.5  # ≥ once a second, so a replug resumes within 2 s
    tick: float = 0.25
    silence_notice: float = 5.0
    garbage_notice: float = 5.0
    garbage_fault: float = 30.0
    garbage_fault_every: float = 1.0
    healthy_after: float = 1.0
    tc4_ack_wait: float = 1.0
    tc4_setup_tries: int = 4
    tc4_unanswered: int = 5


def settings_from_url(url: ProbeUrl) -> SerialSettings:
    """Validate a ``serial://`` URL's path and options; ProbeUrlError says what is wrong."""
    unknown = sorted(set(url.query) - set(OPTIONS))
    if unknown:
        raise ProbeUrlError(f"unknown option {unknown[0]!r} in {url.text!r} (known: {', '.join(OPTIONS)})")
    if url.host or not url.path.startswith("/") or url.path == "/":
        raise ProbeUrlError(
            f"{url.text!r}: a serial URL needs the device's absolute path after three slashes, "
            "e.g. serial:///dev/ttyUSB0 or serial:///dev/serial/by-id/usb-…"
        )
    fmt = url.option("format", "auto").lower()
    if fmt not in LINE_FORMATS:
        raise ProbeUrlError(f"format={fmt!r} is not one of {', '.join(LINE_FORMATS)}")
    if fmt != "tc4" and ("interval" in url.query or "chan" in url.query):
        raise ProbeUrlError("interval= and chan= only apply to format=tc4 (a board that is polled)")
    default_baud = DEFAULT_TC4_BAUD if fmt == "tc4" else DEFAULT_BAUD
    return SerialSettings(
        path=url.path,
        baud=_baud(url.option("baud", str(default_baud))),
        fmt=fmt,
        unit=url.unit(),
        channel=url.option("channel", "") or None,
        interval=url.duration("interval", "1s", 0.1, 60.0),
        chan=_chan(url.option("chan", DEFAULT_TC4_CHAN)),
    )


def _baud(text: str) -> int:
    if not text.isdigit() or not 50 <= int(text) <= 4_000_000:
        raise ProbeUrlError(f"baud={text!r} is not a baud rate (9600, 19200, 115200, …)")
    return int(text)


def _chan(text: str) -> str:
    # CHAN;ijkl maps logical channels 1-4 to physical inputs 1-4 (0 = off).
    if not re.fullmatch(r"[0-4]{4}", text) or text == "0000":
        raise ProbeUrlError(f"chan={text!r} must be four digits 0-4 with at least one channel on, e.g. 1200")
    return text


def from_url(probe_id: str, url: ProbeUrl, clock: Clock) -> SerialProbe:
    """The registry's entry point: validate now, touch the device only in ``events()``."""
    return SerialProbe(probe_id, settings_from_url(url), clock)


# ---------------------------------------------------------------------------
# opening, and the errors a port gives


class OpenProblem(Enum):
    MISSING = "missing"
    FORBIDDEN = "forbidden"
    BUSY = "busy"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class OpenFailure:
    """Why a port did not open, in words for the person at the Pi."""

    problem: OpenProblem
    message: str


def open_port(path: str, baud: int) -> serial.Serial | OpenFailure:
    """Open ``path`` exclusively with pyserial, or say why not (never raises for device trouble)."""
    try:
        # timeout=0 and write_timeout=0: pyserial's fd stays non-blocking, so
        # neither a read nor a write can hold up the event loop.
        return serial.Serial(path, baud, timeout=0, write_timeout=0, exclusive=True)
    except (serial.SerialException, OSError) as exc:
        return explain_open_error(path, exc)


def explain_open_error(path: str, exc: BaseException) -> OpenFailure:
    """Translate pyserial/OS errors once, here at the edge, into what the user should do."""
    code = getattr(exc, "errno", None)
    if "exclusively lock" in str(exc) or code == errno.EBUSY:
        holders = _holders(path)
        who = f" (held by {holders})" if holders else ""
        return OpenFailure(
            OpenProblem.BUSY,
            f"{path} is busy: another program has it open{who} — a serial monitor, ModemManager, "
            "another potwatch? Close it; retrying.",
        )
    if code in (errno.EACCES, errno.EPERM):
        group = device_group(path)
        user = _user_name()
        return OpenFailure(
            OpenProblem.FORBIDDEN,
            f"permission denied opening {path} ({_describe_node(path)}): add the user {user!r} to "
            f"group {group!r} (sudo usermod -aG {group} {user}, then log in again or restart "
            "the service); retrying.",
        )
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or not os.path.exists(path):
        return OpenFailure(
            OpenProblem.MISSING,
            f"{path} not found — is the probe plugged in? (ls -l /dev/serial/by-id/); checking twice a second.",
        )
    return OpenFailure(OpenProblem.OTHER, f"cannot open {path}: {exc}; retrying.")


def device_group(path: str) -> str:
    """The group that may open the device node (usually ``dialout``)."""
    try:
        gid = os.stat(path).st_gid
    except OSError:
        return "dialout"
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _describe_node(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot stat: {exc.strerror}"
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    return f"{stat.filemode(st.st_mode)} {owner}:{device_group(path)}"


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _holders(path: str, limit: int = 3) -> str:
    """Best effort: which processes have the device open (only those we may inspect)."""
    try:
        target = os.path.realpath(path)
        found: list[str] = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or len(found) >= limit:
                continue
            with contextlib.suppress(OSError):
                if any(os.path.realpath(fd) == target for fd in (proc / "fd").iterdir()):
                    comm = (proc / "comm").read_text().strip()
                    found.append(f"pid {proc.name} {comm}")
        return ", ".join(found)
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# one open port's stream: pure decisions, time passed in


class _Tc4Phase(Enum):
    SETUP = "setup"
    POLL = "poll"


@dataclass(slots=True)
class _Tc4:
    """The host side of Artisan's TC4 protocol: set up channels and units, then poll."""

    settings: SerialSettings
    timing: Timing
    phase: _Tc4Phase = _Tc4Phase.SETUP
    next_at: float = 0.0
    tries: int = 0
    acks: int = 0
    unanswered: int = 0

    def due(self, now: float, say: list[str]) -> list[bytes]:
        """Commands to send now; notices for the user go into ``say``."""
        if now < self.next_at:
            return []
        if self.phase is _Tc4Phase.POLL:
            self.unanswered += 1
            if self.unanswered > self.timing.tc4_unanswered:
                # A board that reset (brown-out, watchdog) forgets CHAN and
                # goes back to its default of Fahrenheit: set it up again.
                say.append(
                    f"TC4 board on {self.settings.path} stopped answering READ; sending "
                    f"CHAN;{self.settings.chan} and UNITS;{self.settings.unit} again"
                )
                self._restart(now)
            else:
                self.next_at = max(self.next_at + self.settings.interval, now)
                return [b"READ\n"]
        if self.tries >= self.timing.tc4_setup_tries:
            say.append(
                f"TC4 board on {self.settings.path} did not acknowledge CHAN/UNITS after "
                f"{self.tries} tries; polling READ anyway (old firmware?)"
            )
            self._start_polling(now)
            return self.due(now, say)
        self.tries += 1
        self.acks = 0
        self.next_at = now + self.timing.tc4_ack_wait
        # An Arduino resets when the port opens (DTR) and misses what is sent
        # while its bootloader runs: hence the retries.
        return [f"CHAN;{self.settings.chan}\n".encode(), f"UNITS;{self.settings.unit}\n".encode()]

    def heard(self, now: float, ack: bool) -> None:
        if ack and self.phase is _Tc4Phase.SETUP:
            self.acks += 1
            if self.acks >= 2:
                self._start_polling(now)
        elif not ack:
            self.unanswered = 0

    def _start_polling(self, now: float) -> None:
        self.phase = _Tc4Phase.POLL
        self.next_at = now
        self.unanswered = 0

    def _restart(self, now: float) -> None:
        self.phase = _Tc4Phase.SETUP
        self.tries = 0
        self.next_at = now


@dataclass(slots=True)
class ProbeMemory:
    """What outlives one connection: formats already announced, channels seen, input dropped."""

    formats_announced: set[str] = field(default_factory=set)
    channels_seen: list[str] = field(default_factory=list)
    # lines dropped as garbage (unreadable, suspect, overlong) and chunks a full queue refused
    dropped: int = 0


@dataclass(slots=True)
class StreamMonitor:
    """Everything one open port's stream decides, with the time passed in: no I/O.

    Feed it chunks (``on_chunk``) and ticks (``on_tick``); it returns the events
    to yield. For TC4 it also says what to send (``commands``).
    """

    probe_id: str
    settings: SerialSettings
    opened_at: float
    memory: ProbeMemory = field(default_factory=ProbeMemory)
    timing: Timing = field(default_factory=Timing)
    decoder: LineDecoder = field(init=False)
    splitter: LineSplitter | None = None
    tc4: _Tc4 | None = None
    last_bytes_at: float | None = None
    garbage_since: float | None = None
    last_garbage: tuple[str, str] = ("", "")
    garbage_fault_at: float | None = None
    silence_told: bool = False
    garbage_told: bool = False
    lines: int = 0
    unreadable: int = 0
    suspect: int = 0
    decoder_failures: int = 0
    decoder_failure_told: bool = False
    noise: NoiseMeter = field(default_factory=NoiseMeter)

    def __post_init__(self) -> None:
        s = self.settings
        self.decoder = make_line_decoder(s.fmt, s.unit, s.channel, s.chan)
        if s.fmt == "tc4":
            # The board only speaks when asked, and the input was flushed
            # before the first command: its first line is whole.
            self.tc4 = _Tc4(s, self.timing, next_at=self.opened_at)
            self.splitter = LineSplitter()

    @property
    def healthy(self) -> bool:
        """The port did more than open and die (a flapping device must not spam ProbeDown)."""
        return self.last_bytes_at is not None

    # -- input

    def on_chunk(self, at: float, data: bytes) -> list[ProbeEvent]:
        self.last_bytes_at = at
        self.silence_told = False
        splitter = self.splitter or self._first_splitter(at)
        before = (splitter.overlong, splitter.partial, splitter.overlong_bytes)
        failures = self.decoder_failures
        lines = [(raw, *self._decode(raw)) for raw in splitter.feed(data)]
        suspects = self._weigh(at, splitter, before, lines)
        out: list[ProbeEvent] = []
        if self.decoder_failures != failures and not self.decoder_failure_told:
            self.decoder_failure_told = True  # once per port: a line a minute must not be a warning a minute
            why = self.last_garbage[0]
            out.append(self._notice(at, f"{why}; such lines are dropped, the probe reads on", "warning"))
        good = False
        for (_, text, result), suspect in zip(lines, suspects, strict=True):
            good = self._line(at, text, result, suspect, out) or good
        if splitter.overlong != before[0]:
            self.memory.dropped += splitter.overlong - before[0]
            log.debug("%s: dropped a line longer than %d bytes", self.probe_id, splitter.max_line)
            self.last_garbage = (f"a line longer than {splitter.max_line} bytes", safe_text(data, 40))
        if splitter.partial != before[1]:
            log.debug("%s: dropped the first line, possibly cut off when the port opened", self.probe_id)
        if good:
            self.garbage_since = None
            self.garbage_told = False
        elif self.garbage_since is None:
            self.garbage_since = at
        out.extend(self._garbage_checks(at))
        return out

    def _decode(self, raw: bytes) -> tuple[str, LineResult]:
        """``decode_line``, with a decoder that raises on one line making that line unreadable.

        A bug in a decoder, met by one odd line, must cost that line, not the
        probe: raised out of here it would end the driver, report the probe lost
        (a critical alert near the target) and reopen the port.
        """
        try:
            return decode_line(self.decoder, raw)
        except Exception as exc:
            self.decoder_failures += 1
            text = safe_text(raw)
            self.last_garbage = (f"the {self.settings.fmt} decoder failed on {text!r}: {exc!r}", text)
            log.debug("%s: %s", self.probe_id, self.last_garbage[0], exc_info=True)
            return text, LineResult(unreadable=f"the decoder failed: {type(exc).__name__}", fmt=self.settings.fmt)

    def _first_splitter(self, at: float) -> LineSplitter:
        # A line already on the wire when we opened arrives within its own
        # transmission time (~10 bits a byte); anything later starts fresh.
        tail_window = 0.05 + 200 * 10 / self.settings.baud
        self.splitter = LineSplitter(synced=at - self.opened_at >= tail_window)
        return self.splitter

    def _weigh(
        self,
        at: float,
        splitter: LineSplitter,
        before: tuple[int, int, int],
        lines: list[tuple[bytes, str, LineResult]],
    ) -> list[bool]:
        """Tell the noise meter what this chunk was (drivers/noise.py); which of its lines are suspect.

        A line is suspect when the stream is noise around it: up to it, or in the
        ``window_lines`` lines after it. Judged once for the whole chunk, after
        weighing all of it, a lucky digit inside a burst of random bytes passed
        whenever the same chunk ended on a window's worth of good lines: the
        window had moved past the noise before the verdict.
        """
        noise = self.noise
        dropped = splitter.overlong_bytes - before[2]
        if dropped:
            noise.weigh(at, dropped, 0)
        if splitter.partial != before[1] and not isinstance(to_text(splitter.partial_piece), str):
            noise.weigh(at, len(splitter.partial_piece) + 1, 0)
        noisy_after: list[bool] = []
        for raw, _, result in lines:
            if result.readable:
                noise.weigh(at, 0, len(raw) + 1)
            elif result.binary:
                noise.weigh(at, len(raw) + 1, 0)
            noisy_after.append(noise.noisy(at))
        ahead = noise.window_lines
        return [any(noisy_after[i : i + ahead + 1]) for i in range(len(lines))]

    def _line(self, at: float, text: str, result: LineResult, suspect: bool, out: list[ProbeEvent]) -> bool:
        """One decoded line into ``out``; True when it made sense and the stream around it too."""
        self.lines += 1
        if result.unreadable is not None:
            self.unreadable += 1
            self.memory.dropped += 1
            self.last_garbage = (result.unreadable, text)
            log.debug("%s: unreadable line %r: %s", self.probe_id, text, result.unreadable)
            return False
        if suspect:
            self.suspect += 1
            self.memory.dropped += 1
            self.last_garbage = (f"a well-formed line inside noise, {self.noise.describe()}", text)
            log.debug("%s: suspect line %r: %s", self.probe_id, text, self.noise.describe())
            return False
        if self.tc4 is not None:
            self.tc4.heard(at, ack=not result.values)
        for d in result.values:
            out.append(Reading(self.probe_id, d.channel, d.celsius, at, text, d.fault))
            if d.channel not in self.memory.channels_seen:
                self.memory.channels_seen.append(d.channel)
        if self.settings.fmt == "auto" and result.fmt and result.fmt not in self.memory.formats_announced:
            self.memory.formats_announced.add(result.fmt)
            out.append(
                self._notice(
                    at,
                    f"format=auto: read {text!r} as format={result.fmt}; add format={result.fmt} to the URL to pin it",
                )
            )
        return True

    def on_tick(self, now: float) -> list[ProbeEvent]:
        out = self._garbage_checks(now)
        quiet_since = self.last_bytes_at if self.last_bytes_at is not None else self.opened_at
        if not self.silence_told and now - quiet_since >= self.timing.silence_notice:
            self.silence_told = True
            out.append(self._notice(now, self._silence_message(now - quiet_since), "warning"))
        return out

    def commands(self, now: float) -> tuple[list[bytes], list[ProbeNotice]]:
        """What to write to the device now (TC4 only), and any notices that go with it."""
        if self.tc4 is None:
            return [], []
        say: list[str] = []
        cmds = self.tc4.due(now, say)
        return cmds, [self._notice(now, message, "warning") for message in say]

    def next_deadline(self, now: float) -> float:
        """When something is due at the latest (the caller also wakes on every tick)."""
        deadlines = [now + self.timing.tick]
        if self.tc4 is not None:
            deadlines.append(self.tc4.next_at)
        return min(deadlines)

    # -- decisions

    def _garbage_checks(self, now: float) -> list[ProbeEvent]:
        since = self.garbage_since
        if since is None:
            return []
        out: list[ProbeEvent] = []
        reason, text = self.last_garbage
        if not self.garbage_told and now - since >= self.timing.garbage_notice:
            self.garbage_told = True
            seconds = round(now - since)
            out.append(
                self._notice(
                    now,
                    f"only unreadable data for {seconds} s from {self.settings.path} ({reason}: {text!r}) — "
                    f"is the baud right? tried {self.settings.baud}; is format={self.settings.fmt} right?",
                    "warning",
                )
            )
        if now - since >= self.timing.garbage_fault and self._fault_due(now):
            self.garbage_fault_at = now
            why = f"only unreadable data for {round(self.timing.garbage_fault)} s"
            out.extend(Reading(self.probe_id, ch, None, now, text, why) for ch in self._fault_channels())
        return out

    def _fault_due(self, now: float) -> bool:
        # Repeat while garbage keeps coming (so the tracker stays in fault),
        # but no more than once a second, and not once the line went quiet.
        last = self.garbage_fault_at
        if last is None:
            return True
        fresh = self.last_bytes_at is not None and self.last_bytes_at > last
        return fresh and now - last >= self.timing.garbage_fault_every

    def _fault_channels(self) -> Iterable[str]:
        if self.settings.channel is not None:
            return [self.settings.channel]
        return self.memory.channels_seen or [""]

    def _silence_message(self, quiet: float) -> str:
        s = self.settings
        hint = (
            f"sent READ every {s.interval:g} s; is it a TC4/aArtisan board? (old boards use baud=19200)"
            if s.fmt == "tc4"
            else "a board that only answers when asked (TC4/aArtisan) needs format=tc4"
        )
        return f"no data for {round(quiet)} s from {s.path} — is the baud right? tried {s.baud}; {hint}"

    def _notice(self, at: float, message: str, level: str = "info") -> ProbeNotice:
        return ProbeNotice(self.probe_id, at, message, level)


# ---------------------------------------------------------------------------
# the driver


@dataclass(frozen=True, slots=True)
class _Gone:
    at: float
    reason: str


class SerialProbe:
    """A serial probe: ``events()`` reads it for ever, through unplugs and garbage.

    What the user must read is yielded (ProbeNotice, ProbeDown), not logged:
    the consumer (service runtime, ``potwatch probe``) decides where it goes,
    so it is printed once. The driver logs only at debug.
    """

    def __init__(self, probe_id: str, settings: SerialSettings, clock: Clock, timing: Timing | None = None):
        self.probe_id = probe_id
        self.settings = settings
        self._clock = clock
        self._timing = timing or Timing()
        self._memory = ProbeMemory()

    @property
    def dropped(self) -> int:
        """Input dropped so far, over every reopening of the port (``/metrics``)."""
        return self._memory.dropped

    async def events(self) -> AsyncIterator[ProbeEvent]:
        # ProbeDown once per outage: an absent device, or one that opens and
        # dies at once, must not repeat it twice a second.
        down_told = False
        failure_told: OpenProblem | None = None
        while True:
            port = open_port(self.settings.path, self.settings.baud)
            now = self._clock()
            if isinstance(port, OpenFailure):
                if port.problem is not failure_told:
                    failure_told = port.problem
                    log.debug("%s: %s", self.probe_id, port.message)
                    yield ProbeNotice(self.probe_id, now, port.message, "warning")
                if port.problem is OpenProblem.MISSING and not down_told:
                    down_told = True
                    yield ProbeDown(self.probe_id, now, f"{self.settings.path} not found")
                await asyncio.sleep(self._timing.path_poll)
                continue
            failure_told = None
            monitor = StreamMonitor(self.probe_id, self.settings, now, self._memory, self._timing)
            log.debug("%s: %s", self.probe_id, self._opened_message())
            yield ProbeNotice(self.probe_id, now, self._opened_message())
            # aclosing: leaving the loop early must unregister the fd from the
            # event loop before the port (and its fd number) is closed.
            try:
                async with contextlib.aclosing(self._read(port, monitor)) as stream:
                    async for event in stream:
                        if isinstance(event, ProbeDown):
                            if monitor.healthy or event.at - now >= self._timing.healthy_after:
                                down_told = False
                            if not down_told:
                                down_told = True
                                log.debug("%s: %s", self.probe_id, event.reason)
                                yield event
                            break
                        yield event
            finally:
                _close(port)
            await asyncio.sleep(self._timing.path_poll)

    def _opened_message(self) -> str:
        s = self.settings
        real = os.path.realpath(s.path)
        arrow = f" (→ {real})" if real != s.path else ""
        return f"reading {s.path}{arrow} at {s.baud} baud, format={s.fmt}, unit={s.unit}"

    async def _read(self, port: serial.Serial, monitor: StreamMonitor) -> AsyncGenerator[ProbeEvent, None]:
        """Events from one open port, ending with ProbeDown when the device goes away."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[tuple[float, bytes] | _Gone] = asyncio.Queue()
        fd = port.fileno()
        clock = self._clock
        memory = self._memory

        def readable() -> None:
            at = clock()
            try:
                data = port.read(READ_CHUNK)
            except (serial.SerialException, OSError) as exc:
                # A real unplug (and a closed pty master) lands here.
                loop.remove_reader(fd)
                inbox.put_nowait(_Gone(at, str(exc)))
                return
            if data and inbox.qsize() < MAX_QUEUED_CHUNKS:
                inbox.put_nowait((at, data))
            elif data:
                memory.dropped += 1
                log.debug("%s: consumer too slow, dropped %d bytes", self.probe_id, len(data))

        if monitor.tc4 is not None:
            port.reset_input_buffer()
        loop.add_reader(fd, readable)
        try:
            while True:
                now = clock()
                commands, notices = monitor.commands(now)
                for event in [*notices, *monitor.on_tick(now)]:
                    yield event
                gone = _write(port, commands, now)
                if gone is not None:
                    inbox.put_nowait(gone)
                item = await self._next(inbox, monitor.next_deadline(now) - now)
                if isinstance(item, _Gone):
                    yield ProbeDown(self.probe_id, item.at, f"{self.settings.path} gone: {item.reason}")
                    return
                if item is not None:
                    for event in monitor.on_chunk(*item):
                        yield event
        finally:
            loop.remove_reader(fd)

    async def _next(
        self, inbox: asyncio.Queue[tuple[float, bytes] | _Gone], wait: float
    ) -> tuple[float, bytes] | _Gone | None:
        if not inbox.empty():
            return inbox.get_nowait()
        try:
            async with asyncio.timeout(max(0.0, min(wait, self._timing.tick))):
                return await inbox.get()
        except TimeoutError:
            return None


def _write(port: serial.Serial, commands: list[bytes], now: float) -> _Gone | None:
    try:
        for command in commands:
            port.write(command)
    except (serial.SerialException, OSError) as exc:
        return _Gone(now, f"write failed: {exc}")
    return None


def _close(port: serial.Serial) -> None:
    with contextlib.suppress(serial.SerialException, OSError):
        port.close()
