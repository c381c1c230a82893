"""The investigation flow: open → investigate → show, each step a function of the service
that both runners call (scheduler/flows.py).

Each step may run again (after a restart in-process, after a worker died on Temporal), so
each is keyed: `open` reuses the run's row; `investigate` returns at once when the row already
holds a result; every message (the run's, its progress edits, its result) is queued in the
outbox with the row and posted by `open` and `show` through the dispatcher, which finds a
message that landed by its metadata instead of posting it twice; the Dev agent's follow-up
finds an existing proposal per error. The state carries ids only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from agents.sre.assist import ModelAssist
from agents.sre.context import AlertContext
from agents.sre.grounding import ground
from agents.sre.investigator import Investigator
from agents.sre.report import Progress, Report
from integrations.error_sources.templates import DEFAULT_STATE, TemplateStore
from integrations.redaction import clip
from integrations.telemetry.scoped import ScopedSource
from scheduler.flows import FAILED_REASON, FAILED_STEP, STOP, Flow, State, Step
from storage.models import IncidentStatus, Investigation, utcnow

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)

FLOW = "investigation"
PROGRESS_EDIT_INTERVAL_S = 2.0


def flow_key(*, incident_id: int, trigger: str, investigation_id: int | None) -> str:
    # The automatic run happens once per incident: keyed by the incident, so a second start
    # (two replicas rendering the same incident) is the same flow. Others by their row.
    if investigation_id is None:
        return f"incident-{incident_id}-{trigger}"
    return f"run-{investigation_id}"


class InvestigationSteps:
    def __init__(self, service: Service) -> None:
        self.service = service

    def flow(self) -> Flow:
        # Three steps: each costs a round trip to Temporal, so the thread posts and the Dev
        # agent's follow-up ride with the step before them.
        return Flow(FLOW, (Step("open", self.open, attempts=6),
                           Step("investigate", self.investigate),
                           Step("show", self.show, attempts=8)),
                    on_failure=self.on_failure)

    async def _row(self, state: State) -> Investigation | None:
        store = self.service.store
        if state.get("investigation_id"):
            return await store.investigation(int(state["investigation_id"]))
        latest = await store.latest_investigation(int(state["incident_id"]))
        if latest is not None and latest.trigger == state["trigger"]:
            return latest  # this flow created it before it was cut off
        return None

    async def open(self, state: State) -> State:
        """The run's row, and its "Investigating…" message (queued with it in the outbox)."""
        store = self.service.store
        incident_id, trigger = int(state["incident_id"]), str(state["trigger"])
        incident = await store.incident(incident_id)
        row = await self._row(state)
        if row is None:
            if incident.status == IncidentStatus.RESOLVED and trigger == "auto":
                return {STOP: True}
            row = await store.start_investigation(incident_id, trigger)
        assert row.id is not None
        log.info("incident %s: investigation %s started (%s) on %s %s", incident_id, row.id,
                 trigger, incident.service, incident.signal)
        # Its "Investigating…" message in the thread before the long step, whichever
        # process runs it (Slack down: the dispatcher keeps trying; `show` syncs again).
        await self._post(incident_id, incident.channel, must=False)
        return {"investigation_id": row.id}

    async def investigate(self, state: State) -> State:
        """Run the SRE agent; the result (or the error) is saved in the run's row, which
        queues its final message. A run cut off before is re-tested from the start (the
        statistical engine is deterministic and its queries cheap) in the same message."""
        service, store = self.service, self.service.store
        incident_id = int(state["incident_id"])
        row = await store.investigation(int(state["investigation_id"]))
        if row.status != "running":
            return {}  # an earlier attempt finished it
        assert row.id is not None
        run_id = row.id
        if row.progress:
            log.info("incident %s: investigation %s was cut off after %s hypotheses; resuming "
                     "it in the same thread message", incident_id, run_id,
                     row.progress.get("tested", 0))
            await store.resume_investigation(row)
        incident = await store.incident(incident_id)
        alerts = await store.incident_alerts(incident_id)
        source = service.telemetry_for(incident, alerts) if service.telemetry_for else None
        service.dispatcher.notify(incident_id, incident.channel)
        last_edit = time.monotonic()

        async def on_progress(progress: Progress) -> None:
            nonlocal last_edit
            if time.monotonic() - last_edit < PROGRESS_EDIT_INTERVAL_S:
                return
            last_edit = time.monotonic()
            row.progress = progress.model_dump()
            await store.save_progress(run_id, row.progress)
            service.dispatcher.notify(incident_id, incident.channel)

        try:
            if source is None:
                raise RuntimeError("no telemetry source is configured "
                                   "(set PROMETHEUS_URL and/or LOKI_URL)")
            assist = (ModelAssist(service.model, incident_id=incident_id,
                                  investigation_id=run_id)
                      if service.model is not None else None)
            investigator = Investigator(source, budget=service.budget, assist=assist,
                                        templates=TemplateStore(DEFAULT_STATE))
            context = AlertContext.from_incident(incident, alerts,
                                                 lookback_minutes=service.lookback_minutes)
            if isinstance(source, ScopedSource):
                await source.resolve()
            if isinstance(source, ScopedSource) and source.scope.service:
                # The label the alert's own labels picked names the service in the telemetry.
                context = replace(context, service=source.scope.service)
                if source.scope.service != incident.service:  # found through its instance
                    incident = await store.set_service(incident_id, source.scope.service)
                    service.dispatcher.notify(incident_id, incident.channel)
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
            _log_result(incident_id, run_id, report)
            service.metrics.investigations.inc(
                outcome="abstained" if report.abstained else "done")
        except Exception as exc:
            # A failed investigation is a result: its error is shown in the thread.
            log.exception("incident %s: investigation %s failed", incident_id, run_id)
            row.status = "failed"
            row.error = clip(str(exc), 2000)
            service.metrics.investigations.inc(outcome="failed")
        row.finished_at = utcnow()
        await store.save_investigation(row)  # queues the final message
        return {}

    async def _post(self, incident_id: int, channel: str, *, must: bool) -> None:
        """What the outbox holds for the thread posted now, through the dispatcher (a
        message that landed is found by its metadata, never posted twice)."""
        dispatcher = self.service.dispatcher
        try:
            await dispatcher.sync_now(incident_id)
        except Exception:
            dispatcher.notify(incident_id, channel)  # retried there too
            if must:
                raise
            log.warning("incident %s: posting to the thread failed; retried in the "
                        "background", incident_id, exc_info=True)

    async def show(self, state: State) -> State:
        """The result into the thread, then the Dev agent's look at a deploy the report
        blames (it finds its own earlier proposal for the same error: running this step
        twice offers once)."""
        service = self.service
        incident = await service.store.incident(int(state["incident_id"]))
        await self._post(int(state["incident_id"]), incident.channel, must=True)
        if service.on_report is None:
            return {}
        row = await service.store.investigation(int(state["investigation_id"]))
        if row.status != "done" or not row.result:
            return {}
        report = Report.model_validate(row.result)
        fresh = await service.store.incident(int(state["incident_id"]))
        await service.on_report(fresh, report)
        return {}

    async def on_failure(self, state: State) -> State:
        """A step used its attempts: the run ends failed with the reason, shown in its
        thread message like any other failed run."""
        store = self.service.store
        reason = f"step {state.get(FAILED_STEP)} failed: {state.get(FAILED_REASON)}"
        incident_id = int(state["incident_id"])
        row = await self._row(state)
        if row is None:  # it failed before its row existed: a failed run says why
            row = await store.start_investigation(incident_id, str(state["trigger"]))
        if row.status == "running":
            row.status, row.error, row.finished_at = "failed", clip(reason, 2000), utcnow()
            await store.save_investigation(row)  # queues the final message, with the reason
        await self.service.dispatcher.sync_now(incident_id)
        return {}


def _log_result(incident_id: int, investigation_id: int | None, report: Report) -> None:
    s = report.stats
    if report.abstained or not report.root_causes:
        verdict = "no confident root cause"
    else:
        top = report.root_causes[0]
        verdict = f"cause {top.service} {top.kind} ({top.confidence:.0%})"
    log.info("incident %s: investigation %s finished in %.1fs: %s; %d queries", incident_id,
             investigation_id, s.elapsed_s, verdict, s.queries)
