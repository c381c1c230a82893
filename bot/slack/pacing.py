"""Per-channel pacing of Slack writes: about one message per second per channel, and 429s
retried after `Retry-After`, so a storm delays messages but never drops them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from bot.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RATE_LIMIT_RETRIES = 20


class ChannelPacer:
    def __init__(self, *, per_second: float, metrics: Metrics) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.metrics = metrics
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._next_at: dict[str, float] = {}

    async def call(self, channel: str, method: str, send: Callable[[], Awaitable[T]]) -> T:
        async with self._locks[channel]:
            for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
                wait = self._next_at.get(channel, 0.0) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.metrics.slack_calls.inc(method=method)
                try:
                    result = await send()
                except SlackApiError as exc:
                    error = str(exc.response.get("error") or exc.response.status_code)
                    self.metrics.slack_errors.inc(method=method, error=error)
                    if exc.response.status_code != 429 or attempt == MAX_RATE_LIMIT_RETRIES:
                        raise
                    retry_after = float(exc.response.headers.get("Retry-After", "1") or 1)
                    log.warning("slack %s rate-limited in %s; retrying in %.1fs",
                                method, channel, retry_after)
                    self._next_at[channel] = time.monotonic() + retry_after
                    continue
                self._next_at[channel] = time.monotonic() + self.interval
                return result
        raise AssertionError("unreachable")
