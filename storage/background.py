"""Persistence for background work: job runs, error findings, and the digest's queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import col, select

from storage.errors import NotFound
from storage.models import (
    Alert,
    Feedback,
    Finding,
    Incident,
    Investigation,
    JobRun,
    utcnow,
)
from storage.repository import Repository, in_executor

# Which incidents a digest covers: the incidents routed to these channels, or all ("*").
ChannelScope = Sequence[str]


class BackgroundStore(Repository):
    """Build it over a Store's engine and executor: `BackgroundStore.beside(store)`."""

    @classmethod
    def beside(cls, other: Repository) -> BackgroundStore:
        return cls(other.engine, other._executor)

    # ---- job runs --------------------------------------------------------------------------

    @in_executor
    def start_run(self, job: str, *, trigger: str, holder: str) -> JobRun:
        with self._session() as session:
            run = JobRun(job=job, trigger=trigger, holder=holder)
            session.add(run)
            session.commit()
            return run

    @in_executor
    def finish_run(self, run_id: int, *, outcome: str, items: int = 0,
                   summary: str | None = None, error: str | None = None) -> JobRun:
        with self._session() as session:
            run = session.get(JobRun, run_id)
            if run is None:
                raise NotFound(f"job run {run_id}")
            run.outcome, run.items, run.summary = outcome, items, summary
            run.error = error[:2000] if error else None
            run.finished_at = utcnow()
            session.add(run)
            session.commit()
            return run

    @in_executor
    def interrupt_stale_runs(self, job: str) -> int:
        """Mark `running` rows of `job` as interrupted. Call it holding the job's lock: any
        run still marked running then belongs to a process that died."""
        with self._session() as session:
            rows = list(session.exec(select(JobRun).where(JobRun.job == job,
                                                          JobRun.outcome == "running")))
            for run in rows:
                run.outcome = "interrupted"
                run.finished_at = utcnow()
                run.error = f"the process running it ({run.holder}) stopped before it finished"
                session.add(run)
            session.commit()
            return len(rows)

    @in_executor
    def runs(self, job: str | None = None, *, limit: int = 20) -> list[JobRun]:
        with self._session() as session:
            query = select(JobRun).order_by(col(JobRun.id).desc()).limit(limit)
            if job is not None:
                query = query.where(JobRun.job == job)
            return list(session.exec(query))

    # ---- findings --------------------------------------------------------------------------

    @in_executor
    def record_finding(self, finding: Finding) -> tuple[Finding, bool]:
        """Insert a finding, or refresh the one with the same signature. True when new."""
        with self._session() as session:
            existing = session.exec(select(Finding).where(
                Finding.source == finding.source,
                Finding.signature == finding.signature)).first()
            if existing is None:
                session.add(finding)
                session.commit()
                return finding, True
            existing.last_seen = finding.last_seen
            existing.count = finding.count
            session.add(existing)
            session.commit()
            return existing, False

    @in_executor
    def unposted_findings(self) -> list[Finding]:
        with self._session() as session:
            return list(session.exec(select(Finding).where(col(Finding.posted_ts).is_(None))
                                     .order_by(col(Finding.id))))

    @in_executor
    def mark_finding(self, finding_id: int, *, posted_ts: str | None = None,
                     incident_id: int | None = None) -> None:
        with self._session() as session:
            row = session.get(Finding, finding_id)
            if row is None:
                raise NotFound(f"finding {finding_id}")
            if posted_ts is not None:
                row.posted_ts = posted_ts
            if incident_id is not None:
                row.incident_id = incident_id
            session.add(row)
            session.commit()

    @in_executor
    def findings_between(self, since: datetime, until: datetime,
                         channels: ChannelScope = ("*",)) -> list[Finding]:
        with self._session() as session:
            query = select(Finding).where(col(Finding.first_seen) >= since,
                                          col(Finding.first_seen) < until)
            if "*" not in channels:
                query = query.where(col(Finding.channel).in_(list(channels)))
            return list(session.exec(query.order_by(col(Finding.id))))

    # ---- digest ----------------------------------------------------------------------------

    @in_executor
    def incidents_touching(self, scope: ChannelScope, since: datetime,
                           until: datetime) -> list[Incident]:
        """Incidents opened before `until` that were open at some point after `since`."""
        with self._session() as session:
            query = select(Incident).where(
                col(Incident.opened_at) < until,
                or_(col(Incident.resolved_at).is_(None), col(Incident.resolved_at) >= since))
            if "*" not in scope:
                query = query.where(col(Incident.channel).in_(list(scope)))
            return list(session.exec(query.order_by(col(Incident.id))))

    @in_executor
    def first_diagnoses(self, incident_ids: Sequence[int]) -> dict[int, datetime]:
        """When each incident got its first finished investigation."""
        if not incident_ids:
            return {}
        with self._session() as session:
            rows = session.exec(
                select(Investigation.incident_id, func.min(Investigation.finished_at))
                .where(col(Investigation.incident_id).in_(list(incident_ids)),
                       Investigation.status == "done")
                .group_by(col(Investigation.incident_id)))
            return {int(i): t for i, t in rows if i is not None and t is not None}

    @in_executor
    def feedback_for(self, incident_ids: Sequence[int]) -> list[Feedback]:
        if not incident_ids:
            return []
        with self._session() as session:
            return list(session.exec(select(Feedback).where(
                col(Feedback.incident_id).in_(list(incident_ids)))
                .order_by(col(Feedback.id))))

    @in_executor
    def noisiest_alerts(self, scope: ChannelScope, since: datetime, until: datetime, *,
                        limit: int = 5) -> list[tuple[str, str, int]]:
        """(title, service, deliveries) of the alerts that fired most in the window."""
        with self._session() as session:
            query = (select(Alert.title, Alert.service, func.sum(Alert.deliveries))
                     .join(Incident, col(Incident.id) == col(Alert.incident_id))
                     .where(col(Alert.received_at) >= since, col(Alert.received_at) < until)
                     .group_by(col(Alert.title), col(Alert.service))
                     .order_by(func.sum(Alert.deliveries).desc()).limit(limit))
            if "*" not in scope:
                query = query.where(col(Incident.channel).in_(list(scope)))
            return [(t, s, int(n)) for t, s, n in session.exec(query)]
