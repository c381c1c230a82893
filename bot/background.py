"""Builds the background side from Settings: job runner, jobs, and the schedule."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.dev import DevService
from bot.service import Service
from bot.settings import Settings
from integrations.error_sources.base import ErrorSource
from integrations.error_sources.logs import LogErrorSource
from integrations.error_sources.sentry import SentrySource
from integrations.error_sources.templates import DEFAULT_STATE, TemplateStore
from integrations.security.suppressions import FileSuppressions
from integrations.security.types import SecuritySource, SignalSink
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.loki import LokiSource
from scheduler.jobs.base import Clock, Job
from scheduler.jobs.digest import DigestJob
from scheduler.jobs.error_scan import ErrorScanJob, ScanPolicy
from scheduler.jobs.pr_sync import PullRequestSyncJob
from scheduler.jobs.security_scan import RuleCache, SecurityScanJob, SecurityScanPolicy
from scheduler.runner import JobRunner
from scheduler.schedule import parse_schedule
from scheduler.service import Scheduler
from storage.background import BackgroundStore
from storage.ledger import Ledger
from storage.locks import process_holder
from storage.models import Alert, utcnow
from storage.security_scan import ScanCursors

log = logging.getLogger(__name__)


@dataclass
class Background:
    store: BackgroundStore
    runner: JobRunner
    scheduler: Scheduler
    # Each scheduled job's schedule as the operator wrote it (Temporal Schedules are made
    # from these when TEMPORAL_ADDRESS is set; the in-process `scheduler` from the same).
    specs: dict[str, str]


def error_sources(settings: Settings, logs: TelemetrySource | None = None) -> list[ErrorSource]:
    sources: list[ErrorSource] = []
    if settings.sentry.configured:
        assert settings.sentry.auth_token is not None and settings.sentry.org is not None
        sources.append(SentrySource(settings.sentry.api_url, org=settings.sentry.org,
                                    token=settings.sentry.auth_token.get_secret_value()))
    if logs is None and settings.telemetry.loki_url:
        logs = LokiSource(settings.telemetry.loki_url)
    if logs is not None:
        # The log-template miners are kept between scans and shared with the investigator,
        # so a line keeps its signature from one scan (and one investigation) to the next.
        sources.append(LogErrorSource(logs, templates=TemplateStore(DEFAULT_STATE)))
    return sources


def build_background(settings: Settings, service: Service, *,
                     sources: Sequence[ErrorSource] | None = None,
                     clock: Clock = utcnow, security_sink: SignalSink | None = None,
                     security_sources: Sequence[SecuritySource] | None = None,
                     dev: DevService | None = None) -> Background:
    config = settings.scheduler
    store = BackgroundStore.beside(service.store)

    async def open_incident(alert: Alert) -> int | None:
        summary = await service.ingest([alert])
        return summary.incident_ids[0] if summary.incident_ids else None

    jobs: dict[str, Job] = {}
    sources = list(sources) if sources is not None else error_sources(settings)
    if sources:
        jobs["error_scan"] = ErrorScanJob(
            sources=sources, store=store, announcer=service.surface,
            route=service.router.channel_for_service, open_incident=open_incident,
            clock=clock, policy=ScanPolicy(
                recent=timedelta(minutes=config.error_scan_recent_minutes),
                baseline=timedelta(hours=config.error_scan_baseline_hours),
                incident_severity=config.error_scan_incident_severity),
            after_post=dev.on_finding if dev is not None else None)
    else:
        log.info("error scan off: no error source (set SENTRY_AUTH_TOKEN and SENTRY_ORG, "
                 "or LOKI_URL)")
    add_security_scan(jobs, settings, service, sink=security_sink, sources=security_sources,
                      clock=clock)
    if config.digest_channels:
        spend = None
        if settings.models.anthropic_api_key or settings.models.openai_api_key \
                or settings.models.openai_base_url:
            ledger = Ledger.beside(service.store)

            async def spend_by_agent(since: datetime, until: datetime) -> dict[str, float]:
                totals: dict[str, float] = {}
                for call in await ledger.calls(since):
                    if call.at < until:
                        totals[call.agent] = totals.get(call.agent, 0.0) + call.cost_usd
                return totals

            spend = spend_by_agent
        jobs["digest"] = DigestJob(store=store, announcer=service.surface,
                                   channels=config.digest_channels, clock=clock,
                                   timezone=config.timezone, spend=spend,
                                   security_channel=settings.security_cases.channel,
                                   pulls=dev.store.pulls if dev is not None else None)
    if dev is not None and dev.flow.github is not None:
        jobs["pr_sync"] = PullRequestSyncJob(
            store=dev.store, github=dev.flow.github, notifier=dev.flow.notifier, clock=clock,
            stale_after=timedelta(days=settings.dev.stale_pr_days))
    runner = JobRunner(jobs=jobs, store=store, engine=service.store.engine,
                       holder=process_holder(), announcer=service.surface,
                       ops_channel=config.ops_channel,
                       failure_threshold=config.failure_threshold,
                       lease_seconds=config.lease_seconds)
    schedules = {}
    specs: dict[str, str] = {}
    for name, spec, variable in (
            ("error_scan", config.error_scan_schedule, "NIGHTOWL_ERROR_SCAN_SCHEDULE"),
            ("digest", config.digest_schedule, "NIGHTOWL_DIGEST_SCHEDULE"),
            ("security_scan", settings.security_detection.scan_schedule,
             "NIGHTOWL_SECURITY_SCAN_SCHEDULE"),

            ("pr_sync", settings.dev.pr_sync_schedule, "NIGHTOWL_PR_SYNC_SCHEDULE")):
        trigger = parse_schedule(spec, timezone=config.timezone, setting=variable)
        if trigger is not None and name in jobs:
            schedules[name] = trigger
            specs[name] = spec
    scheduler = Scheduler(runner=runner, engine=service.store.engine, schedules=schedules,
                          lease_seconds=config.lease_seconds)
    return Background(store, runner, scheduler, specs)


def add_security_scan(jobs: dict[str, Job], settings: Settings, service: Service, *,
                      sink: SignalSink | None, sources: Sequence[SecuritySource] | None,
                      clock: Clock) -> None:
    """The `security_scan` job, when there is a source to read and a case layer to feed."""
    from bot.security_sources import build_security_sources, rule_roots

    config = settings.security_detection
    sources = list(sources) if sources is not None else build_security_sources(config)
    if not sources or sink is None:
        log.info("security scan off: %s", "no security source configured (see "
                 "docs/security-detection.md)" if not sources else "no security case layer")
        return
    jobs["security_scan"] = SecurityScanJob(
        sources=sources, rules=RuleCache(rule_roots(config)), sink=sink,
        cursors=ScanCursors.beside(service.store), clock=clock,
        suppressions=FileSuppressions(Path(config.suppressions_file).expanduser())
        if config.suppressions_file else None,
        policy=SecurityScanPolicy(delay=timedelta(minutes=config.scan_delay_minutes),
                                  first_window=timedelta(hours=config.first_window_hours),
                                  max_window=timedelta(hours=config.scan_max_window_hours)))
