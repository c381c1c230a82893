"""The ASGI app: webhooks, health, metrics and (in HTTP mode) Slack's events endpoint.

A webhook answers as soon as its alerts are stored and the incident is queued for Slack;
nothing here waits for Slack or for an investigation.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.service import Service
from bot.slack.events import slack_events_endpoint
from bot.web.api import ApiMount
from bot.web.security_webhooks import build_security_webhook, security_sources
from bot.web.webhook_body import (
    Delivery,
    error,
    keep_dead_letter,
    read_limited,
    storable,
    take_body,
)
from integrations.alerts.auth import WebhookAuth
from integrations.alerts.base import AlertNormalizer, normalizers
from integrations.alerts.payload import parse as parse_payload
from integrations.alerts.replay import delivery_id
from integrations.errors import PayloadError
from integrations.security.types import SignalSink
from storage.deliveries import Deliveries, delivery_key
from storage.models import Alert
from storage.repository import Store

log = logging.getLogger(__name__)

OFF_LOOP_BYTES = 64 * 1024  # bodies above this are parsed and normalised in a worker thread


@dataclass(slots=True)
class _Intake:
    alerts: list[Alert]
    payload: Any
    cleaned: bool


class _CollectionDeferred:
    """Automatic garbage collection off while at least one big delivery is in hand (see the
    webhook). Counted, as deliveries overlap; every use is on the event loop's thread."""

    def __init__(self) -> None:
        self._holders = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self._holders == 0:
            self._was_enabled = gc.isenabled()
            gc.disable()
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1
            if self._holders == 0 and self._was_enabled:
                gc.enable()


collection_deferred = _CollectionDeferred()


class _Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _parse_and_normalise(normalizer: AlertNormalizer, body: bytes,
                         headers: Mapping[str, str]) -> _Intake:
    """Limits, JSON, cleaning and normalising: all of it pure, so it may run off the loop."""
    try:
        parsed = parse_payload(body)
    except PayloadError as exc:
        raise _Refusal(400, str(exc)) from exc
    try:
        alerts = normalizer.normalize(parsed.payload, headers=headers)
    except PayloadError as exc:
        raise _Refusal(422, str(exc)) from exc
    except Exception as exc:  # a normaliser's blind spot must cost a 422, not a 500
        log.exception("normaliser %s failed on a payload", normalizer.source)
        raise _Refusal(422, f"the payload could not be normalised ({type(exc).__name__}: "
                            f"{exc})"[:500]) from exc
    return _Intake(alerts, parsed.payload, parsed.cleaned)


