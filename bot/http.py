"""The ASGI app: webhooks, health, metrics and (in HTTP mode) Slack's events endpoint.

A webhook answers as soon as its alerts are stored and the incident is queued for Slack;
nothing here waits for Slack or for an investigation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.security_webhooks import build_security_webhook, security_sources
from bot.service import Service
from bot.web.api import ApiMount
from integrations.alerts.auth import WebhookAuth
from integrations.alerts.base import normalizers
from integrations.errors import AuthError, PayloadError
from integrations.security.types import SignalSink

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "text/json")


class BodyTooLarge(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
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


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def build_http_app(service: Service, *, auth: WebhookAuth, max_body_bytes: int = 1024 * 1024,
                   bolt: AsyncApp | None = None, manage_lifecycle: bool = True,
                   api: ApiMount | None = None,
                   security: SignalSink | None = None) -> Starlette:
    sources = normalizers()
    metrics = service.metrics
    # Security signals (Panther, GuardDuty, ...) share the path, the limits and the auth.
    signal_sources = security_sources()
    security_webhook = build_security_webhook(
        service, auth=auth, sink=security, read_body=_read_limited, too_large=BodyTooLarge,
        max_body_bytes=max_body_bytes)

    async def webhook(request: Request) -> Response:
        source = request.path_params["source"]
        if source in signal_sources:
            return await security_webhook(request, source)
        normalizer = sources.get(source)
        if normalizer is None:
            metrics.alerts_rejected.inc(source="unknown", reason="unknown_source")
            return _error(404, f"unknown source '{source}'",
                          sources=sorted([*sources, *signal_sources]))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            metrics.alerts_rejected.inc(source=source, reason="content_type")
            return _error(415, f"content type must be application/json, got "
                               f"'{content_type or 'none'}'")
        try:
            body = await _read_limited(request, max_body_bytes)
        except BodyTooLarge:
            metrics.alerts_rejected.inc(source=source, reason="too_large")
            return _error(413, f"body larger than {max_body_bytes} bytes")
        try:
            auth.verify(source, request.headers, body)
        except AuthError as exc:
            metrics.alerts_rejected.inc(source=source, reason="auth")
            return _error(401, str(exc))
        text = body.decode("utf-8", errors="replace")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return await _dead_letter(source, f"malformed JSON: {exc}", text, content_type, 400)
        try:
            alerts = normalizer.normalize(payload, headers=request.headers)
        except PayloadError as exc:
            return await _dead_letter(source, str(exc), text, content_type, 422)
        if not alerts:
            return JSONResponse({"status": "ignored",
                                 "reason": "the event changes no alert state"}, status_code=202)
        summary = await service.ingest(alerts)
        return JSONResponse({"status": "accepted", "alerts": summary.alerts,
                             "duplicates": summary.duplicates,
                             "incidents_created": summary.incidents_created,
                             "incidents_resolved": summary.incidents_resolved,
                             "incident_ids": summary.incident_ids}, status_code=202)

    async def _dead_letter(source: str, reason: str, body: str, content_type: str,
                           status: int) -> JSONResponse:
        dead_id = await service.store.dead_letter(source=source, reason=reason, body=body,
                                                  content_type=content_type)
        metrics.alerts_rejected.inc(source=source, reason="unparseable")
        metrics.dead_letters.inc(source=source)
        log.warning("webhook %s: kept unparseable payload as dead letter %s: %s",
                    source, dead_id, reason)
        return _error(status, reason, dead_letter_id=dead_id)

    async def healthz(request: Request) -> Response:
        try:
            counts = await service.store.counts()
        except Exception as exc:
            log.error("health check: database unreachable: %s", exc)
            return _error(503, "database unreachable")
        return JSONResponse({"status": "ok", "incidents_open": counts["incidents_open"],
                             "queue_depth": service.dispatcher.depth()})

    async def prometheus_metrics(request: Request) -> Response:
        try:
            metrics.incidents_open = float((await service.store.counts())["incidents_open"])
        except Exception:
            log.warning("metrics: could not count open incidents", exc_info=True)
        return PlainTextResponse(metrics.render(),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [
        Route("/webhooks/{source}", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus_metrics, methods=["GET"]),
    ]
    if bolt is not None:
        handler = AsyncSlackRequestHandler(bolt)

        async def slack_events(request: Request) -> Response:
            return await handler.handle(request)

        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    if api is not None:
        routes.extend(api.routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if manage_lifecycle:
                await service.start()
                stack.push_async_callback(service.stop)
            if api is not None:
                await stack.enter_async_context(api.running())
            yield

    return Starlette(routes=routes, lifespan=lifespan)
