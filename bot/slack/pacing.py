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
        self._ids: dict[str, str] = {}  # channel name -> the id Slack answered with

    def same_channel(self, name: str, channel_id: str) -> None:
        """`name` (#alerts) and `channel_id` (C0123) are one channel: pace them as one lane.
        Slack limits a channel however it is addressed, and an incident's first message goes
        to the routed name while its edits and replies use the id."""
        if not name or not channel_id or name == channel_id or self._ids.get(name) == channel_id:
            return
        self._ids[name] = channel_id
        self._next_at[channel_id] = max(self._next_at.get(channel_id, 0.0),
                                        self._next_at.get(name, 0.0))
        if channel_id not in self._locks:
            self._locks[channel_id] = self._locks[name]

    def channel_id(self, name: str) -> str | None:
        """The id Slack answered for `name`, once a message went there."""
        return self._ids.get(name)

    def _lane(self, channel: str) -> str:
        return self._ids.get(channel, channel)

    async def call(self, channel: str, method: str, send: Callable[[], Awaitable[T]]) -> T:
        async with self._locks[self._lane(channel)]:
            for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
                wait = self._next_at.get(self._lane(channel), 0.0) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.metrics.slack_calls.inc(method=method)
                try:
                    result = await send()
                except SlackApiError as exc:
                    status, error, retry_after = _answer(exc)
                    self.metrics.slack_errors.inc(method=method, error=error)
                    if status != 429 or attempt == MAX_RATE_LIMIT_RETRIES:
                        raise
                    log.warning("slack %s rate-limited in %s; retrying in %.1fs",
                                method, channel, retry_after)
                    self._next_at[self._lane(channel)] = time.monotonic() + retry_after
                    continue
                self._next_at[self._lane(channel)] = time.monotonic() + self.interval
                return result
        raise AssertionError("unreachable")


def _answer(exc: SlackApiError) -> tuple[int | None, str, float]:
    """Status, error and Retry-After of a failed call, whatever answered it. Slack answers
    JSON; a proxy or load balancer in front of it answers a page: slack_sdk then hands us a
    response whose data is a string, or the raw HTTP response when the body claimed to be
    JSON and was not. Neither may turn a Slack error into a crash of the pacer."""
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None) or {}
    try:
        retry_after = max(0.0, min(float(headers.get("Retry-After") or 1), 300.0))
    except (TypeError, ValueError):  # an HTTP date, or nonsense: wait the default second
        retry_after = 1.0
    code = status if isinstance(status, int) else None
    return code, str(error or code or "no_answer"), retry_after
