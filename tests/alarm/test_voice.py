"""The voice channel with the real espeak-ng and aplay (Debian's; the test command installs them).

Where the sound goes matters to what a test can prove. ALSA's ``null``
device takes a WAV as fast as it can read it (measured here: a 4.2 s
sentence "played" in about 10 ms), so it shows that aplay plays the file,
not that a playing sound can be cut. For that the tests use a card of their
own (tests/support/sound_card.py): ALSA's ``file`` plugin into a FIFO that a
thread drains either as fast as it comes, to check what reached the card and
in which order, or at the WAV's byte rate, so that aplay is blocked playing as
on a real card.

No PulseAudio server answers in these tests (PULSE_SERVER points at a socket
nobody listens on), so the channel picks aplay, as on a headless Pi.
"""

from __future__ import annotations

import array
import asyncio
import math
import os
import socket
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from service.alarm.audio import choose_output, pulse_answers
from service.alarm.channel import AlarmMessage
from service.alarm.speech import synthesise
from service.alarm.voice import VoiceChannel
from service.core.events import AlertLevel
from tests.support.parts import require_binary
from tests.support.sound_card import SoundCard
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.real_part("espeak-ng")
RecordProperty = Callable[[str, object], None]

SENTENCE = "Caramel at 225 degrees. Take it off the heat."
ESPEAK_RATE = 22050 * 2  # bytes a second of espeak-ng's WAV: 22.05 kHz, mono, 16 bit


def message(spoken: str = SENTENCE, level: AlertLevel = AlertLevel.CRITICAL) -> AlarmMessage:
    return AlarmMessage(
        alert_id="a1", kind="target_reached", level=level, title="Caramel at 225 °F", body="…", spoken=spoken
    )


@pytest.fixture(autouse=True)
def no_sound_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'nobody-listens'}")


@pytest.fixture(scope="module")
def espeak() -> str:
    return require_binary("espeak-ng")


@pytest.fixture(scope="module")
def aplay() -> str:
    return require_binary("aplay", "alsa-utils")


@pytest.fixture
def card(tmp_path: Path, aplay: str) -> Iterator[SoundCard]:
    """A card that takes samples as fast as they come, keeping them."""
    folder = tmp_path / "fast"
    folder.mkdir()
    sink = SoundCard(folder)
    yield sink
    sink.close()


@pytest.fixture
def paced_card(tmp_path: Path, aplay: str) -> Iterator[SoundCard]:
    """A card that plays espeak-ng's and the chime's samples in real time, as a real one does."""
    folder = tmp_path / "paced"
    folder.mkdir()
    sink = SoundCard(folder, byte_rate=ESPEAK_RATE)
    yield sink
    sink.close()


