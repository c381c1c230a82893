"""`POST /webhooks/{datadog-security,panther,guardduty,falco,generic-security}`.

The same rules as the alert webhooks (bot/web/app.py): JSON only, the body-size limit, the
webhook token or signature (`integrations/alerts/auth.py`); malformed JSON answers 400 and a
payload the normaliser cannot use 422, both naming the problem, the body kept as a dead
letter. A good payload becomes `SecuritySignal`s handed to the security case layer (a
`SignalSink`); without one the body is kept as a dead letter and the answer is 503, so nothing
is lost while security cases are not set up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.service import Service
from integrations.alerts.auth import WebhookAuth
from integrations.errors import AuthError, PayloadError
from integrations.security.types import SignalSink
from integrations.security.webhooks import SignalNormalizer, signal_normalizers

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "text/json")
SecurityWebhook = Callable[[Request, str], Awaitable[Response]]


def security_sources() -> dict[str, SignalNormalizer]:
    return signal_normalizers()


def build_security_webhook(
    service: Service,
    *,
    auth: WebhookAuth,
    sink: SignalSink | None,
    read_body: Callable[[Request, int], Awaitable[bytes]],
    too_large: type[Exception],
    max_body_bytes: int,
) -> SecurityWebhook:
    normalizers = signal_normalizers()
    metrics = service.metrics

    def error(status: int, message: str, **extra: object) -> JSONResponse:
        return JSONResponse({"error": message, **extra}, status_code=status)

    async def dead_letter(source: str, reason: str, body: str, content_type: str,
                          status: int) -> JSONResponse:
        dead_id = await service.store.dead_letter(source=source, reason=reason, body=body,
                                                  content_type=content_type)
        metrics.alerts_rejected.inc(source=source, reason="unparseable")
        metrics.dead_letters.inc(source=source)
        log.warning("security webhook %s: kept payload as dead letter %s: %s",
                    source, dead_id, reason)
        return error(status, reason, dead_letter_id=dead_id)

    async def handle(request: Request, source: str) -> Response:
        normalizer = normalizers[source]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            metrics.alerts_rejected.inc(source=source, reason="content_type")
            return error(415, f"content type must be application/json, got "
                              f"'{content_type or 'none'}'")
        try:
            body = await read_body(request, max_body_bytes)
        except too_large:
            metrics.alerts_rejected.inc(source=source, reason="too_large")
            return error(413, f"body larger than {max_body_bytes} bytes")
        try:
            auth.verify(source, request.headers, body)
        except AuthError as exc:
            metrics.alerts_rejected.inc(source=source, reason="auth")
            return error(401, str(exc))
        text = body.decode("utf-8", errors="replace")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return await dead_letter(source, f"malformed JSON: {exc}", text, content_type, 400)
        try:
            signals = normalizer.normalize(payload, headers=request.headers)
        except PayloadError as exc:
            return await dead_letter(source, str(exc), text, content_type, 422)
        if sink is None:
            return await dead_letter(source, "security cases are not set up on this instance; "
                                     "the signal is kept as a dead letter", text,
                                     content_type, 503)
        await sink.handle(signals)
        return JSONResponse({"status": "accepted", "signals": [
            {"rule": s.rule, "rule_id": s.rule_id, "severity": s.severity,
             "event_ids": list(s.event_ids)} for s in signals]}, status_code=202)

    return handle
