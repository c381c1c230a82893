"""The Dev agent inside the running service: built from Settings, fed by the error scan and by
investigations that blame a deploy, answering the Open PR buttons.

    finding with a Sentry stack trace ─┐
                                       ├─▶ DevFlow.start: suspects + an offer in the thread
    investigation blames a deploy ─────┘
    Open … PR click (authorized, audited) ─▶ DevFlow.confirm ─▶ draft PR ─▶ thread
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agents.dev.diagnose import engine_diagnose, engine_resources
from agents.dev.flow import DevFlow, ErrorReport, Offer
from agents.dev.manifests import explain
from agents.dev.policy import Limits
from agents.dev.pull_requests import Opened, PullRequestRoad
from agents.dev.resource_need import ResourceFigures, figures_from_report, with_oom_events
from agents.dev.types import DeployRange, ErrorEvent, Frame
from agents.sre.report import Report
from bot.errors import StartupError
from bot.settings import Settings
from bot.slack.dev_blocks import offer_blocks, say_blocks
from integrations.error_sources.sentry_events import SentryEvents
from integrations.error_sources.tracebacks import parse as parse_trace
from integrations.errors import ConfigurationError, RemoteError
from integrations.github.client import GitHubClient
from integrations.github.events import GitHubChangeSource
from integrations.github.git import CloneCache
from integrations.github.push import BranchPusher
from integrations.github.repos import RepoMap, parse_repos
from integrations.llm.base import ModelClient
from integrations.telemetry.base import TelemetrySource, Window
from scheduler.flows import Runner
from scheduler.inprocess import InProcessRunner
from storage.dev import DevStore
from storage.ledger import MODELS_PAUSED, Ledger
from storage.models import Alert, Finding, FixProposal, Incident, as_utc
from storage.repository import Store

log = logging.getLogger(__name__)
DEPLOY_LOOKBACK = timedelta(days=14)
# In-process, a click (or the API) waits this long for its pull request's outcome.
OPEN_PR_WAIT_S = 900.0
RESTART_LOOKBACK = timedelta(hours=1)
AlertsOf = Callable[[int], Awaitable[list[Alert]]]
TelemetryFor = Callable[[Incident, Sequence[Alert]], TelemetrySource | None]


class ThreadPoster(Protocol):
    async def thread_post(self, channel: str, thread_ts: str, text: str,
                          blocks: list[dict[str, Any]], *, key: str | None = None) -> str: ...


class SurfaceNotifier:
    """The flow's `Notifier` over the chat surface (Slack, or the console)."""

    def __init__(self, surface: ThreadPoster, *, html_base: str) -> None:
        self.surface = surface
        self.html_base = html_base

    async def offer(self, row: FixProposal, offer: Offer) -> str | None:
        if not row.channel or not row.thread_ts:
            return None
        text, blocks = offer_blocks(row, offer, html_base=self.html_base)
        return await self.surface.thread_post(row.channel, row.thread_ts, text, blocks)

    async def say(self, row: FixProposal, text: str, *, diff: str | None = None,
                  key: str | None = None) -> None:
        if row.channel and row.thread_ts:
            await self.surface.thread_post(row.channel, row.thread_ts, text,
                                           say_blocks(text, diff=diff), key=key)


def thread_url(channel: str, ts: str) -> str:
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