def chime(path: Path, seconds: float, hz: float = 880.0) -> Path:
    """A real WAV (22.05 kHz mono, espeak-ng's format, so one paced card fits both): a sine tone."""
    rate = 22050
    samples = array.array("h", (int(12000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(int(seconds * rate))))
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return path


def frames_of(path: Path) -> bytes:
    with wave.open(str(path), "rb") as reader:
        return reader.readframes(reader.getnframes())


def reference_speech(espeak: str, text: str, path: Path) -> bytes:
    """What espeak-ng says for ``text``, made by the test itself, apart from the code under test."""
    subprocess.run([espeak, "-w", str(path), text], check=True, timeout=30)
    return frames_of(path)


@pytest.fixture
async def channels() -> AsyncIterator[list[VoiceChannel]]:
    """Channels a test makes, closed after it whatever happened."""
    made: list[VoiceChannel] = []
    yield made
    for channel in made:
        await channel.close()


async def heard(card: SoundCard, at_least: int) -> bytes:
    """What the card took, once it took ``at_least`` bytes: the player may exit before the card drained its FIFO."""
    await wait_until_async(
        lambda: len(card.received) >= at_least, 5, lambda: f"{at_least} bytes, got {len(card.received)}"
    )
    return card.received


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def program(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# ---- synthesis ----------------------------------------------------------------------------------


async def test_espeak_writes_a_wav_of_about_the_sentence_length(espeak: str, tmp_path: Path) -> None:
    once = await synthesise(SENTENCE, tmp_path / "once.wav", espeak=espeak)
    twice = await synthesise(f"{SENTENCE} {SENTENCE}", tmp_path / "twice.wav", espeak=espeak)
    assert once.ok and twice.ok, (once, twice)
    for said in (once, twice):
        assert said.path.stat().st_size > 44  # more than a WAV header
        with wave.open(str(said.path), "rb") as reader:
            seconds = reader.getnframes() / reader.getframerate()
            samples = array.array("h", reader.readframes(reader.getnframes()))
        assert said.seconds == pytest.approx(seconds)
        assert max(abs(s) for s in samples) > 1000, "a voice, not silence"
    assert 1.6 < twice.seconds / once.seconds < 2.4, (once.seconds, twice.seconds)


async def test_synthesis_without_espeak_says_so(tmp_path: Path) -> None:
    said = await synthesise(SENTENCE, tmp_path / "x.wav", espeak="no-such-espeak-ng")
    assert not said.ok and said.error == "no voice: no-such-espeak-ng not found"
    assert not said.path.exists()


async def test_a_sentence_starting_with_a_dash_is_said_not_taken_as_an_option(espeak: str, tmp_path: Path) -> None:
    said = await synthesise("-w /dev/null --help", tmp_path / "dash.wav", espeak=espeak)
    assert said.ok and said.seconds > 0.5


# ---- playing ------------------------------------------------------------------------------------


async def test_aplay_plays_the_sound_and_the_voice_on_the_null_device(
    aplay: str, espeak: str, tmp_path: Path, channels: list[VoiceChannel], record_property: RecordProperty
) -> None:
    """Recorded: how long the 1 s chime and the 4 s sentence took on ``null`` (not real time here)."""
    voice = VoiceChannel(speak=True, sound=str(chime(tmp_path / "chime.wav", 1.0)), audio_device="null")
    channels.append(voice)
    assert voice.notices() == []
    began = time.monotonic()
    delivery = await voice.deliver(message())
    record_property("voice_null_device_whole_delivery_s", round(time.monotonic() - began, 4))
    record_property("voice_first_sound_latency_s", round(delivery.latency_s, 4))
    assert delivery.ok and delivery.error is None and delivery.channel == "voice"
    assert voice.pids() == []
    # the voice alone: the first sound waits for espeak-ng's synthesis
    spoken = VoiceChannel(speak=True, sound=None, audio_device="null")
    channels.append(spoken)
    said = await spoken.deliver(message())
    assert said.ok
    record_property("voice_speech_only_first_sound_latency_s", round(said.latency_s, 4))


async def test_the_sound_then_the_sentence_reach_the_card_in_order(
    espeak: str, card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]
) -> None:
    sound = chime(tmp_path / "chime.wav", 0.5)
    voice = VoiceChannel(speak=True, sound=str(sound), audio_device=card.device)
    channels.append(voice)
    assert voice.notices() == []
    assert (await voice.deliver(message())).ok
    spoken, tone = reference_speech(espeak, SENTENCE, tmp_path / "ref.wav"), frames_of(sound)
    played = await heard(card, len(tone) + len(spoken.strip(b"\0")) - 16384)
    assert played.startswith(tone), "the sound first, sample for sample"
    rest = played[len(tone) :].lstrip(b"\0")  # the chime's last period is padded with silence
    assert abs(len(rest) - len(spoken.strip(b"\0"))) < 16384, "then the sentence, whole"


async def test_silence_cuts_a_playing_sound_within_a_second(
    paced_card: SoundCard, tmp_path: Path, channels: list[VoiceChannel], record_property: RecordProperty
) -> None:
    sound = chime(tmp_path / "long.wav", 8.0)
    voice = VoiceChannel(speak=False, sound=str(sound), audio_device=paced_card.device)
    channels.append(voice)
    delivering = asyncio.create_task(voice.deliver(message()))
    [pid] = await wait_until_async(voice.pids, 10, "the player to start")
    assert program(pid) == "aplay"
    await wait_until_async(lambda: len(paced_card.received) > ESPEAK_RATE // 2, 10, "half a second to be played")
    assert not delivering.done(), "still playing on a card that keeps real time"
    began = time.monotonic()
    await voice.silence()
    await wait_until_async(lambda: not alive(pid), 1.0, "the player to be gone")
    record_property("voice_silence_to_player_gone_s", round(time.monotonic() - began, 4))
    delivery = await asyncio.wait_for(delivering, 1.0)
    assert time.monotonic() - began < 1.0
    assert delivery.ok, "a delivery cut by the acknowledgement is not a failure"
    assert len(paced_card.received) < len(frames_of(sound)) // 2, "cut short, not played out"
    assert voice.pids() == []


async def test_deliveries_take_turns(card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]) -> None:
    """Two at once are played one after the other, never mixed (a card plays one stream)."""
    sound = chime(tmp_path / "chime.wav", 0.3)
    voice = VoiceChannel(speak=False, sound=str(sound), audio_device=card.device)
    channels.append(voice)
    assert all(d.ok for d in await asyncio.gather(voice.deliver(message()), voice.deliver(message())))
    tone = frames_of(sound)
    played = await heard(card, 2 * len(tone))
    second = played.find(tone, len(tone))
    assert played.startswith(tone) and second > 0 and not played[len(tone) : second].strip(b"\0")


async def test_silence_drops_the_deliveries_waiting_their_turn(
    paced_card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]
) -> None:
    sound = chime(tmp_path / "long.wav", 8.0)
    voice = VoiceChannel(speak=False, sound=str(sound), audio_device=paced_card.device)
    channels.append(voice)
    first = asyncio.create_task(voice.deliver(message()))
    await wait_until_async(voice.pids, 10, "the first to play")
    waiting = [asyncio.create_task(voice.deliver(message())) for _ in range(2)]
    await wait_until_async(lambda: voice.waiting == 2, 5, "two deliveries waiting their turn")
    began = time.monotonic()
    await voice.silence()
    done = await asyncio.wait_for(asyncio.gather(first, *waiting), 1.0)
    assert time.monotonic() - began < 1.0 and all(d.ok for d in done)
    assert voice.pids() == [] and paced_card.opens == 1, "the waiting ones were dropped, never played"


