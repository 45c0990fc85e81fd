"""The service's latency fixes, each one that a benchmark can leave out to show what it is worth.

The service has no switch for them (a user never wants them off); a
benchmark runs ``potwatch run`` through a launcher that calls ``disable``
before the service is imported and wired. Each name is one cause, explained in
docs/mqtt.md ("Latency"):

- ``nodelay``: TCP_NODELAY on potwatch's MQTT connections (its publisher, its
  MQTT probes): Nagle's algorithm on our side;
- ``quickack``: TCP_QUICKACK re-armed after every read on those connections:
  our delayed ACK, which the broker's Nagle waits for;
- ``reading-qos1``: readings published at QoS 1 like everything else: a
  subscriber's delayed ACK after a QoS 1 message, which the broker's Nagle
  towards that subscriber waits for.
"""

from __future__ import annotations

from collections.abc import Callable

FIXES = ("nodelay", "quickack", "reading-qos1")


def _without_nodelay() -> None:
    import drivers.mqtt_link as link

    link.set_nodelay = lambda sock: None


def _without_quickack() -> None:
    import drivers.tcp_options as options

    options.QuickAck.rearm = lambda self, sock: None  # type: ignore[method-assign]


def _without_reading_qos1() -> None:
    import service.mqtt.publisher as publisher

    publisher.PROBE_QOS = 0


_DISABLE: dict[str, Callable[[], None]] = {
    "nodelay": _without_nodelay,
    "quickack": _without_quickack,
    "reading-qos1": _without_reading_qos1,
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
