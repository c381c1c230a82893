"""What every webhook does before it looks at the payload, in one place: the alert webhooks
(bot/web/app.py) and the security ones (bot/web/security_webhooks.py) take a body the same way
and keep a refused one the same way.

JSON only (415), the body-size limit read as the body streams in (413, before any of it is
buffered past the limit), then the webhook token or signature (401). A body refused after
authentication is kept as a dead letter, so nothing is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.metrics import Metrics
from integrations.alerts.auth import WebhookAuth
from integrations.errors import AuthError
from storage.repository import Store

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "text/json")


class BodyTooLarge(ValueError):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def storable(body: bytes) -> str:
    """The body as text any database keeps: undecodable bytes and NUL written as escapes."""
    return body.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


@dataclass(frozen=True, slots=True)
class Delivery:
    body: bytes
    content_type: str


async def take_body(request: Request, source: str, *, auth: WebhookAuth, metrics: Metrics,
                    max_body_bytes: int) -> Delivery | JSONResponse:
    """The authenticated body of a webhook delivery, or the answer refusing it."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES and not content_type.endswith("+json"):
        metrics.alerts_rejected.inc(source=source, reason="content_type")
        return error(415, f"content type must be application/json, got "
                          f"'{content_type[:60] or 'none'}'")
    try:
        body = await read_limited(request, max_body_bytes)
    except BodyTooLarge:
        metrics.alerts_rejected.inc(source=source, reason="too_large")
        return error(413, f"body larger than {max_body_bytes} bytes")
    try:
        auth.verify(source, request.headers, body)
    except Exception as exc:  # AuthError, or a header no check could even read
        metrics.alerts_rejected.inc(source=source, reason="auth")
        return error(401, str(exc) if isinstance(exc, AuthError) else "unreadable credentials")
    return Delivery(body, content_type)


async def keep_dead_letter(store: Store, metrics: Metrics, source: str, reason: str,
                           delivery: Delivery, status: int) -> JSONResponse:
    """Keep a refused body and answer `status` naming it; 503 if even that cannot be stored,
    so the sender retries instead of the body being lost."""
    reason = storable(reason.encode("utf-8", errors="surrogatepass"))
    try:
        dead_id = await store.dead_letter(source=source, reason=reason,
                                          body=storable(delivery.body),
                                          content_type=delivery.content_type[:255])
    except Exception:
        log.exception("webhook %s: could not keep a dead letter", source)
        return error(503, "the payload could not be kept; retry later")
    metrics.alerts_rejected.inc(source=source, reason="unparseable")
    metrics.dead_letters.inc(source=source)
    log.warning("webhook %s: kept the payload as dead letter %s: %s", source, dead_id, reason)
    return error(status, reason, dead_letter_id=dead_id)
