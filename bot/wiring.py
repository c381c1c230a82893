"""Builds everything from Settings, once, at the entry point, and hands it down."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from agents.sre.investigator import Budget
from bot.capabilities import Capabilities
from bot.capabilities.tokens import TokenRegistry, TokenSpec
from bot.chat import ThreadChatHandler
from bot.check import serve_refusal
from bot.console import ConsoleSurface
from bot.dev import DevService, build_dev
from bot.errors import StartupError
from bot.flows import register as register_flows
from bot.metrics import Metrics
from bot.models import build_gateway, configure_redaction
from bot.routing import Router
from bot.security.service import SecurityService
from bot.security.triage import EngineTriage
from bot.security.wiring import build_security
from bot.service import Service, TelemetryFor
from bot.settings import Settings
from bot.slack.app import build_bolt_app
from bot.slack.authorization import Authorizer
from bot.slack.dev_actions import register_dev_actions
from bot.slack.pacing import ChannelPacer
from bot.slack.retry import retry_handlers
from bot.slack.surface import SlackSurface
from bot.surface import ChatSurface
from bot.web.api import ApiMount, build_api
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from integrations.llm.gateway import Gateway
from integrations.security.types import SecuritySource
from integrations.telemetry.base import EventSource, TelemetrySource
from integrations.telemetry.composite import CompositeSource
from integrations.telemetry.loki import LokiSource
from integrations.telemetry.prometheus import PrometheusSource
from integrations.telemetry.scoped import scoped
from storage.db import make_engine, upgrade
from storage.models import Alert, Incident
from storage.repository import Store

log = logging.getLogger(__name__)


@dataclass
class Wiring:
    settings: Settings
    store: Store
    service: Service
    app: Starlette
    bolt: AsyncApp | None
    slack_client: AsyncWebClient | None
    gateway: Gateway | None = None
    # Who may press what; handlers other packages add to the Bolt app ask it too.
    authorizer: Authorizer | None = None
    api: ApiMount | None = None
    security: SecurityService | None = None  # the security case layer (a SignalSink)
    dev: DevService | None = None  # the Dev agent (suspect commits, fix pull requests)


def public_url(settings: Settings) -> str:
    return settings.api.public_url or f"http://{settings.host}:{settings.port}"


def build_capabilities(settings: Settings, service: Service,
                       default_telemetry: TelemetrySource | None,
                       dev: DevService | None = None) -> Capabilities:
    tokens = TokenRegistry(TokenSpec(t.name, t.token.get_secret_value(), tuple(t.scopes))
                           for t in settings.api.tokens)
    slack_url = (settings.api.slack_workspace_url or "https://slack.com"
                 if settings.slack.configured else None)
    return Capabilities.build(service=service, tokens=tokens,
                              default_telemetry=default_telemetry,
                              slack_url=slack_url, public_url=public_url(settings), dev=dev)


def webhook_auth(settings: Settings) -> WebhookAuth:
    token = settings.webhooks.token.get_secret_value() if settings.webhooks.token else None
    return WebhookAuth(token=token, signing_secrets=settings.webhooks.signing_secrets(),
                       allow_unauthenticated=settings.webhooks.allow_unauthenticated)


def check_serve_settings(settings: Settings) -> None:
    refusal = serve_refusal(settings)
    if refusal is not None:
        raise StartupError(refusal)


def production_source(settings: Settings, *,
                      events: EventSource | None = None) -> TelemetrySource | None:
    prometheus = (PrometheusSource(settings.telemetry.prometheus_url)
                  if settings.telemetry.prometheus_url else None)
    loki = LokiSource(settings.telemetry.loki_url) if settings.telemetry.loki_url else None
    if prometheus is None and loki is None:
        return None
    topology = {k: set(v) for k, v in settings.telemetry.topology.items()}
    return CompositeSource(metrics=prometheus, logs=loki, events=events,
                           topology=topology)


def production_telemetry(settings: Settings,
                         source: TelemetrySource | None = None) -> TelemetryFor | None:
    source = source or production_source(settings)
    if source is None:
        return None
    metrics = source.metrics_source if isinstance(source, CompositeSource) else None
    if not isinstance(metrics, PrometheusSource):
        return lambda incident, alerts: source
    assert isinstance(source, CompositeSource)
    logs = source.logs_source
    topology = {k: set(v) for k, v in settings.telemetry.topology.items()}

    def telemetry_for(incident: Incident, alerts: Sequence[Alert]) -> TelemetrySource:
        # Per incident: the alert's own labels pick the service label, and its rule's
        # expression (generatorURL) becomes the first evidence.
        firing = [a for a in alerts if a.status == "firing"] or list(alerts)
        first = firing[0] if firing else None
        return scoped(prometheus=metrics, logs=logs, topology=topology,
                      labels=first.labels if first else {"service": incident.service},
                      generator_url=first.links.get("source") if first else None,
                      service_labels=settings.telemetry.service_label_list)

    return telemetry_for


def build(settings: Settings, *, telemetry_for: TelemetryFor | None = None,
          console: TextIO | None = None, migrate: bool = True,
          security_sources: Sequence[SecuritySource] = ()) -> Wiring:
    configure_redaction(settings)  # before anything can log, post or prompt
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    store = Store(engine)
    gateway = build_gateway(settings, store)  # validates model settings at start
    metrics = Metrics()
    if gateway is not None:
        gateway.on_call = metrics.record_model_call
    bolt: AsyncApp | None = None
    client: AsyncWebClient | None = None
    surface: ChatSurface
    if settings.slack.configured:
        assert settings.slack.bot_token is not None and settings.slack.signing_secret is not None
        client = AsyncWebClient(token=settings.slack.bot_token.get_secret_value(),
                                base_url=settings.slack.api_url,
                                retry_handlers=retry_handlers())
        surface = SlackSurface(client, ChannelPacer(
            per_second=settings.slack.messages_per_second, metrics=metrics))
    else:
        log.warning("Slack is not configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET): "
                    "incident threads are printed on the console")
        surface = ConsoleSurface(console or sys.stdout)
    dev = build_dev(settings, store, surface, model=gateway)
    default_telemetry = (production_source(settings, events=dev.events)
                         if telemetry_for is None else None)
    service = Service(
        store=store, surface=surface, metrics=metrics,
        router=Router(settings.routing.routes, settings.routing.default_channel),
        telemetry_for=telemetry_for or production_telemetry(settings, default_telemetry),
        budget=Budget(max_queries=settings.investigation.max_queries,
                      max_depth=settings.investigation.max_depth),
        auto_investigate=settings.investigation.auto_investigate,
        lookback_minutes=settings.investigation.lookback_minutes,
        model=gateway,
        reinvestigate_cooldown_s=settings.authorization.reinvestigate_cooldown_seconds,
        service_labels=settings.telemetry.service_label_list,
    )
    service.on_report = dev.on_report
    dev.telemetry_for = service.telemetry_for  # OOM kills of a service blamed for memory
    service.add_companion(dev)
    authorizer: Authorizer | None = None
    security = build_security(settings.security_cases, service,
                              engine=EngineTriage(model=gateway), sources=security_sources)
    # Every flow runs on the service's runner (in-process unless `use_runner` puts it on
    # Temporal): the Dev agent's pull requests and security triage too.
    register_flows(service.flows, dev=dev, security=security)
    dev.runner = lambda: service.runner
    security.runner = lambda: service.runner
    if client is not None:
        assert settings.slack.signing_secret is not None
        authz = settings.authorization
        authorizer = Authorizer(client, audit=store, action_groups=authz.action_groups,
                                admin_group=authz.admin_group,
                                cache_seconds=authz.cache_seconds)
        bolt = build_bolt_app(service, client=client, authorizer=authorizer, security=security,
                              signing_secret=settings.slack.signing_secret.get_secret_value(),
                              chat=ThreadChatHandler(
                                  service, per_user=settings.slack.chat_questions_per_user,
                                  per_seconds=settings.slack.chat_window_seconds))
        register_dev_actions(bolt, dev, authorizer=authorizer, store=store)
    api = build_api(build_capabilities(settings, service, default_telemetry, dev),
                    public_url=public_url(settings),
                    extra_hosts=settings.api.mcp_allowed_hosts,
                    extra_origins=settings.api.mcp_allowed_origins)
    app = build_http_app(service, auth=webhook_auth(settings),
                         max_body_bytes=settings.webhooks.max_body_bytes,
                         bolt=bolt if settings.slack.app_token is None else None, api=api,
                         security=security,
                         slack_signing_secret=settings.slack.signing_secret.get_secret_value()
                         if settings.slack.signing_secret else None)
    return Wiring(settings, store, service, app, bolt, client, gateway, authorizer, api,
                  security, dev)
