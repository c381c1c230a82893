"""The running service: intake, incident actions and investigations, over one Store.

Built once by `bot.wiring` and handed to the HTTP app, the Bolt app and the CLI. Handlers
call these methods; the methods write to the database first and then nudge the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agents.sre.investigator import Budget
from agents.sre.report import Report
from bot.dispatcher import Dispatcher
from bot.health import Health
from bot.investigations import FLOW as INVESTIGATION
from bot.investigations import InvestigationSteps, flow_key
from bot.metrics import Metrics
from bot.routing import Router
from bot.surface import ChatSurface
from integrations.llm.base import ModelClient
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.prometheus import DEFAULT_SERVICE_LABELS, pick_service_label
from scheduler.flows import STOP, Flows, Runner
from scheduler.inprocess import InProcessRunner
from storage.flows import FlowStore
from storage.ledger import MODELS_PAUSED, Ledger
from storage.locks import LeaseLock, process_holder
from storage.models import (
    Alert,
    Feedback,
    Incident,
    Investigation,
    utcnow,
)
from storage.repository import IntakeOutcome, NotNow, Store
from storage.thread_events import FeedbackGiven

log = logging.getLogger(__name__)

TelemetryFor = Callable[[Incident, Sequence[Alert]], TelemetrySource | None]
THREAD_LEASE_S = 60.0  # a thread's lease outlives a dead holder elsewhere this long at most
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
        # The flows this service's work runs as, and where they run: in this process by
        # default; `use_runner` puts them on Temporal (bot/cli/worker.py).
        self.investigations = InvestigationSteps(self)
        self.flows = Flows({INVESTIGATION: self.investigations.flow()})
        self.runner: Runner = InProcessRunner(self.flows, FlowStore.beside(store))

    def use_runner(self, runner: Runner) -> None:
        self.runner = runner
        if runner.remote:
            # Workers post to the same threads as serve: a lease per thread (a row, not a
            # held connection) keeps two processes from posting the same queued message.
            engine, holder = self.store.engine, process_holder()
            self.dispatcher.thread_lock = lambda name: LeaseLock(
                engine, name, holder=holder, ttl_seconds=THREAD_LEASE_S)

    # ---- lifecycle -----------------------------------------------------------------------

    def add_companion(self, companion: Companion) -> None:
        """Something that starts and stops with the service (the scheduler)."""
        self._companions.append(companion)

    async def start(self) -> None:
        """Recover what a previous process left behind: unposted updates, cut-off runs."""
        await self.runner.recover()
        for row in await self.store.interrupted_investigations():
            if row.incident_id is None:  # a CLI run: nothing to resume it into
                row.status, row.error, row.finished_at = "failed", "interrupted", utcnow()
                await self.store.save_investigation(row)
                continue
            if self.runner.remote:
                continue  # on Temporal, a worker is running (or will retry) it
            # Its flow resumed above (`recover`); a run started before flows existed
            # resumes as a flow of its own row (a start of a known key is not repeated).
            await self.runner.start(INVESTIGATION, flow_key(
                incident_id=row.incident_id, trigger=row.trigger, investigation_id=row.id), {
                    "incident_id": row.incident_id, "trigger": row.trigger,
                    "investigation_id": row.id})
        await self.dispatcher.recover()
        for companion in self._companions:
            await companion.start()

    async def stop(self) -> None:
        for companion in reversed(self._companions):
            await companion.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runner.close()
        await self.dispatcher.close()

    async def idle(self, timeout: float = 60.0) -> None:
        """Wait for queued Slack updates and running investigations (tests and the demo)."""
        async with asyncio.timeout(timeout):
            while self._tasks or self.dispatcher.depth() or self._flows_running():
                if self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
                if isinstance(self.runner, InProcessRunner):
                    await self.runner.idle(timeout)
                await self.dispatcher.idle(timeout)

    def _flows_running(self) -> bool:
        return isinstance(self.runner, InProcessRunner) and self.runner.busy()

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
        await self._start_flow(incident_id, "reinvestigate", started)
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
            await self._start_flow(incident_id, "auto")

    async def start_investigation(self, incident_id: int, *, trigger: str,
                                  actor: str) -> Investigation:
        """Create the run now and investigate in the background, so a caller (the API) has
        its id at once."""
        await self.store.audit(actor=actor, action="start_investigation",
                               incident_id=incident_id)
        row = await self.store.start_investigation(incident_id, trigger)
        await self._start_flow(incident_id, trigger, row)
        return row

    async def investigate(self, incident_id: int, *, trigger: str,
                          started: Investigation | None = None) -> Report | None:
        """Run the investigation flow's steps here and now, in order, and return the report
        (for callers that want it; flows started through the runner run the same steps)."""
        state: dict[str, Any] = {"incident_id": incident_id, "trigger": trigger,
                                 "investigation_id": started.id if started else None}
        steps = self.investigations
        state.update(await steps.open(state))
        if state.get(STOP):
            return None
        await steps.investigate(state)
        fresh = await self.store.incident(incident_id)
        self.dispatcher.notify(incident_id, fresh.channel)
        row = await self.store.investigation(int(state["investigation_id"]))
        report = Report.model_validate(row.result) if row.status == "done" and row.result \
            else None
        if report is not None and self.on_report is not None:
            try:
                await self.on_report(fresh, report)
            except Exception:
                log.exception("incident %s: follow-up of the report failed", incident_id)
        return report

    async def _start_flow(self, incident_id: int, trigger: str,
                          row: Investigation | None = None) -> None:
        key = flow_key(incident_id=incident_id, trigger=trigger,
                       investigation_id=row.id if row else None)
        await self.runner.start(INVESTIGATION, key, {
            "incident_id": incident_id, "trigger": trigger,
            "investigation_id": row.id if row else None})


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

