"""Prometheus over its HTTP API, read the way its exporters mean their metrics.

A service is the value of one label. Which label is decided per alert: the configured list
(`NIGHTOWL_SERVICE_LABELS`, default service, app, job, container, pod) is walked in order and
the first label the alert itself carries wins, so a node_exporter alert (`job="node"`) is
read under `job`, a Kubernetes one under `container` (`for_alert`).

For a service, two discovery calls list the metric and label names under its selector; then
each recognised signal is one `query_range` (`promql.recipes`: CPU as a busy share, memory
against its limit, latency as a quantile...). Each series keeps its own expression, unit and
link, so evidence opens the query it was judged on, over the incident window. A service with
no series at all is an "empty" result that says which selector found nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import numpy as np

from integrations.telemetry.base import (
    ChangeEvent,
    EventsResult,
    MetricsResult,
    QueryInfo,
    Series,
    Window,
)
from integrations.telemetry.http import HttpSource, QueryFailed, get_json
from integrations.telemetry.promql import Recipe, recipes, selector

log = logging.getLogger(__name__)

MAX_POINTS = 300
PARALLEL = 6
DEFAULT_SERVICE_LABELS = ("service", "app", "job", "container", "pod")
# Exporters' own jobs name the exporter, not the thing it watches: look past them.
EXPORTER_JOBS = ("kube-state-metrics", "cadvisor", "kubelet", "kubernetes-nodes-cadvisor",
                 "blackbox", "pushgateway")
SCOPE_LABELS = ("namespace",)  # kept from the alert on its own service's queries


class PrometheusSource(HttpSource):
    name = "prometheus"

    def __init__(self, base_url: str, *, service_label: str = "service",
                 client: httpx.AsyncClient | None = None, timeout: float = 10.0,
                 scope: Mapping[str, str] | None = None) -> None:
        super().__init__(base_url, service_label=service_label, client=client, timeout=timeout)
        self.scope = dict(scope or {})  # extra matchers on the alerting service's queries
        self.focus: str | None = None  # the alerting service (scope applies to it only)
        self.empty: dict[str, str] = {}  # service -> the selector that found no series

    # ---- which label names a service -------------------------------------------------------

    def for_alert(self, labels: Mapping[str, str], *,
                  service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS
                  ) -> tuple[PrometheusSource, str | None]:
        """A view of this Prometheus keyed by the label the alert's own labels pick, and the
        alerting service's name under it (None when the alert carries none of them)."""
        label, service = pick_service_label(labels, service_labels)
        view = PrometheusSource(self.base_url, service_label=label or self.service_label,
                                client=self.client,
                                scope={k: labels[k] for k in SCOPE_LABELS
                                       if labels.get(k) and k != label})
        view.focus = service
        return view, service

    async def label_sets(self, matchers: Mapping[str, str], *, limit: int = 20
                         ) -> list[dict[str, str]]:
        """The label sets of a few series matching `matchers` over the last hour."""
        now = time.time()
        try:
            body = await get_json(self.client, "/api/v1/series", {
                "match[]": selector(dict(matchers)), "start": now - 3600, "end": now,
                "limit": limit})
        except QueryFailed:
            return []
        return [{str(k): str(v) for k, v in item.items()} for item in
                (body.get("data") or [])[:limit] if isinstance(item, dict)]

    # ---- protocol ----------------------------------------------------------------------------

    def link(self, expr: str, window: Window) -> str:
        span = max(60, int(window.end_s - window.start_s))
        params = {"g0.expr": expr, "g0.tab": "0", "g0.range_input": f"{span}s",
                  "g0.end_input": window.end.strftime("%Y-%m-%d %H:%M:%S")}
        return f"{self.base_url}/graph?{urlencode(params)}"

    def step(self, window: Window) -> int:
        return max(15, int((window.end_s - window.start_s) / MAX_POINTS))

    def rate_window(self, window: Window) -> str:
        # At least two minutes: enough samples for rate() at a one-minute scrape interval.
        return f"{max(120, 2 * self.step(window))}s"

    async def services(self, window: Window) -> list[str]:
        return await self.label_values(f"/api/v1/label/{self.service_label}/values",
                                       {"start": window.start_s, "end": window.end_s})

    def matchers(self, service: str) -> dict[str, str]:
        extra = self.scope if service == self.focus else {}
        return {self.service_label: service, **extra}

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        matchers = self.matchers(service)
        where = selector(matchers)
        info = QueryInfo(where, link=self.link(where, window))
        span = {"match[]": where, "start": window.start_s, "end": window.end_s}
        try:
            names_body, labels_body = await asyncio.gather(
                get_json(self.client, "/api/v1/label/__name__/values", span),
                get_json(self.client, "/api/v1/labels", span))
        except QueryFailed as exc:
            info.status, info.error = "error", str(exc)
            return MetricsResult(info)
        names = {str(n) for n in names_body.get("data") or []}
        labels = {str(n) for n in labels_body.get("data") or []}
        if not names:
            info.status = "empty"
            info.error = f"no series for {service} under {where} in the window"
            self.empty[service] = where
            return MetricsResult(info)
        plan = recipes(names, labels, matchers, self.rate_window(window))
        if not plan:
            info.status = "empty"
            info.error = (f"{len(names)} metrics under {where}, none of them a signal nightowl "
                          "reads (exporter internals only)")
            return MetricsResult(info)
        gate = asyncio.Semaphore(PARALLEL)

        async def run(recipe: Recipe) -> Series | str | None:
            async with gate:
                return await self._range(service, recipe, window)

        outcomes = await asyncio.gather(*(run(r) for r in plan))
        series = [o for o in outcomes if isinstance(o, Series)]
        errors = [o for o in outcomes if isinstance(o, str)]
        if errors and not series:
            info.status, info.error = "error", errors[0]
        elif not series:
            info.status = "empty"
            info.error = f"no samples for {service} under {where} in the window"
            self.empty[service] = where
        return MetricsResult(info, series)

    async def _range(self, service: str, recipe: Recipe, window: Window) -> Series | str | None:
        """One recipe's series (the first, as recipes aggregate to one), an error, or None."""
        try:
            body = await get_json(self.client, "/api/v1/query_range", {
                "query": recipe.expr, "start": window.start_s, "end": window.end_s,
                "step": self.step(window)})
        except QueryFailed as exc:
            return f"{recipe.label}: {exc}"
        if body.get("status") != "success":
            return f"{recipe.label}: {body.get('error', 'query failed')}"
        result = body.get("data", {}).get("result") or []
        if not result:
            return None
        values = result[0].get("values") or []
        if len(values) < 2:
            return None
        t = np.array([float(p[0]) for p in values])
        v = np.array([_float(p[1]) for p in values])
        return Series(service, recipe.metric, t, v, unit=recipe.unit, query=recipe.expr,
                      link=self.link(recipe.expr, window), label=recipe.label)

    async def query(self, expr: str, window: Window) -> tuple[QueryInfo, list[dict[str, Any]]]:
        """Any expression over the window (the alert's own, for instance), as a range query."""
        info = QueryInfo(expr, link=self.link(expr, window))
        try:
            body = await get_json(self.client, "/api/v1/query_range", {
                "query": expr, "start": window.start_s, "end": window.end_s,
                "step": self.step(window)})
        except QueryFailed as exc:
            info.status, info.error = "error", str(exc)
            return info, []
        if body.get("status") != "success":
            info.status, info.error = "error", str(body.get("error", "query failed"))
            return info, []
        result = body.get("data", {}).get("result") or []
        if not result:
            info.status = "empty"
        return info, result

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        """Container restarts from kube-state-metrics, OOMKilled ones said so."""
        restarts = "kube_pod_container_status_restarts_total"
        where = selector({self.service_label: service} if service else {})
        expr = f"increase({restarts}{where}[{self.rate_window(window)}]) > 0"
        info, result = await self.query(expr, window)
        if info.status == "error":
            return EventsResult(info)
        _, oom = await self.query(
            'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1', window)
        oomed = {(r["metric"].get("namespace"), r["metric"].get("pod"),
                  r["metric"].get("container")) for r in oom}
        events = []
        for item in result:
            labels = item.get("metric", {})
            owner = labels.get(self.service_label) or labels.get("container") or "?"
            key = (labels.get("namespace"), labels.get("pod"), labels.get("container"))
            reason = " (last terminated: OOMKilled)" if key in oomed else ""
            times = [float(p[0]) for p in item.get("values") or []]
            if times:
                events.append(ChangeEvent(times[0], owner, "restart",
                                          f"container {labels.get('container', '?')} of pod "
                                          f"{labels.get('pod', '?')} restarted{reason}"))
        return EventsResult(info, sorted(events, key=lambda e: e.ts))


def pick_service_label(labels: Mapping[str, str], order: Sequence[str]
                       ) -> tuple[str | None, str | None]:
    """The first configured label the alert carries (an exporter's own job is passed over
    while another candidate exists), and its value."""
    present = [(label, labels[label]) for label in order if labels.get(label)]
    for label, value in present:
        if label == "job" and value in EXPORTER_JOBS and len(present) > 1:
            continue
        return label, value
    return None, None


def expression_of(generator_url: str | None) -> str | None:
    """The PromQL of an alert rule, from the `generatorURL` Prometheus puts on its alerts."""
    if not generator_url:
        return None
    try:
        query = parse_qs(urlparse(generator_url).query)
    except ValueError:
        return None
    values = query.get("g0.expr") or query.get("expr")
    return values[0].strip() if values and values[0].strip() else None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
