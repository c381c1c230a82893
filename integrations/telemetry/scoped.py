"""The telemetry for one alert: the sources, plus what the alert itself tells about reading them.

`production_telemetry` (bot/wiring.py) and `nightowl investigate --prometheus` build one per
alert: Prometheus keyed by the label the alert picked, the alerting service's name under it,
the alert rule's own expression (from its `generatorURL`), and which signals have no source
at all, so an investigation can say what it could not check instead of staying silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.composite import CompositeSource
from integrations.telemetry.prometheus import (
    DEFAULT_SERVICE_LABELS,
    PrometheusSource,
    expression_of,
)


@dataclass(slots=True)
class AlertScope:
    prometheus: PrometheusSource | None = None
    service: str | None = None       # the alerting service, under prometheus.service_label
    expression: str | None = None    # the alert rule's PromQL
    coverage: list[str] = field(default_factory=list)  # "logs: not configured (LOKI_URL)"


class ScopedSource(CompositeSource):
    def __init__(self, *, scope: AlertScope, metrics: TelemetrySource | None = None,
                 logs: TelemetrySource | None = None, events: TelemetrySource | None = None,
                 topology: dict[str, set[str]] | None = None,
                 labels: Mapping[str, str] | None = None,
                 service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS) -> None:
        super().__init__(metrics=metrics, logs=logs, events=events, topology=topology)
        self.scope = scope
        self._labels = dict(labels or {})
        self._service_labels = tuple(service_labels)

    async def resolve(self) -> None:
        """An alert whose rule aggregated its service label away (`avg by (instance)`, as
        the usual HostHighCpuLoad does) still names its target: look the target's own series
        up and take the service label from them, scoped to that instance."""
        prometheus = self.scope.prometheus
        instance = self._labels.get("instance")
        if prometheus is None or self.scope.service is not None or not instance:
            return
        for labels in await prometheus.label_sets({"instance": instance}):
            view, service = prometheus.for_alert(labels | {"instance": instance},
                                                 service_labels=self._service_labels)
            if service is not None:
                view.scope["instance"] = instance
                self.scope.prometheus, self.scope.service = view, service
                self._metrics = self._events = view
                self.scope.coverage = [c for c in self.scope.coverage
                                       if "none of the service labels" not in c]
                return


def scoped(*, prometheus: PrometheusSource | None, logs: TelemetrySource | None,
           topology: dict[str, set[str]], labels: Mapping[str, str],
           generator_url: str | None,
           service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS) -> ScopedSource:
    view, service = (prometheus.for_alert(labels, service_labels=service_labels)
                     if prometheus is not None else (None, None))
    coverage = []
    if prometheus is None:
        coverage.append("metrics: not configured (PROMETHEUS_URL)")
    if logs is None:
        coverage.append("logs: not configured (LOKI_URL)")
    coverage.append("traces: no trace source is supported yet; the call graph is "
                    + ("NIGHTOWL_TOPOLOGY" if topology else "unknown (set NIGHTOWL_TOPOLOGY)"))
    if view is not None and service is None:
        coverage.append(f"the alert carries none of the service labels "
                        f"({', '.join(service_labels)}): set NIGHTOWL_SERVICE_LABELS")
    scope = AlertScope(prometheus=view, service=service,
                       expression=expression_of(generator_url), coverage=coverage)
    return ScopedSource(scope=scope, metrics=view, logs=logs, events=view, topology=topology,
                        labels=labels, service_labels=service_labels)
