"""Loki over its HTTP API (LogQL `query_range`): error logs of a service."""

from __future__ import annotations

import json
from typing import Any

from integrations.telemetry.base import (
    LogLine,
    LogsResult,
    QueryInfo,
    Window,
)
from integrations.telemetry.http import HttpSource, QueryFailed, get_json

LEVEL_FILTERS = {
    "error": "(?i)(error|fatal|panic|exception|critical)",
    "warning": "(?i)(warn|error|fatal|panic|exception|critical)",
}


class LokiSource(HttpSource):
    name = "loki"

    async def services(self, window: Window) -> list[str]:
        return await self.label_values(f"/loki/api/v1/label/{self.service_label}/values",
                                       {"start": int(window.start_s * 1e9),
                                        "end": int(window.end_s * 1e9)})

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
