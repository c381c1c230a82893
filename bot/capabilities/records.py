"""Incidents, investigations and findings: what a responder reads and does in a thread, as
functions an agent can call. Every write names its caller in the audit log."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.capabilities.errors import InvalidArgument, NotFoundError
from bot.capabilities.paging import (
    BUDGET_CHARS,
    paged,
)
from bot.capabilities.tokens import Principal
from bot.capabilities.views import (
    Accepted,
    AlertView,
    AuditView,
    CauseView,
    EvidenceView,
    FeedbackAdded,
    FindingPage,
    FindingView,
    HypothesisView,
    IncidentDetail,
    IncidentPage,
    IncidentSummary,
    InvestigationDetail,
    InvestigationPage,
    InvestigationSummary,
    NoteAdded,
)
from bot.service import Service
from integrations.redaction import clip, redact
from storage.api import ApiStore, FindingFilter, IncidentFilter
from storage.errors import NotFound
from storage.models import Finding, Incident, IncidentStatus, Investigation, Severity
from storage.thread_events import Note

NOTE_MAX_CHARS = 3000
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
VERDICTS = ("up", "down", "wrong_cause")


class Records:
    def __init__(self, *, service: Service, api_store: ApiStore,
                 slack_url: str | None,
                 public_url: str) -> None:
        self.service = service
        self.store = service.store
        self.api_store = api_store
        self.slack_url = slack_url.rstrip("/") if slack_url else None
        self.public_url = public_url.rstrip("/")

    # ---- views -----------------------------------------------------------------------------

    def permalink(self, channel: str | None, ts: str | None) -> str | None:
        if self.slack_url is None or not channel or not ts:
            return None
        return f"{self.slack_url}/archives/{channel}/p{ts.replace('.', '')}"

    def incident_summary(self, row: Incident) -> IncidentSummary:
        assert row.id is not None
        return IncidentSummary(
            id=row.id, title=redact(row.title), service=row.service, status=row.status,
            severity=row.severity, signal=row.signal, source=row.source, channel=row.channel,
            opened_at=row.opened_at, resolved_at=row.resolved_at, alert_count=row.alert_count,
            firing_count=row.firing_count,
            slack_permalink=self.permalink(row.slack_channel, row.slack_ts))

    def investigation_summary(self, row: Investigation, incident: Incident | None = None,
                              ) -> InvestigationSummary:
        assert row.id is not None
        channel = incident.slack_channel if incident is not None else None
        return InvestigationSummary(
            id=row.id, incident_id=row.incident_id, status=row.status, trigger=row.trigger,
            started_at=row.started_at, finished_at=row.finished_at, abstained=row.abstained,
            top_service=row.top_service, top_kind=row.top_kind, confidence=row.confidence,
            slack_permalink=self.permalink(channel, row.slack_ts))

    def finding_view(self, row: Finding) -> FindingView:
        assert row.id is not None
        return FindingView(
            id=row.id, source=row.source, signature=row.signature, service=row.service,
            kind=row.kind, severity=row.severity, title=redact(row.title),
            count=row.count, baseline_per_hour=row.baseline_per_hour,
            first_seen=row.first_seen, last_seen=row.last_seen, link=row.link,
            incident_id=row.incident_id, example=clip(row.example, 600),
            # Findings keep the channel as configured (a name); Slack links need its id.
            slack_permalink=self.permalink(row.channel if _CHANNEL_ID.match(row.channel)
                                           else None, row.posted_ts))

    # ---- incidents -------------------------------------------------------------------------

    async def list_incidents(self, *, status: str | None = None, service: str | None = None,
                             severity: str | None = None, channel: str | None = None,
                             since: datetime | None = None, cursor: str | None = None,
                             limit: int | None = None) -> IncidentPage:
        if status and status not in {s.value for s in IncidentStatus}:
            raise InvalidArgument(f"status must be one of "
                                  f"{', '.join(s.value for s in IncidentStatus)}")
        if severity and severity not in {s.value for s in Severity}:
            raise InvalidArgument(f"severity must be one of "
                                  f"{', '.join(s.value for s in Severity)}")
        where = IncidentFilter(status=status, service=service, severity=severity,
                               channel=channel, since=since)
        return await paged(
            IncidentPage, "list_incidents",
            {"status": status, "service": service, "severity": severity, "channel": channel,
             "since": since},
            cursor=cursor, limit=limit, view=self.incident_summary,
            fetch=lambda before, n: self.api_store.incidents(where, before_id=before, limit=n))

    async def get_incident(self, incident_id: int) -> IncidentDetail:
        try:
            incident, alerts, total, audit = await self.api_store.incident_detail(
                incident_id, alerts=20, audit=10)
        except NotFound:
            raise NotFoundError(f"no incident {incident_id}", next_tool="list_incidents") \
                from None
        latest = await self.store.latest_investigation(incident_id)
        summary = self.incident_summary(incident)
        detail = IncidentDetail(
            **summary.model_dump(), acknowledged_by=incident.acknowledged_by,
            acknowledged_at=incident.acknowledged_at, resolved_by=incident.resolved_by,
            source_url=incident.source_url,
            alerts=[AlertView(id=a.id or 0, source=a.source, status=a.status, service=a.service,
                              title=redact(a.title), started_at=a.started_at,
                              ended_at=a.ended_at,
                              labels={k: clip(str(v), 200)
                                      for k, v in list(a.labels.items())[:20]})
                    for a in alerts],
            alerts_shown=len(alerts),
            latest_investigation=(self.investigation_summary(latest, incident)
                                  if latest is not None else None),
            recent_actions=[AuditView(at=e.at, actor=e.actor, action=e.action) for e in audit])
        detail.alert_count = max(detail.alert_count, total)
        while len(detail.model_dump_json()) > BUDGET_CHARS and detail.alerts:
            detail.alerts.pop()
            detail.alerts_shown = len(detail.alerts)
        return detail

    async def _incident(self, incident_id: int) -> Incident:
        try:
            return await self.store.incident(incident_id)
        except NotFound:
            raise NotFoundError(f"no incident {incident_id}", next_tool="list_incidents") \
                from None

    async def add_incident_note(self, principal: Principal, incident_id: int,
                                text: str) -> NoteAdded:
        incident = await self._incident(incident_id)
        body = text.strip()
        if not body:
            raise InvalidArgument("text is empty")
        if len(body) > NOTE_MAX_CHARS:
            raise InvalidArgument(f"text is longer than {NOTE_MAX_CHARS} characters")
        # Kept masked; the surface that shows it escapes it (bot/thread_text.py).
        await self.store.add_event(incident_id, Note(author=principal.actor, text=redact(body)))
        await self.store.audit(actor=principal.actor, action="api_note",
                               incident_id=incident_id, detail={"chars": len(body)})
        self.service.dispatcher.notify(incident_id, incident.channel)
        return NoteAdded(incident_id=incident_id,
                         slack_permalink=self.permalink(incident.slack_channel,
                                                        incident.slack_ts))

    async def change_incident(self, principal: Principal, incident_id: int,
                              action: str) -> IncidentDetail:
        """Acknowledge, resolve or reopen, as the thread's buttons do (the same lifecycle
        functions, so a repeat changes nothing); an audit event names the token."""
        await self._incident(incident_id)
        change = {"acknowledge": self.service.acknowledge, "resolve": self.service.resolve,
                  "reopen": self.service.reopen}.get(action)
        if change is None:
            raise InvalidArgument("action must be one of acknowledge, resolve, reopen")
        await change(incident_id, principal.actor)
        await self.store.audit(actor=principal.actor, action=f"api_{action}",
                               incident_id=incident_id, detail={})
        return await self.get_incident(incident_id)

    # ---- investigations --------------------------------------------------------------------

    async def list_investigations(self, *, incident_id: int | None = None,
                                  status: str | None = None, cursor: str | None = None,
                                  limit: int | None = None) -> InvestigationPage:
        if status and status not in ("running", "done", "failed"):
            raise InvalidArgument("status must be one of running, done, failed")
        return await paged(
            InvestigationPage, "list_investigations",
            {"incident_id": incident_id, "status": status},
            cursor=cursor, limit=limit, view=self.investigation_summary,
            fetch=lambda before, n: self.api_store.investigations(
                incident_id=incident_id, status=status, before_id=before, limit=n))

    async def _investigation(self, investigation_id: int) -> Investigation:
        try:
            return await self.store.investigation(investigation_id)
        except NotFound:
            raise NotFoundError(f"no investigation {investigation_id}",
                                next_tool="list_investigations") from None

    async def get_investigation(self, investigation_id: int) -> InvestigationDetail:
        row = await self._investigation(investigation_id)
        incident = (await self.store.incident(row.incident_id)
                    if row.incident_id is not None else None)
        result: dict[str, Any] = row.result or {}
        causes = [CauseView(service=str(c.get("service", "")), kind=str(c.get("kind", "")),
                            confidence=float(c.get("confidence", 0.0)),
                            summary=clip(str(c.get("summary", "")), 400),
                            evidence=[str(e) for e in c.get("evidence", [])][:10])
                  for c in result.get("root_causes", [])[:5]]
        evidence = [EvidenceView(id=str(e.get("id", "")),
                                 query=clip(str(e.get("query", "")), 300),
                                 finding=clip(str(e.get("finding", "")), 400),
                                 status=e.get("status"), link=e.get("link"))
                    for e in result.get("evidence", [])]
        hypotheses = [HypothesisView(id=str(h.get("id", "")),
                                     statement=clip(str(h.get("statement", "")),
                                                    300),
                                     status=str(h.get("status", "")))
                      for h in _flatten(result.get("hypotheses", []))]
        # Evidence cited by a cause first: it is what a reader checks.
        cited = {e for c in causes for e in c.evidence}
        evidence.sort(key=lambda e: e.id not in cited)
        detail = InvestigationDetail(
            **self.investigation_summary(row, incident).model_dump(),
            summary=clip(str(result.get("summary", "")), 2000),
            root_causes=causes, hypotheses=hypotheses, hypotheses_total=len(hypotheses),
            evidence=evidence, evidence_total=len(evidence), queries=row.queries,
            llm_calls=row.llm_calls, error=clip(row.error, 500) if row.error else None)
        cut = False
        while len(detail.model_dump_json()) > BUDGET_CHARS and (detail.evidence
                                                                 or detail.hypotheses):
            cut = True
            if len(detail.evidence) >= len(detail.hypotheses) and detail.evidence:
                detail.evidence.pop()
            else:
                detail.hypotheses.pop()
        if cut:
            detail.note = (f"showing {len(detail.evidence)} of {detail.evidence_total} evidence "
                           f"and {len(detail.hypotheses)} of {detail.hypotheses_total} "
                           f"hypotheses; the full report is the resource "
                           f"nightowl://investigations/{investigation_id}/report.md")
        return detail

    async def investigation_report(self, investigation_id: int) -> str:
        """The investigation as Markdown, for people and for models (bounded)."""
        detail = await self.get_investigation(investigation_id)
        lines = [f"# Investigation {detail.id}"
                 + (f" of incident {detail.incident_id}" if detail.incident_id else ""),
                 "", f"Status: {detail.status} (started {detail.started_at:%Y-%m-%d %H:%M} "
                     f"UTC, trigger {detail.trigger})"]
        if detail.slack_permalink:
            lines.append(f"Thread: {detail.slack_permalink}")
        if detail.error:
            lines += ["", f"**Failed**: {detail.error}"]
        lines += ["", "## Root cause" if not detail.abstained else "## No confident root cause"]
        for n, cause in enumerate(detail.root_causes, 1):
            lines.append(f"{n}. **{cause.service}** ({cause.kind}), confidence "
                         f"{cause.confidence:.0%}: {cause.summary} "
                         f"[evidence: {', '.join(cause.evidence) or 'none'}]")
        if detail.summary:
            lines += ["", detail.summary]
        if detail.evidence:
            lines += ["", "## Evidence", "", "| id | query | finding |", "|---|---|---|"]
            lines += [f"| {e.id} | `{e.query.replace('|', '/')}` | "
                      f"{e.finding.replace('|', '/')} |" for e in detail.evidence]
        if detail.hypotheses:
            lines += ["", "## Hypotheses", ""]
            lines += [f"- [{h.status}] {h.statement}" for h in detail.hypotheses]
        if detail.note:
            lines += ["", f"_{detail.note}_"]
        return "\n".join(lines)[:BUDGET_CHARS]

    async def start_investigation(self, principal: Principal, incident_id: int, *,
                                  idempotency_key: str | None = None) -> Accepted:
        incident = await self._incident(incident_id)
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            raise InvalidArgument("idempotency_key must be 1 to 255 characters")
        if idempotency_key:
            seen = await self.api_store.remembered(principal.name, idempotency_key)
            if seen is not None:
                return await self._accepted(seen.result_id)
        running = await self.api_store.investigations(incident_id=incident_id,
                                                       status="running", before_id=None,
                                                       limit=1)
        if running and running[0].id is not None:
            investigation_id = running[0].id  # one run at a time per incident
        else:
            if incident.status == IncidentStatus.RESOLVED:
                raise InvalidArgument(f"incident {incident_id} is resolved",
                                      next_tool="get_incident")
            row = await self.service.start_investigation(incident_id, trigger="api",
                                                         actor=principal.actor)
            assert row.id is not None
            investigation_id = row.id
        if idempotency_key:
            kept = await self.api_store.remember(principal.name, idempotency_key,
                                                 operation="start_investigation",
                                                 result_id=investigation_id)
            investigation_id = kept.result_id
        return await self._accepted(investigation_id)

    async def _accepted(self, investigation_id: int) -> Accepted:
        row = await self._investigation(investigation_id)
        return Accepted(id=investigation_id, status=row.status,
                        location=f"{self.public_url}/api/v1/investigations/{investigation_id}")

    async def add_feedback(self, principal: Principal, investigation_id: int, verdict: str, *,
                           correct_service: str | None = None,
                           comment: str | None = None) -> FeedbackAdded:
        if verdict not in VERDICTS:
            raise InvalidArgument(f"verdict must be one of {', '.join(VERDICTS)}")
        if verdict == "wrong_cause" and not correct_service:
            raise InvalidArgument("a wrong_cause verdict needs correct_service")
        if comment is not None and len(comment) > NOTE_MAX_CHARS:
            raise InvalidArgument(f"comment is longer than {NOTE_MAX_CHARS} characters")
        await self._investigation(investigation_id)
        await self.service.record_feedback(
            investigation_id, principal.actor, verdict,
            correct_service=correct_service,
            comment=redact(comment) if comment else None)
        return FeedbackAdded(investigation_id=investigation_id, verdict=verdict)

    # ---- findings --------------------------------------------------------------------------

    async def list_findings(self, *, source: str | None = None, service: str | None = None,
                            kind: str | None = None, cursor: str | None = None,
                            limit: int | None = None) -> FindingPage:
        where = FindingFilter(source=source, service=service, kind=kind)
        return await paged(
            FindingPage, "list_findings", {"source": source, "service": service, "kind": kind},
            cursor=cursor, limit=limit, view=self.finding_view,
            fetch=lambda before, n: self.api_store.findings(where, before_id=before, limit=n))

    async def get_finding(self, finding_id: int) -> FindingView:
        try:
            return self.finding_view(await self.api_store.finding(finding_id))
        except NotFound:
            raise NotFoundError(f"no finding {finding_id}", next_tool="list_findings") \
                from None


def _flatten(nodes: Sequence[Any]) -> list[dict[str, Any]]:
    """Hypotheses come as a tree; a reader wants them in order, parents first."""
    out: list[dict[str, Any]] = []
    stack = [n for n in reversed(list(nodes)) if isinstance(n, dict)]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(c for c in reversed(node.get("children", [])) if isinstance(c, dict))
    return out