async def test_silence_kills_a_synthesis_under_way(
    espeak: str, card: SoundCard, channels: list[VoiceChannel], record_property: RecordProperty
) -> None:
    voice = VoiceChannel(speak=True, sound=None, audio_device=card.device)
    channels.append(voice)
    delivering = asyncio.create_task(voice.deliver(message(" ".join([SENTENCE] * 1000))))
    [pid] = await wait_until_async(voice.pids, 10, "espeak-ng to start")
    assert program(pid) == "espeak-ng"
    began = time.monotonic()
    await voice.silence()
    await wait_until_async(lambda: not alive(pid), 1.0, "espeak-ng to be gone")
    record_property("voice_silence_to_espeak_gone_s", round(time.monotonic() - began, 4))
    assert (await asyncio.wait_for(delivering, 1.0)).ok
    assert time.monotonic() - began < 1.0
    assert card.received == b"" and voice.pids() == [], "nothing was played after the silence"


async def test_a_delivery_after_a_silence_plays_again(
    card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]
) -> None:
    sound = chime(tmp_path / "chime.wav", 0.3)
    voice = VoiceChannel(speak=False, sound=str(sound), audio_device=card.device)
    channels.append(voice)
    await voice.silence()
    assert (await voice.deliver(message())).ok
    assert (await heard(card, len(frames_of(sound)))).startswith(frames_of(sound))