class DevService:
    def __init__(self, *, flow: DevFlow, store: DevStore, repos: RepoMap,
                 events: GitHubChangeSource | None, sentry: SentryEvents | None,
                 alerts: AlertsOf | None = None) -> None:
        self.alerts = alerts
        # The investigation's telemetry (set by the wiring): its change events say whether
        # the blamed service's pods were OOM-killed.
        self.telemetry_for: TelemetryFor | None = None
        self.flow = flow
        self.store = store
        self.repos = repos
        self.events = events
        self.sentry = sentry
        # Where the fix_pr flow runs once bot/flows.py registered it; None: a click opens
        # the pull request at once, in the click's handler (as before flows existed).
        self.runner: Callable[[], Runner] | None = None

    @property
    def enabled(self) -> bool:
        """Off (silent) when neither GITHUB_TOKEN nor NIGHTOWL_REPOS is set; with one of them,
        the thread says what else to set."""
        return bool(self.repos) or self.flow.github is not None

    async def start(self) -> None:
        if not self.enabled:
            log.info("dev agent off: set GITHUB_TOKEN and NIGHTOWL_REPOS to get suspect "
                     "commits and fix pull requests")
            return
        if self.runner is not None:
            return  # the runner resumes (in-process) or retries (Temporal) cut-off flows
        resumed = await self.flow.resume()
        if resumed:
            log.info("dev agent: resumed %d pull request flow(s) cut off by a restart", resumed)

    async def stop(self) -> None:
        return None

    async def deploy_before(self, service: str, at_s: float) -> DeployRange | None:
        """The latest GitHub deploy of the service's repository at or before `at_s`."""
        if self.events is None or self.repos.for_service(service) is None:
            return None
        end = datetime.fromtimestamp(at_s, tz=UTC)
        result = await self.events.events(Window(end - DEPLOY_LOOKBACK, end), service=service)
        deploys = [e for e in result.events if e.to_sha and e.ts <= at_s]
        if not deploys:
            return None
        last = deploys[-1]
        assert last.to_sha is not None
        return DeployRange(to_sha=last.to_sha, from_sha=last.from_sha, service=service,
                           at=datetime.fromtimestamp(last.ts, tz=UTC))

    # ---- the error scan's findings -------------------------------------------------------

    async def on_finding(self, finding: Finding, channel: str, ts: str) -> FixProposal | None:
        """A finding was posted: when it has a stack trace (Sentry's, or one parsed out of
        the error log line), look for the commit."""
        if not self.enabled or finding.kind != "new":
            return None
        if finding.source == "sentry" and self.sentry is not None:
            issue = finding.signature.removeprefix("sentry-")
            try:
                trace = await self.sentry.latest(issue)
            except RemoteError as exc:
                log.warning("finding %s: no stack trace: %s", finding.id, exc)
                return None
        elif finding.source == "logs":
            # An error log line that carried a traceback (Python, Java, Go, Node).
            trace = parse_trace(finding.example)
            if trace is None or not any(f.in_app for f in trace.frames):
                return None
        else:
            return None
        if trace is None:
            return None
        frames = tuple(Frame(filename=f.filename, lineno=f.lineno, function=f.function,
                             in_app=f.in_app, context_line=f.context_line)
                       for f in trace.frames)
        error = ErrorEvent(title=finding.title, type=trace.type, value=trace.value,
                           service=finding.service, count=finding.count,
                           first_seen=as_utc(finding.first_seen),
                           last_seen=as_utc(finding.last_seen), frames=frames)
        try:
            deploy = await self.deploy_before(finding.service, as_utc(finding.first_seen)
                                              .timestamp())
        except RemoteError:
            deploy = None
        return await self.offered(await self.flow.start(ErrorReport(
            fingerprint=finding.signature, error=error, deploy=deploy, channel=channel,
            thread_ts=ts, finding_id=finding.id, incident_id=finding.incident_id,
            thread_url=thread_url(channel, ts), incident_title=finding.title,
            evidence=(f"error scan: {finding.kind} error in {finding.service}, "
                      f"{finding.count} events", *((finding.link,) if finding.link else ())))))

    # ---- investigations that blame a deploy ----------------------------------------------

    async def on_report(self, incident: Incident, report: Report) -> FixProposal | None:
        if not self.enabled or report.abstained or not report.root_causes:
            return None
        top = report.root_causes[0]
        if not incident.slack_channel or not incident.slack_ts:
            return None
        figures = figures_from_report(report)
        if figures is not None:
            return await self._resources(incident, report, figures)
        if top.kind != "deploy":
            return None
        evidence = report.evidence_by_id()
        chain = [f"alert: {incident.title}"] + [
            evidence[e].finding for e in top.evidence if e in evidence]
        deploy = None
        started = as_utc(incident.opened_at)
        if self.alerts is not None:
            alerts = await self.alerts(incident.id) if incident.id is not None else []
            started = min((as_utc(a.started_at) for a in alerts), default=started)
        if self.repos.for_service(top.service) is not None:
            try:
                deploy = await self.deploy_before(top.service, started.timestamp())
            except RemoteError as exc:
                log.warning("incident %s: GitHub deploys unreadable: %s", incident.id, exc)
        fingerprint = (f"deploy:{top.service}:{deploy.to_sha[:12]}" if deploy
                       else f"incident:{incident.id}")
        error = ErrorEvent(title=incident.title, type="deploy regression", value=top.summary,
                           service=top.service, first_seen=started)
        report_in = ErrorReport(
            fingerprint=fingerprint, error=error, deploy=deploy,
            channel=incident.slack_channel, thread_ts=incident.slack_ts,
            incident_id=incident.id, thread_url=thread_url(incident.slack_channel,
                                                           incident.slack_ts),
            incident_title=incident.title, evidence=tuple(chain))
        if deploy is None and self.repos.for_service(top.service) is not None:
            report_in = replace(report_in, evidence=(*chain, "no GitHub deploy found"))
        return await self.offered(await self.flow.start(report_in))

    async def _resources(self, incident: Incident, report: Report,
                         figures: ResourceFigures) -> FixProposal | None:
        """Pods ran out of memory or CPU: offer a bump of the container's `resources:` in
        the repository that holds its manifest (one proposal per container)."""
        assert incident.slack_channel is not None and incident.slack_ts is not None
        top = report.root_causes[0]
        figures = with_oom_events(figures, await self._restarts(incident, top.service))
        evidence = report.evidence_by_id()
        chain = [f"alert: {incident.title}", f"cause: {top.summary}"] + [
            evidence[e].finding for e in top.evidence if e in evidence] + explain(figures)
        error = ErrorEvent(title=incident.title, type=f"{figures.kind} exhaustion",
                           value=top.summary, service=top.service,
                           first_seen=as_utc(incident.opened_at))
        return await self.flow.start(ErrorReport(
            fingerprint=f"resources:{figures.service}:{figures.container}:{figures.kind}",
            error=error, deploy=None, channel=incident.slack_channel,
            thread_ts=incident.slack_ts, incident_id=incident.id,
            thread_url=thread_url(incident.slack_channel, incident.slack_ts),
            incident_title=incident.title, evidence=tuple(dict.fromkeys(chain)),
            resources=figures))

    async def _restarts(self, incident: Incident, service: str) -> list[tuple[str, str]]:
        """The service's container restarts around the incident, as (service, summary)."""
        if self.telemetry_for is None or incident.id is None:
            return []
        alerts = await self.alerts(incident.id) if self.alerts is not None else []
        started = min((as_utc(a.started_at) for a in alerts), default=as_utc(incident.opened_at))
        try:
            source = self.telemetry_for(incident, alerts)
            if source is None:
                return []
            result = await source.events(Window(started - RESTART_LOOKBACK,
                                                started + RESTART_LOOKBACK), service=service)
        except Exception as exc:  # telemetry is best effort here: no OOM facts, no crash
            log.warning("incident %s: restarts of %s unreadable: %s", incident.id, service, exc)
            return []
        return [(e.service, e.summary) for e in result.events if e.kind == "restart"]

    # ---- the buttons ---------------------------------------------------------------------

    async def open_pr(self, proposal_id: int, action: str, *, user: str) -> Opened | None:
        """The PR's outcome, or None when the proposal's flow took the click (it opens the
        PR and says so in the thread)."""
        if self.runner is None:
            return await self.flow.confirm(proposal_id, action, user=user)
        from bot.flows import FIX_PR, OPEN_PR, fix_pr_key

        # The approval reaches the proposal's waiting flow, which opens the PR (and says so
        # in the thread); a flow that was never started (an offer from before flows) is.
        runner = self.runner()
        key = fix_pr_key(proposal_id)
        await runner.start(FIX_PR, key, {"proposal_id": proposal_id})
        await runner.signal(FIX_PR, key, OPEN_PR, {"action": action, "user": user})
        if not isinstance(runner, InProcessRunner):
            return None  # a worker opens it; the thread says how it went
        run = await runner.wait(FIX_PR, key, timeout=OPEN_PR_WAIT_S)
        outcome = run.state.get("outcome")
        if outcome is None:
            return None
        return Opened(outcome, number=run.state.get("number"),
                      url=str(run.state.get("url") or ""),
                      reason=str(run.state.get("reason") or ""))

    async def offered(self, row: FixProposal | None) -> FixProposal | None:
        """An offer with buttons was posted: its fix_pr flow waits for a person's click."""
        if row is not None and row.id is not None and row.status == "offered" \
                and self.runner is not None:
            from bot.flows import FIX_PR, fix_pr_key

            await self.runner().start(FIX_PR, fix_pr_key(row.id), {"proposal_id": row.id})
        return row


