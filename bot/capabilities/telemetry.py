"""The telemetry questions the investigator asks, for other agents: metrics, logs and traces
of one service over a window, summarised so the answer stays small.

A failed query is an answer with `status="error"` (as it is evidence for the investigator),
not a refusal; only a deployment with no telemetry at all is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from agents.sre.context import AlertContext
from bot.capabilities.errors import InvalidArgument, NotConfigured, NotFoundError
from bot.capabilities.paging import BUDGET_CHARS
from bot.capabilities.views import (
    LogLineView,
    LogsAnswer,
    MetricsAnswer,
    MetricSeriesView,
    OperationStats,
    QueryView,
    SpanView,
    TracesAnswer,
)
from bot.service import Service
from integrations.redaction import clip
from integrations.telemetry.base import QueryInfo, Series, Span, TelemetrySource, Window
from storage.errors import NotFound

MAX_MINUTES = 24 * 60
TREND_BUCKETS = 12
LEVELS = ("debug", "info", "warning", "error", "critical")


def _finite(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def summarise_series(series: Series) -> MetricSeriesView:
    values = series.v[np.isfinite(series.v)]
    trend: list[float | None] = []
    if len(series.v):
        for chunk in np.array_split(series.v, min(TREND_BUCKETS, len(series.v))):
            finite = chunk[np.isfinite(chunk)]
            trend.append(_finite(float(finite.mean())) if len(finite) else None)
    return MetricSeriesView(
        service=series.service, metric=series.metric, family=series.family,
        points=len(values),
        last=_finite(float(values[-1])) if len(values) else None,
        min=_finite(float(values.min())) if len(values) else None,
        mean=_finite(float(values.mean())) if len(values) else None,
        max=_finite(float(values.max())) if len(values) else None, trend=trend)


def operation_stats(spans: Sequence[Span]) -> list[OperationStats]:
    groups: dict[tuple[str, str], list[Span]] = {}
    for span in spans:
        groups.setdefault((span.service, span.operation), []).append(span)
    out = []
    for (service, operation), members in groups.items():
        durations = np.array([s.duration_ms for s in members], dtype=float)
        out.append(OperationStats(
            service=service, operation=operation, spans=len(members),
            errors=sum(s.status == "error" for s in members),
            p50_ms=round(float(np.percentile(durations, 50)), 3),
            p95_ms=round(float(np.percentile(durations, 95)), 3),
            max_ms=round(float(durations.max()), 3)))
    out.sort(key=lambda o: (-o.errors, -o.p95_ms))
    return out


class TelemetryQueries:
    def __init__(self, *, service: Service, default_source: TelemetrySource | None) -> None:
        self.service = service
        self.default_source = default_source

    async def _source_and_window(self, *, incident_id: int | None, minutes: int | None,
                                 ) -> tuple[TelemetrySource, Window]:
        """The incident's own telemetry and window when one is named, else the deployment's
        telemetry over the last `minutes`."""
        if minutes is not None and not 1 <= minutes <= MAX_MINUTES:
            raise InvalidArgument(f"minutes must be between 1 and {MAX_MINUTES}")
        now = datetime.now(UTC)
        if incident_id is not None:
            try:
                incident = await self.service.store.incident(incident_id)
            except NotFound:
                raise NotFoundError(f"no incident {incident_id}",
                                    next_tool="list_incidents") from None
            alerts = await self.service.store.incident_alerts(incident_id)
            source = (self.service.telemetry_for(incident, alerts)
                      if self.service.telemetry_for else None)
            if source is None:
                raise NotConfigured("no telemetry source serves this incident (set "
                                    "PROMETHEUS_URL and/or LOKI_URL)")
            # The window the investigator looked at: from before the alert fired to after it.
            context = AlertContext.from_incident(
                incident, alerts, lookback_minutes=minutes or self.service.lookback_minutes)
            return source, context.window
        if self.default_source is None:
            raise NotConfigured("no telemetry source is configured: set PROMETHEUS_URL "
                                "and/or LOKI_URL, or pass incident_id for an incident's own "
                                "telemetry")
        return self.default_source, Window(now - timedelta(minutes=minutes or 60), now)

    @staticmethod
    def _query_view(info: QueryInfo, window: Window) -> QueryView:
        return QueryView(query=clip(info.query, 500), status=info.status, error=info.error,
                         link=info.link, window_start=window.start, window_end=window.end)

    async def query_metrics(self, service: str, *, metric: str | None = None,
                            incident_id: int | None = None,
                            minutes: int | None = None) -> MetricsAnswer:
        source, window = await self._source_and_window(incident_id=incident_id,
                                                       minutes=minutes)
        result = await source.metrics(service, window)
        series = [s for s in result.series
                  if metric is None or metric.lower() in s.metric.lower()]
        views = [summarise_series(s) for s in series]
        answer = MetricsAnswer(query=self._query_view(result.info, window), series=views,
                               series_total=len(views))
        while len(answer.model_dump_json()) > BUDGET_CHARS and answer.series:
            answer.series.pop()
        return answer

    async def search_logs(self, service: str, *, contains: str | None = None,
                          level: str = "warning", incident_id: int | None = None,
                          minutes: int | None = None, limit: int = 50) -> LogsAnswer:
        if level not in LEVELS:
            raise InvalidArgument(f"level must be one of {', '.join(LEVELS)}")
        if not 1 <= limit <= 200:
            raise InvalidArgument("limit must be between 1 and 200")
        source, window = await self._source_and_window(incident_id=incident_id,
                                                       minutes=minutes)
        result = await source.logs(service, window, min_level=level, limit=5000)
        needle = contains.lower() if contains else None
        lines = [line for line in result.lines
                 if needle is None or needle in line.message.lower()]
        lines.sort(key=lambda line: line.ts, reverse=True)
        views = [LogLineView(ts=datetime.fromtimestamp(line.ts, UTC), service=line.service,
                             level=line.level, message=clip(line.message, 400))
                 for line in lines[:limit]]
        answer = LogsAnswer(query=self._query_view(result.info, window), lines=views,
                            lines_total=len(lines))
        while len(answer.model_dump_json()) > BUDGET_CHARS and answer.lines:
            answer.lines.pop()
        return answer

    async def search_traces(self, service: str, *, only_errors: bool = False,
                            min_duration_ms: float | None = None,
                            incident_id: int | None = None,
                            minutes: int | None = None) -> TracesAnswer:
        if min_duration_ms is not None and min_duration_ms < 0:
            raise InvalidArgument("min_duration_ms must not be negative")
        source, window = await self._source_and_window(incident_id=incident_id,
                                                       minutes=minutes)
        result = await source.traces(service, window)
        spans = [s for s in result.spans
                 if (not only_errors or s.status == "error")
                 and (min_duration_ms is None or s.duration_ms >= min_duration_ms)]
        examples = sorted(spans, key=lambda s: (s.status != "error", -s.duration_ms))[:10]
        answer = TracesAnswer(
            query=self._query_view(result.info, window), operations=operation_stats(spans),
            examples=[SpanView(trace_id=s.trace_id, span_id=s.span_id, parent_id=s.parent_id,
                               service=s.service, operation=s.operation,
                               start=datetime.fromtimestamp(s.start, UTC),
                               duration_ms=round(s.duration_ms, 3), status=s.status)
                      for s in examples],
            spans_total=len(spans))
        while len(answer.model_dump_json()) > BUDGET_CHARS and (answer.examples
                                                                 or answer.operations):
            (answer.examples or answer.operations).pop()
        return answer
