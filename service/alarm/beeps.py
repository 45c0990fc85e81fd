"""What the buzzer sounds for each level: data, so the cook's ear and the tests read the same table.

A cook learns the buzzer by ear from across the kitchen, so the levels must
differ in rhythm, not only in length: one chirp is news, three are a warning,
and a critical is a rhythm that does not stop until somebody answers. Once the
alert has escalated (nobody answered), the rhythm gets denser — more pulses a
second and more of the time on — because the quiet gaps are what a busy cook
ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.events import AlertLevel


@dataclass(frozen=True, slots=True)
class BeepPattern:
    """Pulses of the buzzer: each ``(on_s, off_s)``; ``repeat``: over and over until silenced."""

    name: str
    pulses: tuple[tuple[float, float], ...]
    repeat: bool = False

    @property
    def cycle_s(self) -> float:
        """One pass through the pulses, gaps included."""
        return sum(on + off for on, off in self.pulses)

    @property
    def duty(self) -> float:
        """The share of a cycle the buzzer is on: how loud the pattern feels."""
        return sum(on for on, _ in self.pulses) / self.cycle_s

    @property
    def pulses_per_s(self) -> float:
        return len(self.pulses) / self.cycle_s


SHORT = 0.15  # a chirp: heard, not alarming

INFO = BeepPattern("info", ((SHORT, 0.0),))
WARNING = BeepPattern("warning", ((SHORT, SHORT), (SHORT, SHORT), (SHORT, 0.0)))
# beep-beep-beep … pause: 3 pulses in 2.1 s, on 36 % of the time
CRITICAL = BeepPattern("critical", ((0.25, 0.2), (0.25, 0.2), (0.25, 0.95)), repeat=True)
# nobody answered: 4 pulses in 1.1 s, on 55 % of the time, the pause shortened to a breath
ESCALATED = BeepPattern("critical-escalated", ((0.15, 0.1), (0.15, 0.1), (0.15, 0.1), (0.15, 0.3)), repeat=True)


def pattern_for(level: AlertLevel, *, escalated: bool = False, test: bool = False) -> BeepPattern:
    """The pattern of one delivery; a self-test sounds its level's rhythm once, never on and on."""
    if level is AlertLevel.INFO:
        return INFO
    if level is AlertLevel.WARNING:
        return WARNING
    chosen = ESCALATED if escalated else CRITICAL
    if test:
        return BeepPattern(f"{chosen.name}-test", chosen.pulses, repeat=False)
    return chosen
