"""Loki over its HTTP API (LogQL `query_range`): error logs of a service."""

from __future__ import annotations

import json
from typing import Any

import httpx

from integrations.telemetry.base import (
    EventsResult,
    LogLine,
    LogsResult,
    MetricsResult,
    QueryInfo,
    TracesResult,
    Window,
)
from integrations.telemetry.http import QueryFailed, get_json

LEVEL_FILTERS = {
    "error": "(?i)(error|fatal|panic|exception|critical)",
    "warning": "(?i)(warn|error|fatal|panic|exception|critical)",
}


class LokiSource:
    name = "loki"

    def __init__(self, base_url: str, *, service_label: str = "service",
                 client: httpx.AsyncClient | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_label = service_label
        self.client = client or httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def services(self, window: Window) -> list[str]:
        try:
            body = await get_json(self.client, f"/loki/api/v1/label/{self.service_label}/values",
                                  {"start": int(window.start_s * 1e9),
                                   "end": int(window.end_s * 1e9)})
        except QueryFailed:
            return []
        return sorted(str(v) for v in body.get("data", []))

    async def topology(self, window: Window) -> dict[str, set[str]]:
        return {}

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        return MetricsResult(QueryInfo("loki has no metrics", "empty"))

    def logql(self, service: str, min_level: str) -> str:
        selector = f'{{{self.service_label}="{service}"}}'
        pattern = LEVEL_FILTERS.get(min_level)
        return f"{selector} |~ `{pattern}`" if pattern else selector

    async def logs(self, service: str, window: Window, *, min_level: str = "warning",
                   limit: int = 5000) -> LogsResult:
        query = self.logql(service, min_level)
        info = QueryInfo(query)
        try:
            body = await get_json(self.client, "/loki/api/v1/query_range", {
                "query": query, "start": int(window.start_s * 1e9),
                "end": int(window.end_s * 1e9), "limit": limit, "direction": "forward"})
        except QueryFailed as exc:
            info.status, info.error = "error", str(exc)
            return LogsResult(info)
        streams = body.get("data", {}).get("result", []) if isinstance(body, dict) else []
        lines: list[LogLine] = []
        for stream in streams:
            labels: dict[str, Any] = stream.get("stream", {})
            for ts, text in stream.get("values", []):
                lines.append(_line(float(ts) / 1e9, service, str(text), labels, min_level))
        lines.sort(key=lambda line: line.ts)
        if not lines:
            info.status = "empty"
        return LogsResult(info, lines[:limit], truncated=len(lines) >= limit)

    async def traces(self, service: str, window: Window) -> TracesResult:
        return TracesResult(QueryInfo("loki has no traces", "empty"))

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        return EventsResult(QueryInfo("loki has no change events", "empty"))


def _line(ts: float, service: str, text: str, labels: dict[str, Any], default: str) -> LogLine:
    level = str(labels.get("level") or labels.get("detected_level") or "")
    message = text
    attributes: dict[str, Any] = {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            message = str(parsed.get("message") or parsed.get("msg") or text)
            level = level or str(parsed.get("level") or parsed.get("severity") or "")
            attributes = {k: v for k, v in parsed.items() if k not in ("message", "msg")}
    return LogLine(ts, service, (level or default).lower(), message, attributes)
