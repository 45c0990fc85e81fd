"""Recipe files (``config/profiles/*.toml``) → the core's ``Profile``.

A profile file is validated like the config file, with the same
``file: key.path: what is wrong`` lines, then turned into plain dataclasses
in °C and seconds for the tracker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from service.config import (
    ConfigError,
    Duration,
    Model,
    Temperature,
    TemperatureDelta,
    plain_pattern,
    read_toml,
    validation_problems,
)
from service.core.profile import BoilStep, EtaModel, HoldStep, Profile, ReachEnd, ReachStep, Step, SugarStage
from service.resources import builtin_profiles_dir

Heat = Literal["auto", "off"]
HEAT_AUTO: Heat = "auto"
HEAT_FIELD: Heat = Field(
    HEAT_AUTO,
    description='"off": a heater under this pot is commanded off for the step; "auto" (default): it follows the step',
)


class SugarStageModel(Model):
    name: str
    at: Temperature = Field(..., description="where this stage starts")


class ReachModel(Model):
    kind: Literal["reach"]
    name: str
    target: Temperature
    approach_margin: TemperatureDelta = Field(5.0 / 1.8, description='warn this close to the target ("5F")')
    approach_lead: Duration = Field(60.0, description='warn when the ETA falls under this ("60s")')
    overshoot: Temperature | None = Field(None, description="overshoot alert from here; default target + 5 °F")
    eta_model: EtaModel = EtaModel.AUTO
    stages: list[SugarStageModel] = Field(default_factory=list)
    end: ReachEnd = Field(
        ReachEnd.COOLED, description='when the step is over: "cooled" (off the heat), "ack" or "manual"'
    )
    heat: Heat = HEAT_FIELD

    @model_validator(mode="after")
    def _order(self) -> ReachModel:
        if self.overshoot is not None and self.overshoot <= self.target:
            raise ValueError("overshoot must be above target")
        ats = [s.at for s in self.stages]
        if ats != sorted(ats):
            raise ValueError("stages must be listed from the coolest up")
        return self

    def build(self) -> ReachStep:
        return ReachStep(
            name=self.name,
            target_c=self.target,
            approach_margin_c=self.approach_margin,
            approach_lead_s=self.approach_lead,
            overshoot_c=self.overshoot,
            eta_model=self.eta_model,
            sugar_stages=tuple(SugarStage(s.name, s.at) for s in self.stages),
            end=self.end,
            heat_off=self.heat == "off",
        )


class HoldModel(Model):
    kind: Literal["hold"]
    name: str
    low: Temperature
    high: Temperature
    duration: Duration
    grace: Duration = 60.0
    heat: Heat = HEAT_FIELD

    @model_validator(mode="after")
    def _window(self) -> HoldModel:
        if self.high <= self.low:
            raise ValueError("high must be above low")
        return self

    def build(self) -> HoldStep:
        return HoldStep(self.name, self.low, self.high, self.duration, self.grace, heat_off=self.heat == "off")


class BoilModel(Model):
    kind: Literal["boil"]
    name: str = "boil"
    steady: Duration = 60.0
    band: TemperatureDelta = 0.4
    heat: Heat = HEAT_FIELD

    def build(self) -> BoilStep:
        return BoilStep(self.name, steady_s=self.steady, band_c=self.band, heat_off=self.heat == "off")


StepModel = Annotated[ReachModel | HoldModel | BoilModel, Field(discriminator="kind")]


class ProfileModel(Model):
    name: Annotated[
        str, plain_pattern(r"[a-z0-9_-]+", 'a profile name is lowercase letters, digits, "-" or "_" (like "caramel")')
    ]
    title: str = ""
    description: str = ""
    steps: list[StepModel] = Field(..., min_length=1)

    def build(self) -> Profile:
        return Profile(self.name, self.title or self.name, tuple(s.build() for s in self.steps), self.description)


def load_profile(path: Path) -> Profile:
    data = read_toml(path)
    try:
        model = ProfileModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(str(path), exc, ProfileModel)) from None
    if model.name != path.stem:
        raise ConfigError([f"{path}: name: {model.name!r} must match the file name {path.stem!r}"])
    return model.build()


def load_profiles(extra_dirs: list[Path] | tuple[Path, ...] = ()) -> dict[str, Profile]:
    """Built-in profiles, then each extra folder's (a later one overrides by name)."""
    profiles: dict[str, Profile] = {}
    problems: list[str] = []
    for folder in (builtin_profiles_dir(), *extra_dirs):
        if not folder.is_dir():
            problems.append(f"{folder}: no such folder of profiles")
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                profiles[path.stem] = load_profile(path)
            except ConfigError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return profiles


__all__ = ["Step", "load_profile", "load_profiles"]
