"""Probe drivers: a library that turns devices into typed readings.

It never imports ``service``: the service depends on drivers, not the other way.
The one exception is ``service.core.units`` (pure, standard library only): a
duration means the same in a probe URL and in the config.
"""

from drivers.base import (
    Decoded,
    Probe,
    ProbeDown,
    ProbeError,
    ProbeEvent,
    ProbeNotice,
    ProbeUrlError,
    Reading,
    dropped_by,
)
from drivers.registry import open_probe, parse_probe_url

__all__ = [
    "Decoded",
    "Probe",
    "ProbeDown",
    "ProbeError",
    "ProbeEvent",
    "ProbeNotice",
    "ProbeUrlError",
    "Reading",
    "dropped_by",
    "open_probe",
    "parse_probe_url",
]
