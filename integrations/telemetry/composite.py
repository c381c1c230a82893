"""Several sources behind one: metrics from one, logs from another, a configured call graph."""

from __future__ import annotations

from integrations.telemetry.base import (
    EventSource,
    EventsResult,
    LogsResult,
    MetricsResult,
    QueryInfo,
    TelemetrySource,
    TracesResult,
    Window,
)


class CompositeSource:
    name = "composite"

    def __init__(self, *, metrics: TelemetrySource | None = None,
                 logs: TelemetrySource | None = None,
                 traces: TelemetrySource | None = None,
                 events: EventSource | None = None,
                 topology: dict[str, set[str]] | None = None) -> None:
        self._metrics, self._logs, self._traces, self._events = metrics, logs, traces, events
        self._topology = topology or {}

    @property
    def metrics_source(self) -> TelemetrySource | None:
        return self._metrics

    @property
    def logs_source(self) -> TelemetrySource | None:
        return self._logs

    async def services(self, window: Window) -> list[str]:
        names: set[str] = set(self._topology)
        for callees in self._topology.values():
            names.update(callees)
        for source in {id(s): s for s in (self._metrics, self._logs) if s}.values():
            names.update(await source.services(window))
        return sorted(names)

    async def topology(self, window: Window) -> dict[str, set[str]]:
        graph = {k: set(v) for k, v in self._topology.items()}
        if self._traces is not None:
            for caller, callees in (await self._traces.topology(window)).items():
                graph.setdefault(caller, set()).update(callees)
        return graph

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        if self._metrics is None:
            return MetricsResult(QueryInfo("no metrics source configured", "empty"))
        return await self._metrics.metrics(service, window)

    async def logs(self, service: str, window: Window, *, min_level: str = "warning",
                   limit: int = 5000) -> LogsResult:
        if self._logs is None:
            return LogsResult(QueryInfo("no logs source configured", "empty"))
        return await self._logs.logs(service, window, min_level=min_level, limit=limit)

    async def traces(self, service: str, window: Window) -> TracesResult:
        if self._traces is None:
            return TracesResult(QueryInfo("no traces source configured", "empty"))
        return await self._traces.traces(service, window)

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        if self._events is None:
            return EventsResult(QueryInfo("no change-event source configured", "empty"))
        return await self._events.events(window, service=service)