def build_dev(settings: Settings, store: Store, surface: ThreadPoster, *,
              model: ModelClient | None = None) -> DevService:
    """Raises StartupError on a bad NIGHTOWL_REPOS (the message names the service)."""
    config = settings.dev
    try:
        repos = parse_repos(config.repos)
    except ConfigurationError as exc:
        raise StartupError(str(exc)) from exc
    if config.shadow:
        repos = RepoMap({k: replace(t, shadow=True) for k, t in repos.targets.items()})
    dev_store = DevStore.beside(store)
    ledger = Ledger.beside(store)
    notifier = SurfaceNotifier(surface, html_base=config.github_html_url)

    async def paused() -> bool:
        return await ledger.control(MODELS_PAUSED) == "true"

    github: GitHubClient | None = None
    road: PullRequestRoad | None = None
    diagnose = None
    resources = None
    events = None
    if config.github_token is not None:
        token = config.github_token.get_secret_value()
        github = GitHubClient(token=token, base_url=config.github_api_url,
                              seconds_between_requests=config.github_write_interval / 4,
                              seconds_between_writes=config.github_write_interval)
        workdir = Path(config.workdir).expanduser().resolve()
        road = PullRequestRoad(
            github=github, pusher=BranchPusher(token=token, workdir=workdir / "branches"),
            store=dev_store, audit=store, paused=paused,
            limits=Limits(max_open=config.max_open_prs, per_hour=config.prs_per_hour,
                          per_day=config.prs_per_day))
        events = GitHubChangeSource(github, repos)
        client = github

        async def clone_url(full_name: str) -> str:
            return (await client.repo(full_name)).clone_url

        cache = CloneCache(workdir / "clones", token=token)
        diagnose = engine_diagnose(cache=cache, clone_url=clone_url, model=model,
                                   workdir=workdir)
        resources = engine_resources(cache=cache, clone_url=clone_url)
    sentry = None
    if settings.sentry.configured:
        assert settings.sentry.auth_token is not None and settings.sentry.org is not None
        sentry = SentryEvents(settings.sentry.api_url, org=settings.sentry.org,
                              token=settings.sentry.auth_token.get_secret_value())
    flow = DevFlow(repos=repos, store=dev_store, notifier=notifier, diagnose=diagnose,
                   road=road, github=github, audit=store, resources=resources)
    return DevService(flow=flow, store=dev_store, repos=repos, events=events, sentry=sentry,
                      alerts=store.incident_alerts)
