"""Okta System Log (`GET /api/v1/logs`) over httpx.

The API pages with `Link: <...>; rel="next"` headers; with `until` set, the last page is the
one without a next link. Rate limits come back as `X-Rate-Limit-Remaining` and
`X-Rate-Limit-Reset` (Unix seconds): the reader waits for the reset when a page leaves no
request in the budget, and on a 429 waits and retries (bounded by `max_wait`, so a scan never
hangs on a throttled org). Authentication is an API token (`Authorization: SSWS <token>`).

401/403 mean the token is wrong or lacks `okta.logs.read`; 5xx are retried twice; anything
else, or a body that is not a JSON list, fails the read with a `SourceError` naming it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any

import httpx

from integrations.security.entities import event_time
from integrations.security.errors import SourceError
from integrations.security.types import OKTA_SYSTEMLOG, SecurityEvent, format_ts

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class OktaSource:
    name = "okta"

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        client: httpx.AsyncClient | None = None,
        page_size: int = 1000,
        max_pages: int = 200,
        max_wait: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = client
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self.skipped = 0
        self.rate_limited = 0

    async def events(
        self,
        *,
        start: datetime,
        end: datetime,
        log_types: Collection[str] | None = None,
        principal: str | None = None,
    ) -> list[SecurityEvent]:
        if log_types is not None and OKTA_SYSTEMLOG not in log_types:
            return []
        params: dict[str, str] = {
            "since": format_ts(start),
            "until": format_ts(end),
            "limit": str(self.page_size),
            "sortOrder": "ASCENDING",
        }
        if principal:
            escaped = principal.replace("\\", "\\\\").replace('"', '\\"')
            params["filter"] = f'actor.alternateId eq "{escaped}"'
        client = self._client or httpx.AsyncClient(timeout=30.0)
        try:
            return await self._read(client, params, start, end)
        finally:
            if self._client is None:
                await client.aclose()

    async def _read(
        self, client: httpx.AsyncClient, params: dict[str, str], start: datetime, end: datetime
    ) -> list[SecurityEvent]:
        self.skipped = 0
        out: list[SecurityEvent] = []
        url: str | None = f"{self.base_url}/api/v1/logs"
        query: dict[str, str] | None = params
        pages = 0
        while url is not None:
            pages += 1
            if pages > self.max_pages:
                raise SourceError(
                    f"more than {self.max_pages} pages for one window; scan a shorter window",
                    source=self.name,
                )
            response = await self._get(client, url, query)
            query = None  # the next link carries every parameter, including the cursor
            body = self._json(response)
            for record in body:
                ev = self._event(record)
                if ev is None:
                    self.skipped += 1
                elif start <= ev.ts < end:
                    out.append(ev)
            next_link = response.links.get("next", {}).get("url")
            # An empty page with a next link is Okta's polling cursor: nothing more for now.
            url = next_link if next_link and body else None
            if url is not None:
                await self._respect_budget(response)
        return out

    async def _get(
        self, client: httpx.AsyncClient, url: str, query: dict[str, str] | None
    ) -> httpx.Response:
        headers = {"Authorization": f"SSWS {self._token}", "Accept": "application/json"}
        failures = 0
        while True:
            try:
                response = await client.get(url, params=query, headers=headers)
            except httpx.HTTPError as exc:
                failures += 1
                if failures > 2:
                    raise SourceError(
                        f"cannot reach {self.base_url}: {exc}", source=self.name
                    ) from exc
                await self._sleep(1.0 * failures)
                continue
            if response.status_code == 429:
                self.rate_limited += 1
                failures += 1
                if failures > 3:
                    raise SourceError("still rate limited after 3 waits (429)", source=self.name)
                await self._sleep(self._wait_for(response))
                continue
            if response.status_code in (401, 403):
                raise SourceError(
                    f"the API token was refused ({response.status_code}); check OKTA_API_TOKEN "
                    "and that it may read the System Log",
                    source=self.name,
                )
            if response.status_code >= 500:
                failures += 1
                if failures > 2:
                    raise SourceError(
                        f"{response.status_code} from {self.base_url}", source=self.name
                    )
                await self._sleep(1.0 * failures)
                continue
            if response.status_code != 200:
                raise SourceError(
                    f"unexpected {response.status_code} from /api/v1/logs", source=self.name
                )
            return response

    def _wait_for(self, response: httpx.Response) -> float:
        reset = response.headers.get("X-Rate-Limit-Reset")
        try:
            wait = float(reset) - self._clock() if reset is not None else 1.0
        except ValueError:
            wait = 1.0
        return min(max(wait, 0.0), self.max_wait)

    async def _respect_budget(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        if remaining is not None and remaining.strip().isdigit() and int(remaining) <= 0:
            wait = self._wait_for(response)
            logger.info("okta: rate-limit budget spent, waiting %.1fs for the reset", wait)
            self.rate_limited += 1
            await self._sleep(wait)

    def _json(self, response: httpx.Response) -> list[Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceError(f"/api/v1/logs answered non-JSON: {exc}", source=self.name) from exc
        if not isinstance(body, list):
            raise SourceError(
                f"/api/v1/logs answered a JSON {type(body).__name__}, not a list",
                source=self.name,
            )
        return body

    def _event(self, record: Any) -> SecurityEvent | None:
        if not isinstance(record, dict):
            return None
        ts = event_time(OKTA_SYSTEMLOG, record)
        uuid = record.get("uuid")
        if ts is None or not isinstance(uuid, str) or not uuid:
            return None
        return SecurityEvent(id=uuid, log_type=OKTA_SYSTEMLOG, ts=ts, event=record)
