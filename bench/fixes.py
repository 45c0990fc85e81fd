"""The service's latency fixes, each one that a benchmark can leave out to show what it is worth.

The service has no switch for them (a user never wants them off); a
benchmark runs ``potwatch run`` through a launcher that calls ``disable``
before the service is imported and wired. Each name is one cause, explained in
docs/mqtt.md ("Latency"):

- ``nodelay``: TCP_NODELAY on potwatch's MQTT connections (its publisher, its
  MQTT probes): Nagle's algorithm on our side;
- ``quickack``: TCP_QUICKACK re-armed after every read on those connections:
  our delayed ACK, which the broker's Nagle waits for;
- ``stateqos``: ``<base>/cook/state`` at QoS 0, not 1: a subscriber that
  answers each state with a PUBACK delays its ACKs, and the broker's Nagle
  holds the next reading for them;
- ``switchinterval``: the interpreter's switch interval at 0.5 ms instead of
  5 ms: a message handed from one thread to another (paho's, the event
  loop's) waits for the GIL.
"""

from __future__ import annotations

from collections.abc import Callable

FIXES = ("nodelay", "quickack", "stateqos", "switchinterval")


def _without_nodelay() -> None:
    import drivers.mqtt_link as link

    link._set_nodelay = lambda *args: None


def _without_quickack() -> None:
    import drivers.mqtt_link as link

    link._rearm_quickack = lambda sock: None


def _without_stateqos() -> None:
    import service.mqtt.publisher as publisher

    publisher.COOK_STATE_QOS = 1


def _without_switchinterval() -> None:
    import service.serve as serve

    serve.prefer_latency = lambda: None


_DISABLE: dict[str, Callable[[], None]] = {
    "nodelay": _without_nodelay,
    "quickack": _without_quickack,
    "stateqos": _without_stateqos,
    "switchinterval": _without_switchinterval,
}


def parse(names: str) -> list[str]:
    """``"nodelay,quickack"`` → the names, checked; ``""`` or ``"-"``: none."""
    picked = [n.strip() for n in names.split(",") if n.strip() and n.strip() != "-"]
    unknown = [n for n in picked if n not in _DISABLE]
    if unknown:
        raise SystemExit(f"unknown fix {unknown[0]!r} (known: {', '.join(FIXES)})")
    return picked


def disable(names: str) -> None:
    """Leave out the fixes named (comma-separated) in this process."""
    for name in parse(names):
        _DISABLE[name]()