def build_http_app(service: Service, *, auth: WebhookAuth, max_body_bytes: int = 1024 * 1024,
                   bolt: AsyncApp | None = None, slack_signing_secret: str | None = None,
                   manage_lifecycle: bool = True, api: ApiMount | None = None,
                   security: SignalSink | None = None) -> Starlette:
    """Every delivery is answered 2xx or 4xx, never 5xx (503 only when the database itself is
    down), and every authenticated one that fails is kept as a dead letter."""
    sources = normalizers()
    metrics = service.metrics
    deliveries = Deliveries.beside(service.store)
    # Security signals (Panther, GuardDuty, ...) share the path, the limits and the auth.
    signal_sources = security_sources()
    security_webhook = build_security_webhook(service, auth=auth, sink=security,
                                              max_body_bytes=max_body_bytes)
    # Health and metrics read on their own thread and connection (SQLite runs in WAL): they
    # answer while the writer is busy with a storm, instead of queueing behind it.
    probe = Store(service.store.engine,
                  ThreadPoolExecutor(max_workers=1, thread_name_prefix="health"))

    async def webhook(request: Request) -> Response:
        source = request.path_params["source"]
        if source in signal_sources:
            return await security_webhook(request, source)
        normalizer = sources.get(source)
        if normalizer is None:
            metrics.alerts_rejected.inc(source="unknown", reason="unknown_source")
            return error(404, f"unknown source '{source}'",
                          sources=sorted([*sources, *signal_sources]))
        taken = await take_body(request, source, auth=auth, metrics=metrics,
                                max_body_bytes=max_body_bytes)
        if not isinstance(taken, Delivery):
            return taken
        if len(taken.body) <= OFF_LOOP_BYTES:
            return await take_in(source, normalizer, taken, dict(request.headers))
        # A big delivery is parsed and normalised on a worker thread; and while its objects
        # are alive the cyclic collector waits: a full collection over them (hundreds of
        # thousands of objects, none of them garbage) holds the GIL for 100 ms and more,
        # stalling every other request. They are freed by reference counting once
        # `take_in` returns, and collection resumes over a heap of the usual size.
        with collection_deferred():
            return await take_in(source, normalizer, taken, dict(request.headers))

    async def take_in(source: str, normalizer: AlertNormalizer, taken: Delivery,
                      headers: dict[str, str]) -> Response:
        body = taken.body
        try:
            if len(body) > OFF_LOOP_BYTES:  # a storm's delivery must not stall the loop
                intake = await asyncio.to_thread(_parse_and_normalise, normalizer, body,
                                                 headers)
            else:
                intake = _parse_and_normalise(normalizer, body, headers)
        except _Refusal as refusal:
            return await keep_dead_letter(service.store, metrics, source, refusal.reason,
                                          taken, refusal.status)
        key = delivery_key(source, found) if (found := delivery_id(
            source, intake.payload, headers, body)) else None
        if key is not None and await deliveries.taken(key):
            metrics.alerts_rejected.inc(source=source, reason="replay")
            return JSONResponse({"status": "duplicate",
                                 "reason": "this delivery was already taken in"},
                                status_code=200)
        if not intake.alerts:
            return JSONResponse({"status": "ignored",
                                 "reason": "the event changes no alert state"}, status_code=202)
        if intake.cleaned:  # the alerts hold cleaned text; the body as received is kept too
            received = storable(body)
            for alert in intake.alerts:
                alert.raw = {**alert.raw, "nightowl_body_as_received": received}
        try:
            summary = await service.ingest(intake.alerts)
        except Exception as exc:
            log.exception("webhook %s: storing %d alert(s) failed", source, len(intake.alerts))
            return await keep_dead_letter(
                service.store, metrics, source,
                f"could not be stored: {type(exc).__name__}: {exc}"[:500], taken, 422)
        if key is not None:
            await deliveries.remember(key)
        return JSONResponse({"status": "accepted", "alerts": summary.alerts,
                             "duplicates": summary.duplicates,
                             "incidents_created": summary.incidents_created,
                             "incidents_resolved": summary.incidents_resolved,
                             "incident_ids": summary.incident_ids}, status_code=202)

    async def slack_dead_letter(source: str, reason: str, body: bytes,
                                content_type: str) -> int | None:
        try:
            return await service.store.dead_letter(source=source, reason=storable(
                reason.encode("utf-8", errors="surrogatepass")), body=storable(body),
                content_type=content_type[:255])
        except Exception:
            log.exception("slack: could not keep a dead letter")
            return None

    async def healthz(request: Request) -> Response:
        try:
            counts = await probe.counts()
        except Exception as exc:
            log.error("health check: database unreachable: %s", exc)
            return error(503, "database unreachable")
        return JSONResponse({"status": service.health.status,
                             "incidents_open": counts["incidents_open"],
                             "queue_depth": service.dispatcher.depth(),
                             **service.health.components})

    async def prometheus_metrics(request: Request) -> Response:
        try:
            metrics.incidents_open = float((await probe.counts())["incidents_open"])
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
        if not slack_signing_secret:
            raise ValueError("build_http_app: a Bolt app needs slack_signing_secret "
                             "(/slack/events verifies before Bolt reads anything)")
        routes.append(Route("/slack/events", slack_events_endpoint(
            bolt, signing_secret=slack_signing_secret, read_body=read_limited,
            dead_letter=slack_dead_letter), methods=["POST"]))
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
