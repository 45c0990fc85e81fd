"""Pure decoders: bytes from a serial probe → lines → decoded channels.

Nothing here does I/O or reads a clock, so every quirk of every device is
pinned by a table test of the lines it really prints (tests/drivers/test_formats.py).

The rule that shapes everything below: noise must never become a temperature.
A line is read only when the whole of it fits a format; anything else is
*unreadable* (counted and dropped by the driver), and a value the device marks
as an error (``nan``, ``Error``, ``ovf``, -127, an impossible number) is a
*fault*, not a temperature.

Channel names: ``""`` is the main (or only) value. A label names a channel,
except a label that only says "temperature" or names a unit (``C = 107.25``,
``Temp:``, ``temp_f=``), which is the main channel in that unit. JSON channels
are the dotted path of the field, exactly as written, so ``channel=`` can
select them. Units follow the one rule of drivers/values.py, and JSON is
walked by drivers/json_walk.py, as for MQTT payloads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.base import Decoded
from drivers.json_walk import MAX_VALUES, NotJson, parse_json, temperature_at, temperatures
from drivers.values import Fault, Unit, label_unit, parse_value, to_decoded

LINE_FORMATS = ("auto", "number", "unit", "keyvalue", "csv", "json", "tc4")

# A serial line longer than this is not a reading: the longest real lines (a
# TC4 reply, a JSON object of a few probes) are well under 200 bytes. Capping
# the buffer keeps a device stuck without newlines from eating memory.
MAX_LINE_BYTES = 1024

# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True)
class LineResult:
    """What one line said.

    ``values`` empty and ``unreadable`` None is a protocol line that carries no
    temperature but proves the device is talking sense (a TC4 ``#`` ack, a CSV
    header). ``device_wide`` marks a fault line that names no channel
    (MAX31855's ``FAULT: Thermocouple is open``): it applies to whichever
    channel the user selected.
    """

    values: tuple[Decoded, ...] = ()
    unreadable: str | None = None
    fmt: str = ""
    device_wide: bool = False
    binary: bool = False  # unreadable because it is not text at all: noise (drivers/noise.py)

    @property
    def readable(self) -> bool:
        return self.unreadable is None


def _bad(reason: str) -> LineResult:
    return LineResult(unreadable=reason)


# ---------------------------------------------------------------------------
# framing: bytes → lines


@dataclass(slots=True)
class LineSplitter:
    """Cuts a byte stream into lines ending in ``\\n``, ``\\r\\n`` or a lone ``\\r``.

    ``synced`` False means we may have started listening in the middle of a
    line (the port was opened while the device was sending): the bytes before
    the first line end are dropped, because the tail of ``107.25`` is ``7.25``,
    a perfectly plausible and perfectly wrong temperature.

    What it drops is kept count of in bytes too (``overlong_bytes``, and the
    cut-off piece itself in ``partial_piece``), so the driver can weigh it as
    noise (drivers/noise.py).
    """

    max_line: int = MAX_LINE_BYTES
    synced: bool = True
    overlong: int = 0
    partial: int = 0
    overlong_bytes: int = 0
    partial_piece: bytes = b""
    _buf: bytearray = field(default_factory=bytearray)
    _after_cr: bool = False
    _discarding: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines in ``data`` (plus what was buffered), without their ends."""
        if self._after_cr and data[:1] == b"\n":
            data = data[1:]  # the second half of a \r\n split across two reads
        if not data:
            return []
        self._after_cr = data[-1:] == b"\r"
        pieces = _LINE_END.split(bytes(self._buf) + data)
        self._buf = bytearray(pieces.pop())
        lines = [line for line in (self._admit(p) for p in pieces) if line is not None]
        if len(self._buf) > self.max_line:
            # Drop the runaway line now and its tail up to the next line end,
            # so the tail of a 64 KiB blob is not read as a short line.
            self.overlong_bytes += len(self._buf)
            self._buf.clear()
            if not self._discarding:
                self.overlong += 1
            self._discarding = True
        return lines

    def _admit(self, piece: bytes) -> bytes | None:
        if self._discarding:
            self._discarding = False
            self.overlong_bytes += len(piece)
            return None
        if not self.synced:
            self.synced = True
            if piece:
                self.partial += 1
                self.partial_piece = piece
            return None
        if len(piece) > self.max_line:
            self.overlong += 1
            self.overlong_bytes += len(piece)
            return None
        return piece


_LINE_END = re.compile(rb"\r\n|\r|\n")


def to_text(raw: bytes) -> str | LineResult:
    """The line as text, or why it is not text (wrong baud, binary)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Sketches that print (char)176 send a Latin-1 degree sign: accept
        # that one byte, nothing else that is not UTF-8.
        if not _LATIN1_DEGREE_ONLY.fullmatch(raw):
            return LineResult(unreadable="invalid UTF-8 (wrong baud?)", binary=True)
        text = raw.decode("latin-1")
    text = text.strip()
    if not text.replace("\t", " ").isprintable():
        return LineResult(unreadable="control characters (wrong baud or binary data?)", binary=True)
    return text


_LATIN1_DEGREE_ONLY = re.compile(rb"[\x00-\x7f\xb0\xba]*")


def safe_text(raw: bytes, limit: int = 120) -> str:
    """A printable rendering of any line, for ``Reading.raw`` and log messages."""
    text = raw[:limit].decode("utf-8", errors="backslashreplace")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text + ("…" if len(raw) > limit else "")


# ---------------------------------------------------------------------------
# values and labels


# "Temperature" in the languages kitchen sketches are written in, too.
_GENERIC_WORDS = {"temp", "temp.", "temperature", "tmp", "température", "temperatur", "temperatura"}


def channel_name(label: str) -> tuple[str, Unit | None]:
    """A device's label → (channel name, the unit it names, if any).

    ``C`` / ``F = ...`` (Adafruit MAX6675/MAX31855 examples), ``Temp:``,
    ``temp_f=``, ``Temperature (°F):`` all name the main channel; anything else
    keeps its spelling minus the word "temp" (``Internal Temp`` → ``Internal``).
    The unit part is the one rule of drivers/values.py.
    """
    rest, unit = label_unit(label)
    words = [w for w in rest.split(" ") if w and w.lower() not in _GENERIC_WORDS]
    return " ".join(words), unit


# A URL cannot say channel="" (an empty option means "all"), so the main
# channel answers to this name too.
MAIN_CHANNEL = "main"


def _matches(want: str, *names: str) -> bool:
    folded = want.casefold()
    return any(name.casefold() == folded or (name == "" and folded == MAIN_CHANNEL) for name in names)


# ---------------------------------------------------------------------------
# decoders


class LineDecoder(Protocol):
    """Turns one line of text into readings. May keep state (a CSV header)."""

    name: str

    def decode(self, text: str) -> LineResult: ...


@dataclass(slots=True)
class _Base:
    """What every decoder knows: the unit of bare numbers, the channel asked for."""

    unit: Unit = "C"
    channel: str | None = None

    def pick(self, pairs: Iterable[tuple[str | tuple[str, ...], Decoded]], fmt: str) -> LineResult:
        """Keep the selected channel, matched by any of its labels or its name; or keep all."""
        found = list(pairs)
        if not found:
            return _bad(f"no value in a {fmt} line")
        want = self.channel
        if want is None:
            return LineResult(tuple(d for _, d in found), fmt=fmt)
        for labels, d in found:
            aliases = (labels,) if isinstance(labels, str) else labels
            if _matches(want, d.channel, *aliases):
                return LineResult((Decoded(want, d.celsius, d.fault),), fmt=fmt)
        names = ", ".join(repr(d.channel) for _, d in found[:8])
        return _bad(f"no channel {want!r} in this line (it has {names})")


@dataclass(slots=True)
class NumberLineDecoder(_Base):
    """One bare number a line (``107.25``), the unit given by ``unit=``; a unit suffix wins."""

    name: str = "number"

    def decode(self, text: str) -> LineResult:
        value = parse_value(text)
        if value is None:
            return _bad("not a number")
        return self.pick([("", to_decoded("", value, self.unit))], self.name)


# The DallasTemperature examples: "Temperature for the device 1 (index 0) is: 23.50".
_DALLAS = re.compile(
    r"temperature for (?:the )?device\s*(?P<dev>\d+)\s*(?:\(index\s*(?P<idx>\d+)\))?\s*is:?\s*(?P<value>.+)",
    re.IGNORECASE,
)
_LABELLED = re.compile(r"(?P<label>[^\W\d][^=:]{0,47}?)\s*[=:]\s*(?P<value>.+)")
# Fault lines that name no channel: Adafruit MAX31855 ("Thermocouple fault(s)
# detected!", "FAULT: Thermocouple is open - no connections."), DallasTemperature
# ("Error: Could not read temperature data"), MAX31856 ("Fault: ...").
_FAULT_TEXT = (
    re.compile(r"(?:fault|error)(?:\s*[:!\-]\s*|\s+|$)(?P<why>[^=]*)", re.IGNORECASE),
    re.compile(r"(?P<why>.*\bfaults?(?:\(s\))?\s+detected\b.*)", re.IGNORECASE),
)


@dataclass(slots=True)
class UnitLineDecoder(_Base):
    """One value a line, as people print it: ``107.2 C``, ``225.4 °F``, ``C = 107.25``,
    ``Internal Temp = 24.12``, DallasTemperature lines, and fault text."""

    name: str = "unit"

    def decode(self, text: str) -> LineResult:
        value = parse_value(text)
        if value is not None:
            return self.pick([("", to_decoded("", value, self.unit))], self.name)
        fault = _fault_text(text)
        if fault is not None:
            return self._device_fault(fault)
        dallas = _DALLAS.fullmatch(text)
        if dallas is not None:
            return self._dallas(dallas)
        labelled = _LABELLED.fullmatch(text)
        if labelled is None:
            return _bad("no value in the line")
        value = parse_value(labelled.group("value"))
        if value is None:
            return _bad("label without a value")
        label = labelled.group("label")
        name, unit = channel_name(label)
        return self.pick([(label, to_decoded(name, value, unit or self.unit))], self.name)

    def _device_fault(self, reason: str) -> LineResult:
        return LineResult((Decoded(self.channel or "", None, reason),), fmt=self.name, device_wide=True)

    def _dallas(self, m: re.Match[str]) -> LineResult:
        value = parse_value(m.group("value"))
        if value is None:
            return _bad("DallasTemperature line without a value")
        index = m.group("idx")
        if index is None:
            index = str(max(int(m.group("dev")) - 1, 0))
        # The first (usually only) sensor is the main channel; more sensors
        # on the bus are named by their index, as the sketch prints it.
        name = "" if index == "0" else index
        return self.pick([(index, to_decoded(name, value, self.unit))], self.name)


def _fault_text(text: str) -> str | None:
    for pattern in _FAULT_TEXT:
        m = pattern.fullmatch(text)
        if m is not None:
            why = m.group("why").strip() or text
            return f"device says: {why}"[:200]
    return None


_PAIR = re.compile(r"(?P<key>[^\W\d][\w.\-]{0,47})\s*[=:]\s*(?P<value>[^\s,;&|=:]+(?:\s?°?[CFcf]\b(?!\s*[=:]))?)")
_PAIR_GAP = re.compile(r"[\s,;&|]*")


@dataclass(slots=True)
class KeyValueLineDecoder(_Base):
    """``T1=107.25,T2=98.5`` (also ``;``, ``&``, spaces, ``key: value``); keys name channels."""

    name: str = "keyvalue"

    def decode(self, text: str) -> LineResult:
        pairs: list[tuple[str, Decoded]] = []
        at = 0
        for m in _PAIR.finditer(text):
            if not _PAIR_GAP.fullmatch(text, at, m.start()):
                return _bad("not key=value pairs")
            value = parse_value(m.group("value"))
            if value is None:
                return _bad(f"no number for {m.group('key')!r}")
            name, unit = channel_name(m.group("key"))
            pairs.append((m.group("key"), to_decoded(name, value, unit or self.unit)))
            at = m.end()
        if not pairs or not _PAIR_GAP.fullmatch(text, at):
            return _bad("not key=value pairs")
        return self.pick(pairs, self.name)


_HEADER_CELL = re.compile(r"[^\W\d][\w .()\[\]°º*/\-]{0,47}")


@dataclass(slots=True)
class CsvLineDecoder(_Base):
    """Comma (or ``;``/tab) separated values; columns are ``1``, ``2``, … or named by a header line.

    ``channel=`` picks a column by header name or by its 1-based number.
    """

    name: str = "csv"
    header: tuple[str, ...] | None = None

    def decode(self, text: str) -> LineResult:
        cells = _split_cells(text)
        if len(cells) < 2:
            return _bad("not comma-separated values")
        values = [parse_value(c) if c else Fault("empty cell") for c in cells]
        if all(v is None for v in values) and all(_HEADER_CELL.fullmatch(c) for c in cells):
            self.header = tuple(cells)  # a header line names the columns that follow
            return LineResult(fmt=self.name)
        pairs: list[tuple[str | tuple[str, ...], Decoded]] = []
        header = self.header if self.header is not None and len(self.header) == len(cells) else None
        for number, value in enumerate(values, start=1):
            if value is None:
                return _bad(f"cell {number} is not a number")
            label = header[number - 1] if header else str(number)
            name, unit = channel_name(label) if header else (label, None)
            pairs.append(((label, str(number)), to_decoded(name, value, unit or self.unit)))
        return self.pick(pairs, self.name)


def _split_cells(text: str) -> list[str]:
    # Spaces are not a separator: "107.2 C" is one value with its unit.
    for sep in (",", ";", "\t"):
        if sep in text:
            return [cell.strip() for cell in text.split(sep)]
    return [text]


@dataclass(slots=True)
class JsonLineDecoder(_Base):
    """One JSON object a line. ``channel=`` is a dotted path (``probes.0.t``);
    without it every number becomes a channel named by its path.

    The walk, the unit rule and the parsing are the MQTT JSON format's too
    (drivers/json_walk.py): ArduinoJson writes NaN as ``null`` and older
    sketches print ``NaN``; both are faults of their channel.
    """

    name: str = "json"

    def decode(self, text: str) -> LineResult:
        doc = parse_json(text, strict=False)
        if isinstance(doc, NotJson):
            return _bad(doc.reason)
        if self.channel is not None:
            return self._selected(doc, self.channel)
        pairs = [((t.channel, *t.aliases), t.value) for t in temperatures(doc, self.unit)]
        return self.pick(pairs[:MAX_VALUES], self.name)

    def _selected(self, doc: object, path: str) -> LineResult:
        decoded = temperature_at(doc, path, self.unit)  # a missing path: unreadable, 30 s of it a fault
        return _bad(decoded) if isinstance(decoded, str) else LineResult((decoded,), fmt=self.name)


DEFAULT_TC4_CHAN = "1200"  # Artisan's default: channels 1 and 2 on, 3 and 4 off


def tc4_channels(chan: str) -> tuple[str, ...]:
    """The channels a ``CHAN;ijkl`` mapping switches on, named by their logical slot.

    aArtisan's ``logger()`` prints ambient, then each logical slot whose digit
    is not 0, in slot order (``CHAN;1034`` → ``1``, ``3``, ``4``), then heater,
    fan and SV when its PID runs (TC4-shield aArtisan.ino, cmndreader.cpp).
    """
    return tuple(str(slot) for slot, digit in enumerate(chan, start=1) if digit != "0")


@dataclass(slots=True)
class Tc4LineDecoder(_Base):
    """Replies to TC4 / aArtisan ``READ``: ``ambient,chan…,heater,fan[,SV]``.

    The channels are the ones ``chan`` (the ``CHAN;`` we sent) switched on —
    never guessed from the field count, because heater/fan/SV follow the
    channels and old firmware (or a PID that is off) sends nothing after
    them. Lines starting with ``#`` acknowledge a command.
    """

    name: str = "tc4"
    chan: str = DEFAULT_TC4_CHAN

    def decode(self, text: str) -> LineResult:
        if text.startswith("#"):
            return LineResult(fmt=self.name)
        channels = tc4_channels(self.chan)
        fields = [f.strip() for f in text.split(",")]
        if len(fields) < 1 + len(channels):
            return _bad(
                f"TC4 reply with {len(fields)} fields, expected ambient and {len(channels)} channels (CHAN;{self.chan})"
            )
        pairs = []
        for name, cell in zip(("ambient", *channels), fields, strict=False):
            value = parse_value(cell)
            if value is None:
                return _bad(f"TC4 field {name} is not a number")
            pairs.append((name, to_decoded(name, value, self.unit)))
        return self.pick(pairs, self.name)


@dataclass(slots=True)
class AutoLineDecoder(_Base):
    """Tries every line format (not TC4, which only talks when polled) and
    says which one read the line, so the driver can tell the user once."""

    name: str = "auto"
    _decoders: tuple[LineDecoder, ...] = ()

    def __post_init__(self) -> None:
        unit, channel = self.unit, self.channel
        self._decoders = (
            JsonLineDecoder(unit, channel),
            NumberLineDecoder(unit, channel),
            UnitLineDecoder(unit, channel),
            KeyValueLineDecoder(unit, channel),
            CsvLineDecoder(unit, channel),
        )

    def decode(self, text: str) -> LineResult:
        if not text:
            return _bad("empty line")
        telling: LineResult | None = None
        for decoder in self._decoders:
            result = decoder.decode(text)
            if result.readable:
                return result
            # A line that fits a format but lacks the selected channel says
            # more than "not JSON", "not a number"…: keep that reason.
            if "channel" in (result.unreadable or ""):
                telling = result
        return telling or _bad("fits no format (number, unit, key=value, CSV, JSON)")


def make_line_decoder(
    fmt: str, unit: Unit = "C", channel: str | None = None, chan: str = DEFAULT_TC4_CHAN
) -> LineDecoder:
    """The decoder for a ``format=`` value (one of LINE_FORMATS); ``chan`` is TC4's ``CHAN;`` mapping."""
    if fmt == "tc4":
        return Tc4LineDecoder(unit, channel, chan=chan)
    if fmt == "auto":
        return AutoLineDecoder(unit, channel)
    decoders: dict[str, Callable[[Unit, str | None], LineDecoder]] = {
        "number": NumberLineDecoder,
        "unit": UnitLineDecoder,
        "keyvalue": KeyValueLineDecoder,
        "csv": CsvLineDecoder,
        "json": JsonLineDecoder,
    }
    if fmt not in decoders:
        raise ValueError(f"unknown format {fmt!r}")
    return decoders[fmt](unit, channel)


def decode_line(decoder: LineDecoder, raw: bytes) -> tuple[str, LineResult]:
    """One framed line → (its text for ``Reading.raw``, what it said)."""
    text = to_text(raw)
    if isinstance(text, LineResult):
        return safe_text(raw), text
    if not text:
        return "", _bad("empty line")
    return text, decoder.decode(text)