async def test_the_timeout_bounds_a_delivery(
    paced_card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]
) -> None:
    sound = str(chime(tmp_path / "long.wav", 8.0))
    voice = VoiceChannel(speak=False, sound=sound, audio_device=paced_card.device, timeout_s=0.5)
    channels.append(voice)
    began = time.monotonic()
    delivery = await voice.deliver(message())
    assert time.monotonic() - began < 1.5
    assert not delivery.ok and delivery.error == "timed out after 0.5 s"
    assert voice.pids() == []


# ---- notices ------------------------------------------------------------------------------------


async def test_missing_espeak_is_a_notice_and_the_sound_still_plays(
    card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]
) -> None:
    sound = chime(tmp_path / "chime.wav", 0.3)
    voice = VoiceChannel(speak=True, sound=str(sound), audio_device=card.device, espeak="no-such-espeak-ng")
    channels.append(voice)
    notice = "no-such-espeak-ng not found: no voice (install the Debian package espeak-ng)"
    assert voice.notices() == [notice] and voice.health.notices == [notice]
    delivery = await voice.deliver(message())
    assert not delivery.ok and delivery.error == notice
    tone = frames_of(sound)
    assert (await heard(card, len(tone))).startswith(tone), "the chime played all the same"


async def test_missing_espeak_and_no_sound_fails_at_once(card: SoundCard, channels: list[VoiceChannel]) -> None:
    voice = VoiceChannel(speak=True, sound=None, audio_device=card.device, espeak="no-such-espeak-ng")
    channels.append(voice)
    delivery = await voice.deliver(message())
    assert not delivery.ok and delivery.error is not None and "no-such-espeak-ng not found" in delivery.error
    assert card.received == b""


async def test_missing_player_is_a_notice(espeak: str, tmp_path: Path, channels: list[VoiceChannel]) -> None:
    voice = VoiceChannel(speak=True, sound=None, player="no-such-player")
    channels.append(voice)
    assert voice.notices() == ["player 'no-such-player' not found: no voice and no sound"]
    delivery = await voice.deliver(message())
    assert not delivery.ok and delivery.error == "player 'no-such-player' not found: no voice and no sound"


async def test_missing_sound_file_is_a_notice_and_the_voice_still_speaks(
    espeak: str, card: SoundCard, tmp_path: Path, channels: list[VoiceChannel]
) -> None:
    missing = tmp_path / "gone.wav"
    voice = VoiceChannel(speak=True, sound=str(missing), audio_device=card.device)
    channels.append(voice)
    notice = f"sound {str(missing)!r}: no such file: the voice speaks without it"
    assert voice.notices() == [notice]
    delivery = await voice.deliver(message())
    assert not delivery.ok and delivery.error == notice
    spoken = reference_speech(espeak, SENTENCE, tmp_path / "ref.wav")
    said = (await heard(card, len(spoken.strip(b"\0")) - 16384)).strip(b"\0")
    assert abs(len(said) - len(spoken.strip(b"\0"))) < 16384, "the sentence was said"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00an mp3 renamed", "not a PCM WAV file (file does not start with RIFF id)"),
        (b"", "not a PCM WAV file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a PCM WAV file"),
    ],
)
async def test_a_sound_that_is_not_a_wav_is_a_notice(
    content: bytes, why: str, tmp_path: Path, aplay: str, channels: list[VoiceChannel]
) -> None:
    bad = tmp_path / "chime.wav"
    bad.write_bytes(content)
    voice = VoiceChannel(speak=False, sound=str(bad), audio_device="null")
    channels.append(voice)
    [notice] = voice.notices()
    assert notice.startswith(f"sound {str(bad)!r}: {why}")
    delivery = await voice.deliver(message())
    assert not delivery.ok and delivery.error == notice


