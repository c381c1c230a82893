"""`POST /webhooks/{datadog-security,panther,guardduty,falco,generic-security}`.

The same intake as the alert webhooks (bot/web/webhook_body.py): JSON only, the body-size
limit, the webhook token or signature (`integrations/alerts/auth.py`); malformed JSON answers
400 and a payload the normaliser cannot use 422, both naming the problem, the body kept as a
dead letter. A good payload becomes `SecuritySignal`s handed to the security case layer (a
`SignalSink`); without one the body is kept as a dead letter and the answer is 503, so nothing
is lost while security cases are not set up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.service import Service
from bot.web.webhook_body import Delivery, keep_dead_letter, take_body
from integrations.alerts import payload as json_payload
from integrations.alerts.auth import WebhookAuth
from integrations.errors import PayloadError
from integrations.security.types import SignalSink
from integrations.security.webhooks import SignalNormalizer, signal_normalizers

log = logging.getLogger(__name__)

SecurityWebhook = Callable[[Request, str], Awaitable[Response]]


def security_sources() -> dict[str, SignalNormalizer]:
    return signal_normalizers()


def build_security_webhook(
    service: Service,
    *,
    auth: WebhookAuth,
    sink: SignalSink | None,
    max_body_bytes: int,
) -> SecurityWebhook:
    normalizers = signal_normalizers()
    metrics = service.metrics

    async def handle(request: Request, source: str) -> Response:
        normalizer = normalizers[source]
        taken = await take_body(request, source, auth=auth, metrics=metrics,
                                max_body_bytes=max_body_bytes)
        if not isinstance(taken, Delivery):
            return taken
        body = taken.body
        try:
            # The alert webhooks' parser: depth and number limits before and while parsing,
            # text the database cannot store cleaned (the raw body is what the dead letter keeps).
            payload = json_payload.parse(body).payload
        except PayloadError as exc:
            return await keep_dead_letter(service.store, metrics, source, str(exc), taken, 400)
        try:
            signals = normalizer.normalize(payload, headers=request.headers)
        except PayloadError as exc:
            return await keep_dead_letter(service.store, metrics, source, str(exc), taken, 422)
        except Exception as exc:  # a shape no normaliser foresaw is still input
            log.warning("security webhook %s: payload the normaliser could not read (%s: %s)",
                        source, type(exc).__name__, exc)
            return await keep_dead_letter(
                service.store, metrics, source,
                f"payload not understood ({type(exc).__name__}); kept as a dead letter", taken,
                422)
        if sink is None:
            return await keep_dead_letter(
                service.store, metrics, source, "security cases are not set up on this "
                "instance; the signal is kept as a dead letter", taken, 503)
        await sink.handle(signals)
        return JSONResponse({"status": "accepted", "signals": [
            {"rule": s.rule, "rule_id": s.rule_id, "severity": s.severity,
             "event_ids": list(s.event_ids)} for s in signals]}, status_code=202)

    return handle
