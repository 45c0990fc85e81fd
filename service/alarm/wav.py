"""Whether a file is a WAV the player can play, asked before the alarm needs it.

A sound file that went missing, or a ``.wav`` that is really an MP3, must be a
notice at start-up, not a player's error at the moment the caramel is ready.
The standard library's ``wave`` reads only PCM WAV, which is what ``aplay``
and ``paplay`` both play everywhere.
"""

from __future__ import annotations

import wave
from pathlib import Path


def wav_problem(path: Path) -> str | None:
    """Why ``path`` is not a playable WAV file, in words for the cook; None when it is one."""
    try:
        if path.is_dir():
            return f"sound {str(path)!r}: a folder, not a WAV file"
        if path.exists() and not path.is_file():  # a FIFO or a device would hang the reader, and the player
            return f"sound {str(path)!r}: not a regular file"
        with wave.open(str(path), "rb") as reader:
            frames, rate = reader.getnframes(), reader.getframerate()
    except FileNotFoundError:
        return f"sound {str(path)!r}: no such file"
    except PermissionError:
        return f"sound {str(path)!r}: not readable by the service's user"
    except (wave.Error, EOFError) as error:
        return f"sound {str(path)!r}: not a PCM WAV file ({error})"
    except OSError as error:
        return f"sound {str(path)!r}: cannot be read ({error.strerror or error})"
    if frames == 0 or rate == 0:
        return f"sound {str(path)!r}: a WAV file with no sound in it"
    return None


def wav_seconds(path: Path) -> float:
    """How long a WAV file plays (0.0 when it cannot be read): the speech's length, for the self-test."""
    try:
        with wave.open(str(path), "rb") as reader:
            return reader.getnframes() / reader.getframerate()
    except (OSError, EOFError, wave.Error, ZeroDivisionError):
        return 0.0
