"""Sentry's Web API: unresolved issues of an organisation with their hourly event counts.

Uses `GET /api/0/organizations/{org}/issues/?statsPeriod=24h` (each issue carries
`stats["24h"]`, a list of `[unix_hour, count]`) and follows the `Link: ...; rel="next";
results="true"` header for more pages. Sentry already groups events into issues, so an issue
is a signature; its project slug names the service.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx

from integrations.error_sources.base import ScanResult, ScanWindow, SignatureCount
from integrations.errors import RemoteError
from integrations.redaction import clip
from integrations.telemetry.http import QueryFailed, get

_NEXT = re.compile(r'<[^>]*[?&]cursor=([^&>]+)[^>]*>;\s*rel="next";\s*results="true"')
HOUR = 3600.0


class SentrySource:
    name = "sentry"

    def __init__(self, base_url: str, *, org: str, token: str,
                 client: httpx.AsyncClient | None = None, max_pages: int = 10,
                 timeout: float = 15.0) -> None:
        self.org = org
        self.max_pages = max_pages
        self.client = client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout,
            headers={"Authorization": f"Bearer {token}"})

    async def aclose(self) -> None:
        await self.client.aclose()

    async def scan(self, window: ScanWindow) -> ScanResult:
        period = "24h" if window.baseline_hours + window.recent_hours <= 24 else "14d"
        params: dict[str, Any] = {"statsPeriod": period, "query": "is:unresolved",
                                  "limit": 100, "sort": "freq"}
        signatures: list[SignatureCount] = []
        truncated = False
        for page in range(self.max_pages):
            try:
                response = await get(self.client, f"/api/0/organizations/{self.org}/issues/",
                                     params)
                body = response.json()
            except QueryFailed as exc:
                raise RemoteError(f"Sentry: {exc}") from exc
            except ValueError as exc:
                raise RemoteError("Sentry: the answer is not JSON") from exc
            if not isinstance(body, list):
                raise RemoteError(f"Sentry: expected a list of issues, got {type(body).__name__}")
            for issue in body:
                parsed = _issue(issue, window, period)
                if parsed is not None:
                    signatures.append(parsed)
            match = _NEXT.search(response.headers.get("link", ""))
            if match is None:
                break
            params["cursor"] = match.group(1)
            truncated = page == self.max_pages - 1
        return ScanResult("sentry", signatures, truncated=truncated)


def _issue(issue: Any, window: ScanWindow, period: str) -> SignatureCount | None:
    if not isinstance(issue, dict) or "id" not in issue:
        return None
    bucket = HOUR if period == "24h" else 24 * HOUR
    baseline = recent = 0
    split, start, end = (window.split.timestamp(), window.start.timestamp(),
                         window.end.timestamp())
    for point in (issue.get("stats") or {}).get(period) or []:
        try:
            ts, count = float(point[0]), int(point[1])
        except (TypeError, ValueError, IndexError):
            continue
        if ts + bucket <= start or ts >= end:
            continue
        # A bucket straddling the split counts as recent: that is where a surge shows first.
        if ts + bucket > split:
            recent += count
        else:
            baseline += count
    project = issue.get("project") or {}
    first_seen = _parse_time(issue.get("firstSeen"))
    return SignatureCount(
        source="sentry", signature=f"sentry-{issue['id']}",
        service=str(project.get("slug") or "unknown"),
        title=clip(str(issue.get("title") or issue.get("culprit") or issue["id"]), 200),
        example=clip(str(issue.get("culprit") or ""), 300),
        baseline=baseline, recent=recent, level=str(issue.get("level") or "error"),
        first_seen=first_seen, link=issue.get("permalink"))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
