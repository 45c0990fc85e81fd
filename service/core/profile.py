"""Recipes as the tracker sees them: ordered steps with temperatures in °C.

The config layer builds these from TOML; the core never sees a unit string.
Every temperature of a step shifts by the probe's calibration offset (where
the probe says water boils, minus 100 °C), because candy targets are defined
relative to boiling water, not in absolute degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

WATER_BOILS_C = 100.0


class EtaModel(StrEnum):
    SYRUP = "syrup"
    LINEAR = "linear"
    AUTO = "auto"


class ReachEnd(StrEnum):
    """When a reach step is over, so that its cook can end by itself.

    ``cooled``: the pot is off the heat, seen as the temperature falling clearly
    below the target after it was reached; ``ack``: the cook acknowledged the
    alarm; ``manual``: only the cook's own stop or advance ends it.
    """

    COOLED = "cooled"
    ACK = "ack"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class SugarStage:
    name: str
    from_c: float


@dataclass(frozen=True, slots=True)
class ReachStep:
    """Climb to ``target_c`` and stop there (the caramel)."""

    name: str
    target_c: float
    approach_margin_c: float = 5.0 / 1.8
    approach_lead_s: float = 60.0
    # Never warn during the first heat-up while this far below the target.
    approach_floor_c: float = 10.0 / 1.8
    overshoot_c: float | None = None  # absolute; None = target + 5 °F
    eta_model: EtaModel = EtaModel.AUTO
    sugar_stages: tuple[SugarStage, ...] = ()
    end: ReachEnd = ReachEnd.COOLED
    heat_off: bool = False  # the step's heat = "off": a heater keeps its hands off (commanded off)
    kind: str = "reach"

    @property
    def overshoot_at_c(self) -> float:
        return self.overshoot_c if self.overshoot_c is not None else self.target_c + 5.0 / 1.8

    def shifted(self, offset_c: float) -> ReachStep:
        if offset_c == 0.0:
            return self
        return replace(
            self,
            target_c=self.target_c + offset_c,
            overshoot_c=self.overshoot_at_c + offset_c,
            sugar_stages=tuple(SugarStage(s.name, s.from_c + offset_c) for s in self.sugar_stages),
        )

    def uses_syrup_model(self, offset_c: float) -> bool:
        """Above the boil the climb is set by the water leaving; below, by plain heating."""
        if self.eta_model is EtaModel.AUTO:
            return self.target_c - offset_c > WATER_BOILS_C + 0.5
        return self.eta_model is EtaModel.SYRUP


@dataclass(frozen=True, slots=True)
class HoldStep:
    """Keep the pot inside a window for a duration (the braise)."""

    name: str
    low_c: float
    high_c: float
    duration_s: float
    grace_s: float = 60.0
    heat_off: bool = False
    kind: str = "hold"

    def shifted(self, offset_c: float) -> HoldStep:
        if offset_c == 0.0:
            return self
        return replace(self, low_c=self.low_c + offset_c, high_c=self.high_c + offset_c)


@dataclass(frozen=True, slots=True)
class BoilStep:
    """Watch plain water boil and measure where this probe says it boils."""

    name: str
    steady_s: float = 60.0
    # The plateau must stay inside this band (°C) over ``steady_s``.
    band_c: float = 0.4
    min_c: float = 80.0  # water boils above this anywhere people cook
    heat_off: bool = False
    kind: str = "boil"

    def shifted(self, offset_c: float) -> BoilStep:
        return self


Step = ReachStep | HoldStep | BoilStep


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    title: str
    steps: tuple[Step, ...]
    description: str = ""
