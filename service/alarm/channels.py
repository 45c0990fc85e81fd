"""The alarm channels a config asks for, built in one place.

Each channel's module is imported only when the config names it: a Pi with
a buzzer alone never loads Apprise, and one with push alone never opens a
GPIO pin. Building never fails on a missing device or binary: a channel says
so in its ``notices()`` (logged at start, on /healthz) and answers every
delivery with an error, so the others still ring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.alarm.channel import Channel
    from service.config import Config


def build_channels(config: Config) -> list[Channel]:
    """Push per ``[notify]`` URL, then the buzzer, then the voice: the order of the self-test's report."""
    channels: list[Channel] = []
    if config.notify.urls:
        from service.alarm.push import push_channels

        channels += push_channels(config.notify.urls)
    alarm = config.alarm
    if alarm.buzzer_pin is not None:
        from service.alarm.buzzer import BuzzerChannel

        channels.append(BuzzerChannel(alarm.buzzer_pin))
    if alarm.voice:
        from service.alarm.voice import VoiceChannel

        channels.append(VoiceChannel(speak=alarm.speak, sound=alarm.sound, audio_device=alarm.audio_device))
    return channels