async def test_a_folder_a_fifo_or_an_empty_wav_as_the_sound_is_a_notice(
    tmp_path: Path, aplay: str, channels: list[VoiceChannel]
) -> None:
    """A FIFO would hang whoever opens it to read: refused before anything opens it."""
    empty = chime(tmp_path / "empty.wav", 0.0)
    fifo = tmp_path / "chime.fifo"
    os.mkfifo(fifo)
    for path, why in (
        (tmp_path, "a folder, not a WAV file"),
        (fifo, "not a regular file"),
        (empty, "a WAV file with no sound in it"),
    ):
        voice = VoiceChannel(speak=False, sound=str(path), audio_device="null")
        channels.append(voice)
        assert voice.notices() == [f"sound {str(path)!r}: {why}: no sound"]


@pytest.mark.parametrize(
    ("cards", "device", "notice"),
    [
        (None, None, "no audio device: this machine has no sound support ({cards} is missing): no voice and no sound"),
        (
            "--- no soundcards ---\n",
            None,
            "no audio device: no sound card (aplay -l finds none): no voice and no sound",
        ),
        (
            " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n                      bcm2835 Headphones\n",
            "hw:1,0",
            "audio_device 'hw:1,0': no such sound card (there are: 0 Headphones): no voice and no sound",
        ),
        (
            " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n 1 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0\n",
            "sysdefault:CARD=vc4hdmi1",
            "audio_device 'sysdefault:CARD=vc4hdmi1': no such sound card (there are: 0 Headphones, 1 vc4hdmi0): "
            "no voice and no sound",
        ),
    ],
)
async def test_no_audio_device_is_a_notice(
    cards: str | None, device: str | None, notice: str, tmp_path: Path, aplay: str, channels: list[VoiceChannel]
) -> None:
    """The kernel's card list, as /proc/asound/cards has it on a Pi (here a file the test writes)."""
    listing = tmp_path / "cards"
    if cards is not None:
        listing.write_text(cards)
    voice = VoiceChannel(speak=True, sound=None, audio_device=device, asound_cards=listing)
    channels.append(voice)
    expected = notice.format(cards=listing)
    assert voice.notices() == [expected]
    delivery = await voice.deliver(message())
    assert not delivery.ok and delivery.error == expected


@pytest.mark.parametrize("device", [None, "default", "hw:1", "plughw:CARD=vc4hdmi0,DEV=0", "null", "bluealsa"])
def test_a_card_that_is_there_is_no_notice(device: str | None, tmp_path: Path, aplay: str) -> None:
    listing = tmp_path / "cards"
    listing.write_text(" 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n 1 [vc4hdmi0       ]: vc4-hdmi\n")
    assert choose_output(None, device, cards=listing).problem is None


# ---- PulseAudio / PipeWire ----------------------------------------------------------------------


@pytest.fixture
def sound_server(tmp_path: Path) -> Iterator[Path]:
    """A socket that takes connections where a PulseAudio or PipeWire server would listen."""
    path = tmp_path / "pulse" / "native"
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(4)
        yield path


def test_a_sound_server_that_answers_is_found(sound_server: Path, tmp_path: Path) -> None:
    assert pulse_answers({"PULSE_SERVER": f"unix:{sound_server}"})
    assert pulse_answers({"XDG_RUNTIME_DIR": str(tmp_path)}), "the session's own socket"
    assert not pulse_answers({"PULSE_SERVER": f"unix:{tmp_path / 'nobody'}"})
    assert not pulse_answers({}), "no session, no server: a system service's lot"


def test_paplay_when_a_sound_server_answers_else_aplay(sound_server: Path, tmp_path: Path, aplay: str) -> None:
    paplay = require_binary("paplay", "pulseaudio-utils")
    listing = tmp_path / "cards"
    listing.write_text("--- no soundcards ---\n")
    served = choose_output(None, None, cards=listing, env={"PULSE_SERVER": f"unix:{sound_server}"})
    assert (served.player, served.problem, served.pulse) == (paplay, None, True)
    # an audio_device is an ALSA name: aplay, even with a server there
    named = choose_output(None, "null", cards=listing, env={"PULSE_SERVER": f"unix:{sound_server}"})
    assert named.player == aplay
    alone = choose_output(None, None, cards=listing, env={})
    assert alone.player is None and alone.problem is not None and "no sound card" in alone.problem
