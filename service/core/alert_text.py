"""What an alert built by the tracker says: the cook's words, not the driver's.

The drivers name a fault as a developer would ("not a number (nan)", "null
(the sketch's NaN)"): right for `potwatch probe`, wrong on a phone in a hot
kitchen. An alert names the probe by its label, says what is wrong in plain
words and, where there is one, what to do.
"""

from __future__ import annotations

# A reading with no number in it (the driver's reasons start with these): almost always a loose plug.
_NO_NUMBER = ("not a number", "null", "infinite", "overflow", "no value")


def probe_name(probe_id: str, label: str | None) -> str:
    """The probe as the cook named it ("Caramel pot"), or as the config did."""
    return label or f"probe {probe_id}"


def fault_words(reason: str) -> str:
    """A fault reason as the cook reads it."""
    if reason.lower().startswith(_NO_NUMBER):
        return "the probe reads no number — check its plug"
    return reason
