"""slack_sdk's own retry handlers, for what is safe to repeat.

A 429 means Slack did nothing: every method is retried after `Retry-After` (ChannelPacer
still paces each channel and retries what the SDK gives up on). A 5xx or a dropped connection
may come after Slack already kept a message: methods that create something are NOT repeated
blindly; the dispatcher records each post as attempted and, before posting again, finds the
message by its metadata (bot/dispatcher.py). Edits and reads are repeated freely.
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

CREATING = ("chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal",
            "files.upload", "chat.scheduleMessage")


def _creates(request: HttpRequest) -> bool:
    return request.url.split("?")[0].rstrip("/").endswith(CREATING)


class _ServerErrors(AsyncServerErrorRetryHandler):
    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None,
                               error: Exception | None = None) -> bool:
        return not _creates(request) and await super()._can_retry_async(
            state=state, request=request, response=response, error=error)


class _ConnectionErrors(AsyncConnectionErrorRetryHandler):
    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None,
                               error: Exception | None = None) -> bool:
        return not _creates(request) and await super()._can_retry_async(
            state=state, request=request, response=response, error=error)


def retry_handlers() -> list[AsyncRetryHandler]:
    return [AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            _ServerErrors(max_retry_count=2), _ConnectionErrors(max_retry_count=2)]
