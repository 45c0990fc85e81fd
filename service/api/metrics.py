"""``/metrics``: Prometheus text, collected from the hub at scrape time (no shared counters to update)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from service.runtime.hub import Hub
from service.runtime.probes import DroppedInput

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("waiting", "ok", "lost", "fault")


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        kitchen = self.hub.kitchen
        temp = GaugeMetricFamily("potwatch_probe_temperature_celsius", "Last reading of each probe", labels=["probe"])
        state = GaugeMetricFamily("potwatch_probe_state", "1 for the probe's current state", labels=["probe", "state"])
        for health in kitchen.probes.values():
            if health.celsius is not None:
                temp.add_metric([health.id], health.celsius)
            for name in STATES:
                state.add_metric([health.id, name], 1.0 if health.state.value == name else 0.0)
        yield temp
        yield state
        active = GaugeMetricFamily("potwatch_alerts_active", "Active (unacknowledged) alerts", labels=["level"])
        for level in ("info", "warning", "critical"):
            active.add_metric([level], sum(1 for a in kitchen.active_alerts() if a.level.value == level))
        yield active
        cooks = GaugeMetricFamily("potwatch_cooks_running", "Cooks running")
        cooks.add_metric([], sum(1 for c in kitchen.cooks.values() if c.ended_at is None))
        yield cooks
        handled = CounterMetricFamily("potwatch_events_handled", "Events applied to the tracker")
        handled.add_metric([], self.hub.handled)
        yield handled
        streams = GaugeMetricFamily("potwatch_sse_clients", "Phones and other clients following /api/events")
        streams.add_metric([], self.hub.bus.subscribers)
        yield streams
        dropped = CounterMetricFamily("potwatch_readings_dropped", "Readings dropped because the hub was full")
        dropped.add_metric([], self.hub.dropped)
        yield dropped


class DroppedCollector(Collector):
    """Garbage each probe's driver dropped: a flood on a serial line or a topic shows here."""

    def __init__(self, dropped: DroppedInput) -> None:
        self.dropped = dropped

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "potwatch_probe_input_dropped",
            "Input a probe driver dropped: unreadable, suspect or overlong lines or payloads; chunks refused",
            labels=["probe"],
        )
        for probe_id, count in sorted(self.dropped.counts().items()):
            family.add_metric([probe_id], count)
        yield family


def metrics_text(hub: Hub, more: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The hub's metrics and the parts' (``more``: the alarm channels' counters)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub))
    for collector in more:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE
