"""One state machine per step kind; each file owns its stages and transitions."""

from service.core.steps.base import Calibrated, ClearAlert, RaiseAlert, Signal, StepMachine
from service.core.steps.boil import BoilMachine
from service.core.steps.hold import HoldMachine
from service.core.steps.reach import ReachMachine

__all__ = [
    "BoilMachine",
    "Calibrated",
    "ClearAlert",
    "HoldMachine",
    "RaiseAlert",
    "ReachMachine",
    "Signal",
    "StepMachine",
]
