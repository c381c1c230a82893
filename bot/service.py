"""The running service: intake, incident actions and investigations, over one Store.

Built once by `bot.wiring` and handed to the HTTP app, the Bolt app and the CLI. Handlers
call these methods; the methods write to the database first and then nudge the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from agents.sre.assist import ModelAssist
from agents.sre.context import AlertContext
from agents.sre.grounding import ground
from agents.sre.investigator import Budget, Investigator
from agents.sre.report import Progress, Report
from bot.dispatcher import Dispatcher
from bot.health import Health
from bot.metrics import Metrics
from bot.routing import Router
from bot.surface import ChatSurface
from integrations.llm.base import ModelClient
from integrations.redaction import clip
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.prometheus import DEFAULT_SERVICE_LABELS, pick_service_label
from integrations.telemetry.scoped import ScopedSource
from storage.ledger import MODELS_PAUSED, Ledger
from storage.models import (
    Alert,
    Feedback,
    Incident,
    IncidentStatus,
    Investigation,
    utcnow,
)
from storage.repository import IntakeOutcome, NotNow, Store
from storage.thread_events import FeedbackGiven

log = logging.getLogger(__name__)

TelemetryFor = Callable[[Incident, Sequence[Alert]], TelemetrySource | None]
PROGRESS_EDIT_INTERVAL_S = 2.0
INTAKE_CHUNK = 500  # alerts per intake transaction, at most
# A run still marked running after this long was cut off without its process noticing.
STUCK_RUN_S = 1800.0


class Companion(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class IntakeSummary:
    alerts: int
    duplicates: int
    incidents_created: int
    incidents_resolved: int
    incident_ids: list[int]


class Service:
    def __init__(
        self,
        *,
        store: Store,
        surface: ChatSurface,
        router: Router,
        metrics: Metrics,
        telemetry_for: TelemetryFor | None = None,
        budget: Budget | None = None,
        auto_investigate: bool = True,
        lookback_minutes: int = 120,
        model: ModelClient | None = None,
        reinvestigate_cooldown_s: float = 120.0,
        service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS,
    ) -> None:
        self.store = store
        self.surface = surface
        self.router = router
        self.metrics = metrics
        self.telemetry_for = telemetry_for
        self.budget = budget or Budget()
        self.auto_investigate = auto_investigate
        self.lookback_minutes = lookback_minutes
        self.model = model  # None: the statistical engine alone
        self.reinvestigate_cooldown_s = reinvestigate_cooldown_s
        self.service_labels = tuple(service_labels)  # NIGHTOWL_SERVICE_LABELS
        self.dispatcher = Dispatcher(store, surface)
        self.dispatcher.on_rendered_first = self._on_incident_posted
        self.health = Health()  # /healthz: Slack's state (set at start, updated on failures)
        self.dispatcher.health = self.health
        self.metrics.queue_depth = lambda: float(self.dispatcher.depth())
        self._tasks: set[asyncio.Task[Any]] = set()
        self._companions: list[Companion] = []
        # Called with each finished report (the Dev agent looks at deploys it blames).
        self.on_report: Callable[[Incident, Report], Awaitable[object]] | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def add_companion(self, companion: Companion) -> None:
        """Something that starts and stops with the service (the scheduler)."""
        self._companions.append(companion)

    async def start(self) -> None:
        """Recover what a previous process left behind: unposted updates, cut-off runs."""
        for row in await self.store.interrupted_investigations():
            if row.incident_id is None:  # a CLI run: nothing to resume it into
                row.status, row.error, row.finished_at = "failed", "interrupted", utcnow()
                await self.store.save_investigation(row)
                continue
            log.info("incident %s: investigation %s was cut off after %s hypotheses; "
                     "resuming it in the same thread message", row.incident_id, row.id,
                     row.progress.get("tested", 0))
            self._spawn(self.investigate(row.incident_id, trigger=row.trigger, resume=row))
        await self.dispatcher.recover()
        for companion in self._companions:
            await companion.start()

    async def stop(self) -> None:
        for companion in reversed(self._companions):
            await companion.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.dispatcher.close()

    async def idle(self, timeout: float = 60.0) -> None:
        """Wait for queued Slack updates and running investigations (tests and the demo)."""
        async with asyncio.timeout(timeout):
            while self._tasks or self.dispatcher.depth():
                if self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
                await self.dispatcher.idle(timeout)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- intake --------------------------------------------------------------------------

    async def ingest(self, alerts: Sequence[Alert]) -> IntakeSummary:
        # A huge delivery is stored in bounded chunks: each is one transaction on the store's
        # writer, so deliveries arriving meanwhile are written between chunks instead of
        # waiting behind all of it. (The webhook still answers after the last chunk.)
        for alert in alerts:
            # The incident names the service the way its investigation reads the telemetry
            # (NIGHTOWL_SERVICE_LABELS, the alert's own labels picking): a kube-state-metrics
            # alert is about its container, not about the exporter's job.
            _, picked = pick_service_label(alert.labels, self.service_labels)
            if picked:
                alert.service = picked[:255]
        # Each chunk's outcomes are counted, logged and notified as it lands, so the loop
        # never runs one long stretch over all of a huge delivery's alerts.
        outcomes: list[IntakeOutcome] = []
        for start in range(0, len(alerts), INTAKE_CHUNK):
            chunk = alerts[start:start + INTAKE_CHUNK]
            stored = await self.store.ingest(chunk, self.router.channel_for)
            for alert, outcome in zip(chunk, stored, strict=True):
                self.metrics.alerts_received.inc(source=alert.source)
                _log_intake(alert, outcome)
                if outcome.incident_id is not None and outcome.channel and \
                        not outcome.duplicate:
                    self.dispatcher.notify(outcome.incident_id, outcome.channel)
            outcomes += stored
        return IntakeSummary(
            alerts=len(outcomes),
            duplicates=sum(o.duplicate for o in outcomes),
            incidents_created=sum(o.incident_created for o in outcomes),
            incidents_resolved=sum(o.incident_resolved for o in outcomes),
            incident_ids=sorted({o.incident_id for o in outcomes if o.incident_id is not None}),
        )

    async def _channel_of(self, incident_id: int) -> str:
        return (await self.store.incident(incident_id)).channel

    # ---- responder actions ---------------------------------------------------------------

    async def acknowledge(self, incident_id: int, user: str) -> None:
        incident, _ = await self.store.acknowledge(incident_id, user)
        self.dispatcher.notify(incident_id, incident.channel)

    async def resolve(self, incident_id: int, user: str) -> None:
        incident, _ = await self.store.resolve(incident_id, user)
        log.info("incident %s resolved by %s", incident_id, user)
        self.dispatcher.notify(incident_id, incident.channel)

    async def reopen(self, incident_id: int, user: str) -> None:
        incident, _ = await self.store.reopen(incident_id, user)
        log.info("incident %s reopened by %s", incident_id, user)
        self.dispatcher.notify(incident_id, incident.channel)

    async def reinvestigate(self, incident_id: int, user: str) -> str | None:
        """Start a new investigation, unless one is running or started within the cooldown
        (five clicks in a second are one investigation, whichever replica each reaches: the
        cooldown is claimed in the database). Returns why not, or None."""
        started = await self.store.claim_investigation(
            incident_id, "reinvestigate", cooldown_s=self.reinvestigate_cooldown_s,
            stuck_s=STUCK_RUN_S)
        if isinstance(started, NotNow):
            if started.running:
                return "An investigation of this incident is already running."
            return (f"This incident was investigated {started.age_s}s ago; you can "
                    f"re-investigate it in {started.wait_s}s.")
        await self.store.audit(actor=user, action="reinvestigate", incident_id=incident_id)
        self._spawn(self.investigate(incident_id, trigger="reinvestigate", started=started))
        return None

    async def record_feedback(self, investigation_id: int, user: str, verdict: str, *,
                              correct_service: str | None = None,
                              comment: str | None = None) -> None:
        row = await self.store.investigation(investigation_id)
        await self.store.add_feedback(Feedback(
            investigation_id=investigation_id, incident_id=row.incident_id, user=user,
            verdict=verdict, correct_service=correct_service, comment=comment))
        if row.incident_id is not None:
            await self.store.add_event(row.incident_id, FeedbackGiven(
                user=user, verdict=verdict,  # type: ignore[arg-type]
                correct_service=correct_service))
            self.dispatcher.notify(row.incident_id, await self._channel_of(row.incident_id))

    async def set_models_paused(self, paused: bool, user: str) -> None:
        """The stop button: recorded in the database, so every replica stops at once."""
        await Ledger.beside(self.store).set_control(MODELS_PAUSED, "true" if paused else "false",
                                                    by=user)
        await self.store.audit(actor=user, action="models_paused" if paused
                               else "models_resumed", incident_id=None)

    # ---- investigations ------------------------------------------------------------------

    async def _on_incident_posted(self, incident_id: int) -> None:
        if self.auto_investigate and self.telemetry_for is not None:
            if (await self.store.incident(incident_id)).source == "security":
                return  # an escalated security case: its triage is in the case thread
            self._spawn(self.investigate(incident_id, trigger="auto"))

    async def start_investigation(self, incident_id: int, *, trigger: str,
                                  actor: str) -> Investigation:
        """Create the run now and investigate in the background, so a caller (the API) has
        its id at once."""
        await self.store.audit(actor=actor, action="start_investigation",
                               incident_id=incident_id)
        row = await self.store.start_investigation(incident_id, trigger)
        self._spawn(self.investigate(incident_id, trigger=trigger, started=row))
        return row

    async def investigate(self, incident_id: int, *, trigger: str,
                          resume: Investigation | None = None,
                          started: Investigation | None = None) -> Report | None:
        """Run the SRE agent on an incident, showing progress in its thread.

        `resume` is a run a previous process left `running`: it continues in the same row and
        the same thread message. The statistical engine is deterministic and its queries are
        cheap, so resuming re-tests from the start rather than replaying half a tree.
        """
        incident = await self.store.incident(incident_id)
        if incident.status == IncidentStatus.RESOLVED and trigger == "auto" and resume is None:
            return None
        alerts = await self.store.incident_alerts(incident_id)
        source = self.telemetry_for(incident, alerts) if self.telemetry_for else None
        row = resume or started or await self.store.start_investigation(incident_id, trigger)
        assert row.id is not None
        if resume is not None:
            await self.store.resume_investigation(resume)
        log.info("incident %s: investigation %s started (%s) on %s %s", incident_id, row.id,
                 trigger, incident.service, incident.signal)
        # Its message, progress edits and final result all go through the outbox: the
        # dispatcher posts them once, in thread order, retrying until they land.
        self.dispatcher.notify(incident_id, incident.channel)
        last_edit = time.monotonic()
        run_id = row.id

        async def on_progress(progress: Progress) -> None:
            nonlocal last_edit
            if time.monotonic() - last_edit < PROGRESS_EDIT_INTERVAL_S:
                return
            last_edit = time.monotonic()
            row.progress = progress.model_dump()
            await self.store.save_progress(run_id, row.progress)
            self.dispatcher.notify(incident_id, incident.channel)

        report: Report | None = None
        try:
            if source is None:
                raise RuntimeError("no telemetry source is configured "
                                   "(set PROMETHEUS_URL and/or LOKI_URL)")
            assist = (ModelAssist(self.model, incident_id=incident_id, investigation_id=row.id)
                      if self.model is not None else None)
            investigator = Investigator(source, budget=self.budget, assist=assist)
            context = AlertContext.from_incident(incident, alerts,
                                                 lookback_minutes=self.lookback_minutes)
            if isinstance(source, ScopedSource):
                await source.resolve()
            if isinstance(source, ScopedSource) and source.scope.service:
                # The label the alert's own labels picked names the service in the telemetry.
                context = replace(context, service=source.scope.service)
                if source.scope.service != incident.service:  # found through its instance
                    incident = await self.store.set_service(incident_id, source.scope.service)
                    self.dispatcher.notify(incident_id, incident.channel)
            report = await investigator.investigate(context, on_progress=on_progress)
            await ground(report, context, source)
            row.status = "done"
            row.abstained = report.abstained
            if report.root_causes:
                row.top_service = report.root_causes[0].service
                row.top_kind = report.root_causes[0].kind
                row.confidence = report.root_causes[0].confidence
            row.queries = report.stats.queries
            row.result = report.contract()
            _log_result(incident_id, row.id, report)
            self.metrics.investigations.inc(outcome="abstained" if report.abstained else "done")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("incident %s: investigation %s failed", incident_id, row.id)
            row.status = "failed"
            row.error = clip(str(exc), 2000)
            self.metrics.investigations.inc(outcome="failed")
        row.finished_at = utcnow()
        await self.store.save_investigation(row)  # queues the final message
        fresh = await self.store.incident(incident_id)
        self.dispatcher.notify(incident_id, fresh.channel)
        if report is not None and self.on_report is not None:
            try:
                await self.on_report(fresh, report)
            except Exception:
                log.exception("incident %s: follow-up of the report failed", incident_id)
        return report


def _log_intake(alert: Alert, outcome: IntakeOutcome) -> None:
    """One INFO line per alert that changed something (repeats are counted, not logged)."""
    if outcome.duplicate:
        return
    name = alert.labels.get("alertname") or alert.title[:80]
    what = ("opened" if outcome.incident_created else "resolved" if outcome.incident_resolved
            else "joined")
    log.info("alert %s accepted: %s %s on %s (%s); incident %s %s in %s", outcome.alert_id,
             alert.source, name, alert.service, alert.status, outcome.incident_id, what,
             outcome.channel or "-")


def _log_result(incident_id: int, investigation_id: int | None, report: Report) -> None:
    s = report.stats
    if report.abstained or not report.root_causes:
        verdict = "no confident root cause"
    else:
        top = report.root_causes[0]
        verdict = f"cause {top.service} {top.kind} ({top.confidence:.0%})"
    log.info("incident %s: investigation %s finished in %.1fs: %s; %d queries", incident_id,
             investigation_id, s.elapsed_s, verdict, s.queries)
