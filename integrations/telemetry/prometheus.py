"""Prometheus over its HTTP API (PromQL `query_range`).

One query per service: the raw samples of every series carrying the service label (a range
vector, so counters are differentiated from real samples, not from step-aligned lookups),
put on one time grid and aggregated by metric name: gauges averaged across instances,
counters turned into per-second rates and summed. Histogram buckets are skipped: their
`_sum`/`_count` rates carry the signal at a fraction of the series.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

import numpy as np

from integrations.telemetry.base import (
    MetricsResult,
    QueryInfo,
    Series,
    Window,
)
from integrations.telemetry.http import HttpSource, QueryFailed, get_json

COUNTER_SUFFIXES = ("_total", "_count", "_sum")
MAX_POINTS = 300


class PrometheusSource(HttpSource):
    name = "prometheus"

    def link(self, expr: str, window: Window) -> str:
        span = max(60, int(window.end_s - window.start_s))
        params = {"g0.expr": expr, "g0.tab": "0", "g0.range_input": f"{span}s",
                  "g0.end_input": window.end.strftime("%Y-%m-%d %H:%M:%S")}
        return f"{self.base_url}/graph?{urlencode(params)}"

    def step(self, window: Window) -> int:
        return max(15, int((window.end_s - window.start_s) / MAX_POINTS))

    async def services(self, window: Window) -> list[str]:
        return await self.label_values(f"/api/v1/label/{self.service_label}/values",
                                       {"start": window.start_s, "end": window.end_s})

    async def raw(self, expr: str, window: Window) -> tuple[QueryInfo, list[Any]]:
        """Raw samples of `expr` over the window (an instant query of a range vector)."""
        span = max(1, int(window.end_s - window.start_s))
        info = QueryInfo(expr, link=self.link(expr, window))
        try:
            body = await get_json(self.client, "/api/v1/query", {
                "query": f"{expr}[{span}s]", "time": window.end_s})
        except QueryFailed as exc:
            info.status, info.error = "error", str(exc)
            return info, []
        if body.get("status") != "success":
            info.status, info.error = "error", str(body.get("error", "query failed"))
            return info, []
        result = body.get("data", {}).get("result", [])
        if not result:
            info.status = "empty"
        return info, result

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        expr = f'{{{self.service_label}="{_escape(service)}"}}'
        info, result = await self.raw(expr, window)
        grid = float(self.step(window))
        grouped: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        for item in result:
            name = str(item.get("metric", {}).get("__name__", ""))
            if not name or name.endswith("_bucket"):
                continue
            values = item.get("values") or []
            if len(values) < 2:
                continue
            t = np.array([float(p[0]) for p in values])
            v = np.array([_float(p[1]) for p in values])
            if name.endswith(COUNTER_SUFFIXES):
                t, v = t[1:], _rate(t, v)
            grouped[name].append(_bucket(t, v, window.start_s, grid))
        series = []
        for name, parts in sorted(grouped.items()):
            t, v = _align(parts, sum_up=name.endswith(COUNTER_SUFFIXES))
            series.append(Series(service, name.removesuffix("_total"), t, v))
        return MetricsResult(info, series)



def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _rate(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    delta = np.diff(v)
    delta = np.where(delta < 0, v[1:], delta)  # a counter reset starts again from zero
    dt = np.diff(t)
    return np.asarray(np.where(dt > 0, delta / np.where(dt > 0, dt, 1), np.nan), dtype=float)


def _bucket(t: np.ndarray, v: np.ndarray, start: float, step: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Average samples into grid cells, so instances scraped at different offsets line up."""
    cells = np.floor((t - start) / step).astype(np.int64)
    keys, inverse = np.unique(cells, return_inverse=True)
    sums = np.bincount(inverse, weights=np.nan_to_num(v), minlength=keys.size)
    counts = np.bincount(inverse, weights=np.isfinite(v).astype(float), minlength=keys.size)
    with np.errstate(all="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    return start + keys * step, means


def _align(parts: list[tuple[np.ndarray, np.ndarray]], *, sum_up: bool
           ) -> tuple[np.ndarray, np.ndarray]:
    times = np.unique(np.concatenate([t for t, _ in parts]))
    stacked = np.full((len(parts), times.size), np.nan)
    for row, (t, v) in enumerate(parts):
        stacked[row, np.searchsorted(times, t)] = v
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            merged = np.nansum(stacked, axis=0) if sum_up else np.nanmean(stacked, axis=0)
    if sum_up:
        merged[np.all(np.isnan(stacked), axis=0)] = np.nan
    return times, np.asarray(merged, dtype=float)
