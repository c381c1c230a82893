"""Persistence for the agent-first API: paged listings, idempotency keys and eval runs.

Listings page by id, newest first (`before_id` is the last id of the previous page), so a
page costs one indexed range scan however many rows the table holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import SQLModel, col, func, select

from storage.errors import NotFound
from storage.models import (
    Alert,
    ApiRequest,
    AuditEvent,
    ContainmentApproval,
    EvalRun,
    Finding,
    FixProposal,
    Incident,
    Investigation,
    PullRequest,
    SecurityCase,
    utcnow,
)
from storage.repository import Repository, in_executor

M = TypeVar("M", bound=SQLModel)


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: str | None = None
    service: str | None = None
    severity: str | None = None
    channel: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class FindingFilter:
    source: str | None = None
    service: str | None = None
    kind: str | None = None


class ApiStore(Repository):
    """Build it over a Store's engine and executor: `ApiStore.beside(store)`."""

    @classmethod
    def beside(cls, other: Repository) -> ApiStore:
        return cls(other.engine, other._executor)

    # ---- listings --------------------------------------------------------------------------

    def _newest_first(self, model: type[M], *, before_id: int | None, limit: int,
                      equal: Sequence[tuple[Any, object]] = (), where: Sequence[Any] = (),
                      options: Sequence[Any] = ()) -> list[M]:
        """Rows of `model` newest first, before `before_id`: each (column, value) in `equal`
        filters only when the value is given (None or "" means any)."""
        ident = col(model.id)  # type: ignore[attr-defined]
        query = select(model).options(*options)
        for column, value in equal:
            if value not in (None, ""):
                query = query.where(column == value)
        for condition in where:
            query = query.where(condition)
        if before_id is not None:
            query = query.where(ident < before_id)
        with self._session() as session:
            return list(session.exec(query.order_by(ident.desc()).limit(limit)))

    @in_executor
    def incidents(self, where: IncidentFilter, *, before_id: int | None,
                  limit: int) -> list[Incident]:
        return self._newest_first(
            Incident, before_id=before_id, limit=limit,
            equal=[(Incident.status, where.status), (Incident.service, where.service),
                   (Incident.severity, where.severity), (Incident.channel, where.channel)],
            where=[col(Incident.opened_at) >= where.since] if where.since else [])

    @in_executor
    def incident_detail(self, incident_id: int, *, alerts: int, audit: int,
                        ) -> tuple[Incident, list[Alert], int, list[AuditEvent]]:
        """The incident, its newest alerts, how many it has in all, and its newest audit
        events."""
        with self._session() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"incident {incident_id}")
            rows = list(session.exec(
                select(Alert).where(Alert.incident_id == incident_id)
                .order_by(col(Alert.id).desc()).limit(alerts)))
            total = session.exec(select(func.count()).select_from(Alert)
                                 .where(Alert.incident_id == incident_id)).one()
            events = list(session.exec(
                select(AuditEvent).where(AuditEvent.incident_id == incident_id)
                .order_by(col(AuditEvent.id).desc()).limit(audit)))
            return incident, rows, int(total), events

    @in_executor
    def investigations(self, *, incident_id: int | None, status: str | None,
                       before_id: int | None, limit: int) -> list[Investigation]:
        # A listing shows summaries: the result and checkpoint documents stay in the database.
        return self._newest_first(
            Investigation, before_id=before_id, limit=limit,
            equal=[(Investigation.incident_id, incident_id), (Investigation.status, status)],
            options=[defer(Investigation.result),  # type: ignore[arg-type]
                     defer(Investigation.progress)])  # type: ignore[arg-type]

    @in_executor
    def findings(self, where: FindingFilter, *, before_id: int | None,
                 limit: int) -> list[Finding]:
        return self._newest_first(
            Finding, before_id=before_id, limit=limit,
            equal=[(Finding.source, where.source), (Finding.service, where.service),
                   (Finding.kind, where.kind)])

    @in_executor
    def finding(self, finding_id: int) -> Finding:
        with self._session() as session:
            row = session.get(Finding, finding_id)
            if row is None:
                raise NotFound(f"finding {finding_id}")
            return row

    @in_executor
    def security_cases(self, *, status: str | None, verdict: str | None,
                       before_id: int | None, limit: int) -> list[SecurityCase]:
        return self._newest_first(
            SecurityCase, before_id=before_id, limit=limit,
            equal=[(SecurityCase.status, status), (SecurityCase.verdict, verdict)],
            options=[defer(SecurityCase.triage),  # type: ignore[arg-type]
                     defer(SecurityCase.context)])  # type: ignore[arg-type]

    @in_executor
    def security_case(self, case_id: int) -> tuple[SecurityCase, list[ContainmentApproval]]:
        with self._session() as session:
            row = session.get(SecurityCase, case_id)
            if row is None:
                raise NotFound(f"security case {case_id}")
            approvals = list(session.exec(select(ContainmentApproval).where(
                ContainmentApproval.case_id == case_id).order_by(col(ContainmentApproval.id))))
            return row, approvals

    @in_executor
    def pull_requests(self, *, state: str | None, repository: str | None,
                      before_id: int | None, limit: int) -> list[PullRequest]:
        return self._newest_first(
            PullRequest, before_id=before_id, limit=limit,
            equal=[(PullRequest.state, state), (PullRequest.repository, repository)])

    @in_executor
    def pull_request(self, pull_id: int) -> tuple[PullRequest, FixProposal | None]:
        with self._session() as session:
            row = session.get(PullRequest, pull_id)
            if row is None:
                raise NotFound(f"pull request {pull_id}")
            proposal = (session.get(FixProposal, row.proposal_id)
                        if row.proposal_id is not None else None)
            return row, proposal

    # ---- idempotency -----------------------------------------------------------------------

    @in_executor
    def remembered(self, token_name: str, key: str) -> ApiRequest | None:
        with self._session() as session:
            return session.exec(select(ApiRequest).where(
                ApiRequest.token_name == token_name, ApiRequest.key == key)).first()

    @in_executor
    def remember(self, token_name: str, key: str, *, operation: str,
                 result_id: int) -> ApiRequest:
        """Record the answer to a keyed request; if a concurrent request with the same key won
        the race, its answer is the one returned."""
        with self._session() as session:
            row = ApiRequest(token_name=token_name, key=key, operation=operation,
                             result_id=result_id)
            session.add(row)
            try:
                session.commit()
                return row
            except IntegrityError:
                session.rollback()
                winner = session.exec(select(ApiRequest).where(
                    ApiRequest.token_name == token_name, ApiRequest.key == key)).one()
                return winner

    # ---- eval runs -------------------------------------------------------------------------

    @in_executor
    def create_eval_run(self, *, suites: Sequence[str], seed: int, by: str) -> EvalRun:
        """The run and its audit event, in one transaction: every API write names its token."""
        with self._session() as session:
            row = EvalRun(suites=list(suites), seed=seed, requested_by=by)
            session.add(row)
            session.flush()
            session.add(AuditEvent(actor=by, action="run_eval", incident_id=None,
                                   detail={"eval_run_id": row.id, "suites": list(suites),
                                           "seed": seed}))
            session.commit()
            return row

    @in_executor
    def eval_run(self, run_id: int) -> EvalRun:
        with self._session() as session:
            row = session.get(EvalRun, run_id)
            if row is None:
                raise NotFound(f"eval run {run_id}")
            return row

    @in_executor
    def eval_runs(self, *, before_id: int | None, limit: int) -> list[EvalRun]:
        return self._newest_first(EvalRun, before_id=before_id, limit=limit)

    @in_executor
    def update_eval_run(self, run_id: int, *, status: str, started_at: datetime | None = None,
                        finished_at: datetime | None = None,
                        results: list[dict[str, Any]] | None = None,
                        error: str | None = None) -> EvalRun:
        with self._session() as session:
            row = session.get(EvalRun, run_id)
            if row is None:
                raise NotFound(f"eval run {run_id}")
            row.status = status
            if started_at is not None:
                row.started_at = started_at
            if finished_at is not None:
                row.finished_at = finished_at
            if results is not None:
                row.results = results
            if error is not None:
                row.error = error
            session.add(row)
            session.commit()
            return row

    @in_executor
    def interrupt_eval_runs(self) -> int:
        """Runs a previous process left queued or running will not finish: say so."""
        with self._session() as session:
            rows = list(session.exec(select(EvalRun).where(
                col(EvalRun.status).in_(("queued", "running")))))
            for row in rows:
                row.status, row.error, row.finished_at = "failed", "interrupted", utcnow()
                session.add(row)
            session.commit()
            return len(rows)
