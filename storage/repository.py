"""Persistence for the service: one `Store`, async at its surface.

`Store` is the intake (storage.intake) plus the incident, thread and investigation queries
below. The lifecycle's rules are storage.lifecycle's and the thread's events are data
(storage.thread_events): this module only reads and persists them. Each public method runs on
the store's executor (storage.base).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, load_only
from sqlmodel import Session, col, select

from storage import lifecycle
from storage.base import Repository, in_executor
from storage.errors import NotFound
from storage.intake import INTAKE_BATCH, Intake, IntakeOutcome
from storage.models import (
    Alert,
    AuditEvent,
    DeadLetter,
    Feedback,
    Incident,
    IncidentStatus,
    Investigation,
    SlackEventSeen,
    ThreadUpdate,
    as_utc,
    utcnow,
)
from storage.thread_events import (
    InvestigationFinished,
    InvestigationProgress,
    InvestigationStarted,
    ThreadEvent,
)

__all__ = ["INTAKE_BATCH", "IntakeOutcome", "Repository", "Store", "in_executor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NotNow:
    """Why a run was not started: one is `running`, or one started `age_s` ago, within the
    cooldown (`wait_s` until the next may start)."""

    running: bool
    age_s: int = 0
    wait_s: int = 0


class Store(Intake):
    """The service's own queries: intake, incidents, threads, investigations, feedback.

    Background work (job runs, findings, reports) and the model ledger have their own
    repositories sharing this store's executor (`storage.background`, `storage.ledger`).
    """

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()

    # ---- incidents ------------------------------------------------------------------------

    @in_executor
    def incident(self, incident_id: int) -> Incident:
        with self._session() as session:
            row = session.get(Incident, incident_id)
            if row is None:
                raise NotFound(f"incident {incident_id}")
            return row

    @in_executor
    def incident_by_thread(self, channel: str, ts: str) -> Incident | None:
        """The incident whose root message is `ts` in `channel` (a Slack thread's parent)."""
        with self._session() as session:
            return session.exec(select(Incident).where(
                Incident.slack_channel == channel, Incident.slack_ts == ts)).first()

    @in_executor
    def incident_alerts(self, incident_id: int) -> list[Alert]:
        with self._session() as session:
            return list(
                session.exec(
                    select(Alert).where(Alert.incident_id == incident_id).order_by(col(Alert.id))
                )
            )

    @in_executor
    def incident_alert_states(self, incident_id: int) -> list[Alert]:
        """The incident's alerts as its root message shows them (when each started, whether
        it fires, what it is), without their labels and raw payloads: the root is edited on
        every change, and in a storm an incident holds thousands of alerts."""
        with self._session() as session:
            return list(session.exec(
                select(Alert).where(Alert.incident_id == incident_id)
                .options(load_only(*_ALERT_STATE, raiseload=True))
                .order_by(col(Alert.id))))

    @in_executor
    def open_incidents(self, *, limit: int = 50) -> list[Incident]:
        with self._session() as session:
            return list(
                session.exec(
                    select(Incident)
                    .where(Incident.status != IncidentStatus.RESOLVED)
                    .order_by(col(Incident.opened_at).desc())
                    .limit(limit)
                )
            )

    @in_executor
    def counts(self) -> dict[str, int]:
        with self._session() as session:
            open_incidents = session.exec(
                select(func.count()).select_from(Incident)
                .where(Incident.status != IncidentStatus.RESOLVED)
            ).one()
            dead = session.exec(select(func.count()).select_from(DeadLetter)).one()
            return {"incidents_open": int(open_incidents), "dead_letters": int(dead)}

    @in_executor
    def set_service(self, incident_id: int, service: str) -> Incident:
        """Name the service its investigation found the alert's telemetry under."""
        with self._session() as session:
            incident = _get_incident(session, incident_id)
            if lifecycle.service_found(incident, service, utcnow()):
                session.add(incident)
                session.commit()
            return incident

    @in_executor
    def acknowledge(self, incident_id: int, user: str) -> tuple[Incident, bool]:
        """Returns the incident and whether this click changed anything."""
        return self._transition(incident_id, user, "acknowledge", lifecycle.acknowledge)

    @in_executor
    def resolve(self, incident_id: int, user: str) -> tuple[Incident, bool]:
        return self._transition(incident_id, user, "resolve", lifecycle.resolve)

    @in_executor
    def reopen(self, incident_id: int, user: str) -> tuple[Incident, bool]:
        return self._transition(incident_id, user, "reopen", lifecycle.reopen)

    def _transition(self, incident_id: int, user: str, action: str,
                    change: Any) -> tuple[Incident, bool]:
        """A person's action on an incident: audited whether or not it changed anything,
        and persisted with the thread events the lifecycle says it produces."""
        with self._session() as session:
            incident = _get_incident(session, incident_id)
            session.add(AuditEvent(actor=user, action=action, incident_id=incident_id))
            events: list[ThreadEvent] = change(incident, user, utcnow())
            if events:
                session.add(incident)
                _add_events(session, incident_id, events)
            session.commit()
            return incident, bool(events)

    @in_executor
    def audit(self, *, actor: str, action: str, incident_id: int | None,
              detail: dict[str, Any] | None = None) -> None:
        with self._session() as session:
            session.add(AuditEvent(actor=actor, action=action, incident_id=incident_id,
                                   detail=detail or {}))
            session.commit()

    @in_executor
    def audit_events(self, incident_id: int) -> list[AuditEvent]:
        with self._session() as session:
            return list(session.exec(
                select(AuditEvent).where(AuditEvent.incident_id == incident_id)
                .order_by(col(AuditEvent.id))))

    @in_executor
    def add_event(self, incident_id: int, event: ThreadEvent) -> None:
        """Queue a thread event (the dispatcher renders and posts it)."""
        with self._session() as session:
            _add_events(session, incident_id, [event])
            session.commit()

    # ---- rendering (the outbox) -----------------------------------------------------------

    @in_executor
    def incidents_to_render(self) -> list[int]:
        """Incidents whose Slack view is behind: a new version or unposted thread replies."""
        with self._session() as session:
            stale = session.exec(
                select(Incident.id).where(Incident.version > Incident.rendered_version)
            ).all()
            pending = session.exec(
                select(ThreadUpdate.incident_id).where(col(ThreadUpdate.posted_ts).is_(None))
                .distinct()
            ).all()
            return sorted({i for i in [*stale, *pending] if i is not None})

    @in_executor
    def pending_updates(self, incident_id: int) -> list[ThreadUpdate]:
        with self._session() as session:
            return list(session.exec(
                select(ThreadUpdate)
                .where(ThreadUpdate.incident_id == incident_id)
                .where(col(ThreadUpdate.posted_ts).is_(None))
                .order_by(col(ThreadUpdate.id))))

    @in_executor
    def mark_posted(self, update_ids: Sequence[int], ts: str) -> None:
        ids = list(update_ids)
        with self._session() as session:
            for i in range(0, len(ids), 500):  # a storm's backlog, in a few statements
                session.execute(update(ThreadUpdate)
                                .where(col(ThreadUpdate.id).in_(ids[i:i + 500]))
                                .values(posted_ts=ts))
            session.commit()

    @in_executor
    def mark_rendered(self, incident_id: int, *, version: int, channel: str, ts: str) -> None:
        with self._session() as session:
            incident = _get_incident(session, incident_id)
            incident.rendered_version = max(incident.rendered_version, version)
            if not incident.slack_ts:
                incident.slack_ts = ts
                incident.slack_channel = channel
            session.add(incident)
            session.commit()

    # ---- Slack bookkeeping ----------------------------------------------------------------

    @in_executor
    def first_sighting(self, event_id: str) -> bool:
        """Record a Slack event id; False when it was seen before (a retry)."""
        with self._session() as session:
            session.add(SlackEventSeen(event_id=event_id))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

    # ---- investigations -------------------------------------------------------------------

    @in_executor
    def start_investigation(self, incident_id: int | None, trigger: str) -> Investigation:
        """A new run, with its "Investigating…" message queued in the same transaction."""
        started = self._start(incident_id, trigger, None, None)
        assert isinstance(started, Investigation)
        return started

    @in_executor
    def claim_investigation(self, incident_id: int, trigger: str, *, cooldown_s: float,
                            stuck_s: float) -> Investigation | NotNow:
        """A new run, unless one of the incident's runs is still running (and younger than
        `stuck_s`) or started within `cooldown_s`: then why not. The cooldown is claimed by
        a conditional UPDATE of the incident's row, so replicas racing on one incident
        cannot both pass it (PostgreSQL re-checks the condition once it holds the row lock;
        SQLite has one writer)."""
        return self._start(incident_id, trigger, cooldown_s, stuck_s)

    def _start(self, incident_id: int | None, trigger: str, cooldown_s: float | None,
               stuck_s: float | None) -> Investigation | NotNow:
        with self._session() as session:
            now = utcnow()
            if incident_id is not None and cooldown_s is not None:
                refusal = _claim(session, incident_id, now, cooldown_s, stuck_s)
                if refusal is not None:
                    session.rollback()
                    return refusal
            row = Investigation(incident_id=incident_id, trigger=trigger, started_at=now)
            session.add(row)
            if incident_id is not None:
                incident = _get_incident(session, incident_id)
                lifecycle.investigation_started(incident, now)
                session.add(incident)
                session.flush()
                assert row.id is not None
                _add_events(session, incident_id, [InvestigationStarted(investigation_id=row.id)])
            session.commit()
            return row

    @in_executor
    def resume_investigation(self, row: Investigation) -> None:
        """A run a previous process left running goes on: its message says so."""
        assert row.id is not None and row.incident_id is not None
        with self._session() as session:
            _add_events(session, row.incident_id,
                        [InvestigationStarted(investigation_id=row.id, resumed=True)])
            session.commit()

    @in_executor
    def save_progress(self, investigation_id: int, progress: dict[str, Any]) -> None:
        """The run's checkpoint, and its message's edit queued with it."""
        with self._session() as session:
            row = session.get(Investigation, investigation_id)
            if row is None:
                raise NotFound(f"investigation {investigation_id}")
            session.execute(update(Investigation)
                            .where(col(Investigation.id) == investigation_id)
                            .values(progress=progress))
            if row.incident_id is not None:
                _add_events(session, row.incident_id,
                            [InvestigationProgress(investigation_id=investigation_id)])
            session.commit()

    @in_executor
    def save_investigation(self, row: Investigation) -> Investigation:
        """Saves the run's own fields (its result so far); a run that just finished moves
        its incident on and queues its final message, which the dispatcher retries until it
        lands. The Slack bookkeeping (`slack_ts`, `post_started_at`, `shown_final`) is the
        outbox's: a caller's stale copy never writes over it."""
        with self._session() as session:
            stored = session.get(Investigation, row.id) if row.id is not None else None
            if stored is None:
                session.add(row)
                session.commit()
                return row
            finishing = row.status in ("done", "failed") and stored.status not in (
                "done", "failed")
            for name in _RUN_FIELDS:
                setattr(stored, name, getattr(row, name))
            if finishing:
                stored.shown_final = False
            session.add(stored)
            if finishing and stored.incident_id is not None:
                incident = _get_incident(session, stored.incident_id)
                lifecycle.investigation_finished(
                    incident, diagnosed=stored.status == "done" and not stored.abstained,
                    now=utcnow())
                session.add(incident)
                assert stored.id is not None
                _add_events(session, stored.incident_id,
                            [InvestigationFinished(investigation_id=stored.id)])
            session.commit()
            return stored

    @in_executor
    def investigation(self, investigation_id: int) -> Investigation:
        with self._session() as session:
            row = session.get(Investigation, investigation_id)
            if row is None:
                raise NotFound(f"investigation {investigation_id}")
            return row

    @in_executor
    def latest_investigation(self, incident_id: int) -> Investigation | None:
        with self._session() as session:
            return session.exec(
                select(Investigation).where(Investigation.incident_id == incident_id)
                .order_by(col(Investigation.id).desc())).first()

    @in_executor
    def interrupted_investigations(self) -> list[Investigation]:
        with self._session() as session:
            return list(session.exec(
                select(Investigation).where(Investigation.status == "running")))

    @in_executor
    def add_feedback(self, feedback: Feedback) -> Feedback:
        with self._session() as session:
            session.add(feedback)
            session.add(AuditEvent(actor=feedback.user, action=f"feedback_{feedback.verdict}",
                                   incident_id=feedback.incident_id,
                                   detail={"investigation_id": feedback.investigation_id,
                                           "correct_service": feedback.correct_service}))
            session.commit()
            return feedback

    @in_executor
    def feedback_rows(self) -> list[Feedback]:
        with self._session() as session:
            return list(session.exec(select(Feedback).order_by(col(Feedback.id))))


def _get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id}")
    return incident


