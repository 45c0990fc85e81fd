"""How soon a thread waiting for the interpreter gets it: 0.5 ms, not CPython's 5 ms.

An MQTT message crosses threads twice in the service: paho's network thread
of the probe hands it to the event loop, and the loop hands the publish to
paho's thread of the publisher, which writes the socket. A thread woken
while another runs Python code waits for the GIL until that one blocks or
the switch interval passes (``sys.getswitchinterval()``, 5 ms by default),
so each hand-over can cost up to 5 ms whenever the loop is busy (an SSE
write, the history's hook, a second probe). The service's threads are few
and mostly asleep, so a shorter interval costs nothing measurable and keeps
each hand-over well under a millisecond (docs/mqtt.md, "Latency").
"""

from __future__ import annotations

import sys
from typing import Final

SWITCH_INTERVAL_S: Final = 0.0005


def prefer_latency() -> None:
    """Set the interpreter's switch interval for this process (``potwatch run`` calls it at start)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
