"""The HTTP boundary for telemetry sources: the only place that retries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from integrations.telemetry.base import (
    EventsResult,
    LogsResult,
    MetricsResult,
    QueryInfo,
    TracesResult,
    Window,
)

log = logging.getLogger(__name__)

RETRIES = 2


class QueryFailed(Exception):
    """A query failed after retries; the message is safe to show (no credentials)."""


async def get_json(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> Any:
    response = await get(client, path, params)
    try:
        return response.json()
    except ValueError as exc:
        raise QueryFailed("the answer is not JSON") from exc


async def get(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> httpx.Response:
    """GET with retries on timeouts, transport errors, 429 and 5xx; 4xx fails at once."""
    delay = 0.2
    for attempt in range(RETRIES + 1):
        try:
            response = await client.get(path, params=params)
        except httpx.TimeoutException as exc:
            error = f"timed out after {client.timeout.read}s"
            retry = True
            cause: Exception = exc
        except httpx.TransportError as exc:
            error = f"cannot reach {client.base_url.host}: {type(exc).__name__}"
            retry = True
            cause = exc
        else:
            if response.status_code >= 500 or response.status_code == 429:
                error = f"HTTP {response.status_code}"
                retry = True
                cause = QueryFailed(error)
            elif response.status_code >= 400:
                raise QueryFailed(f"HTTP {response.status_code}: {_reason(response)}")
            else:
                return response
        if not retry or attempt == RETRIES:
            raise QueryFailed(error) from cause
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:200]
    return str(body)[:200]


class HttpSource:
    """What every HTTP telemetry adapter shares: a base URL, an injectable client, the label
    that names a service, and an honest "empty" answer for the signals it does not carry."""

    name = "http"

    def __init__(self, base_url: str, *, service_label: str = "service",
                 client: httpx.AsyncClient | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_label = service_label
        self.client = client or httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def label_values(self, path: str, params: dict[str, Any]) -> list[str]:
        try:
            body = await get_json(self.client, path, params)
        except QueryFailed:
            return []
        return sorted(str(v) for v in body.get("data", []))

    async def topology(self, window: Window) -> dict[str, set[str]]:
        return {}

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        return MetricsResult(QueryInfo(f"{self.name} has no metrics", "empty"))

    async def logs(self, service: str, window: Window, *, min_level: str = "warning",
                   limit: int = 5000) -> LogsResult:
        return LogsResult(QueryInfo(f"{self.name} has no logs", "empty"))

    async def traces(self, service: str, window: Window) -> TracesResult:
        return TracesResult(QueryInfo(f"{self.name} has no traces", "empty"))

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        return EventsResult(QueryInfo(f"{self.name} has no change events", "empty"))