# What an incident's root message reads of its alerts (`incident_alert_states`).
_ALERT_STATE: tuple[QueryableAttribute[Any], ...] = tuple(
    getattr(Alert, name) for name in ("id", "incident_id", "source", "status", "started_at",
                                      "title", "service", "severity"))

# What a run writes of itself when saved; its checkpoint is `save_progress`'s and its Slack
# bookkeeping the outbox's (storage.outbox).
_RUN_FIELDS = ("status", "finished_at", "abstained", "top_service", "top_kind", "confidence",
               "queries", "llm_calls", "llm_input_tokens", "cost_usd", "error", "result")


def _add_events(session: Session, incident_id: int, events: Sequence[ThreadEvent]) -> None:
    for event in events:
        session.add(ThreadUpdate.of(incident_id, event))


def _claim(session: Session, incident_id: int, now: datetime, cooldown_s: float,
           stuck_s: float | None) -> NotNow | None:
    """Take the incident's investigation slot, or say why not (see start_investigation)."""
    latest = session.exec(select(Investigation).where(Investigation.incident_id == incident_id)
                          .order_by(col(Investigation.id).desc())).first()
    if latest is not None and latest.status == "running" and (
            stuck_s is None or (now - as_utc(latest.started_at)).total_seconds() < stuck_s):
        return NotNow(running=True)
    cutoff = now - timedelta(seconds=cooldown_s)
    claimed = session.execute(
        update(Incident).where(col(Incident.id) == incident_id)
        .where(or_(col(Incident.last_investigation_at).is_(None),
                   col(Incident.last_investigation_at) <= cutoff))
        .values(last_investigation_at=now))
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return None
    last = _get_incident(session, incident_id).last_investigation_at or now
    age = max(0, int((now - as_utc(last)).total_seconds()))
    return NotNow(running=False, age_s=age, wait_s=max(1, int(cooldown_s) - age + 1))
