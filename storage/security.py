"""Persistence for security cases: intake and folding, flow progress, the case threads'
outbox, containment approvals, feedback, and the digest's queries.

Every write that a person caused also writes an `AuditEvent` (detail names the case), in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.errors import NotFound
from storage.models import (
    AuditEvent,
    ContainmentApproval,
    SecurityCase,
    SecurityCaseEvent,
    SecurityCaseUpdate,
    SecurityFeedback,
    utcnow,
)
from storage.repository import Repository, in_executor

OPEN, CLOSED = "open", "closed"
STEP_DONE = "done"


@dataclass(frozen=True, slots=True)
class Intake:
    """What one signal did: opened a case, or folded into the open one."""

    case_id: int
    created: bool
    fires: int
    channel: str


def fold_key(rule_id: str, principal: str) -> str:
    return f"{rule_id[:300]}\x1f{principal[:255]}"


def _audit(session: Session, case_id: int, actor: str, action: str,
           detail: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(actor=actor, action=action, incident_id=None,
                           detail={"security_case": case_id, **(detail or {})}))


def _get(session: Session, case_id: int) -> SecurityCase:
    row = session.get(SecurityCase, case_id)
    if row is None:
        raise NotFound(f"security case {case_id}")
    return row


class SecurityStore(Repository):
    """Build it over a Store's engine and executor: `SecurityStore.beside(store)`."""

    @classmethod
    def beside(cls, other: Repository) -> SecurityStore:
        return cls(other.engine, other._executor)

    # ---- intake ---------------------------------------------------------------------------

    @in_executor
    def open_or_fold(self, case: SecurityCase, events: Sequence[SecurityCaseEvent],
                     *, note: str) -> Intake:
        """Open `case`, or fold this fire into the open case with the same `fold_key`: its
        `fires` grows, its new trigger events are kept, and `note` goes to its thread."""
        for attempt in range(2):
            with self._session() as session:
                existing = session.exec(select(SecurityCase).where(
                    SecurityCase.fold_key == case.fold_key,
                    SecurityCase.status == OPEN)).first()
                if existing is None:
                    fresh = SecurityCase(**case.model_dump())
                    session.add(fresh)
                    try:
                        session.flush()
                    except IntegrityError:  # another process opened it a moment ago
                        session.rollback()
                        if attempt:
                            raise
                        continue
                    assert fresh.id is not None
                    self._add_events(session, fresh.id, events, role="trigger")
                    _audit(session, fresh.id, "nightowl", "security_case_opened",
                           {"rule": fresh.rule_id, "principal": fresh.principal})
                    session.commit()
                    return Intake(fresh.id, True, 1, fresh.channel)
                assert existing.id is not None
                existing.fires += 1
                existing.last_fired_at = max(existing.last_fired_at, case.last_fired_at)
                existing.updated_at = utcnow()
                existing.version += 1
                session.add(existing)
                self._add_events(session, existing.id, events, role="trigger")
                session.add(SecurityCaseUpdate(case_id=existing.id, kind="fired_again",
                                               text=note.replace("{fires}",
                                                                 str(existing.fires))))
                session.commit()
                return Intake(existing.id, False, existing.fires, existing.channel)
        raise AssertionError("unreachable")

    @staticmethod
    def _add_events(session: Session, case_id: int, events: Sequence[SecurityCaseEvent],
                    *, role: str) -> int:
        known = set(session.exec(select(SecurityCaseEvent.event_id).where(
            SecurityCaseEvent.case_id == case_id)))
        added = 0
        for event in events:
            if event.event_id in known:
                continue
            known.add(event.event_id)
            session.add(SecurityCaseEvent(case_id=case_id, event_id=event.event_id,
                                          log_type=event.log_type, ts=event.ts, role=role,
                                          raw=event.raw))
            added += 1
        return added

    @in_executor
    def add_events(self, case_id: int, events: Sequence[SecurityCaseEvent], *,
                   role: str = "context") -> int:
        """Keep events read around the case (skipping ones it holds); how many were new."""
        with self._session() as session:
            added = self._add_events(session, case_id, events, role=role)
            session.commit()
            return added

    # ---- reads ----------------------------------------------------------------------------

    @in_executor
    def case(self, case_id: int) -> SecurityCase:
        with self._session() as session:
            return _get(session, case_id)

    @in_executor
    def case_by_thread(self, channel: str, ts: str) -> SecurityCase | None:
        with self._session() as session:
            return session.exec(select(SecurityCase).where(
                SecurityCase.slack_channel == channel, SecurityCase.slack_ts == ts)).first()

    @in_executor
    def events(self, case_id: int) -> list[SecurityCaseEvent]:
        with self._session() as session:
            return list(session.exec(select(SecurityCaseEvent)
                                     .where(SecurityCaseEvent.case_id == case_id)
                                     .order_by(col(SecurityCaseEvent.ts),
                                               col(SecurityCaseEvent.id))))

    @in_executor
    def event(self, row_id: int) -> SecurityCaseEvent:
        with self._session() as session:
            row = session.get(SecurityCaseEvent, row_id)
            if row is None:
                raise NotFound(f"security event {row_id}")
            return row

    @in_executor
    def case_event(self, case_id: int, event_id: str) -> SecurityCaseEvent:
        with self._session() as session:
            row = session.exec(select(SecurityCaseEvent).where(
                SecurityCaseEvent.case_id == case_id,
                SecurityCaseEvent.event_id == event_id)).first()
            if row is None:
                raise NotFound(f"event {event_id} of security case {case_id}")
            return row

    @in_executor
    def unfinished(self) -> list[SecurityCase]:
        """Cases whose flow a previous process did not finish (resumed on start)."""
        with self._session() as session:
            return list(session.exec(select(SecurityCase).where(
                SecurityCase.step != STEP_DONE).order_by(col(SecurityCase.id))))

    @in_executor
    def cases(self, *, status: str | None = None, limit: int = 50) -> list[SecurityCase]:
        with self._session() as session:
            query = select(SecurityCase).order_by(col(SecurityCase.id).desc()).limit(limit)
            if status is not None:
                query = query.where(SecurityCase.status == status)
            return list(session.exec(query))

    # ---- flow progress --------------------------------------------------------------------

    @in_executor
    def advance(self, case_id: int, step: str, *, visible: bool = False,
                changes: dict[str, Any] | None = None) -> SecurityCase:
        """Record that `step` is done (with what it produced); `visible` bumps the version
        so the thread is brought up to date."""
        with self._session() as session:
            row = _get(session, case_id)
            for name, value in (changes or {}).items():
                if not hasattr(row, name):
                    raise AttributeError(f"SecurityCase has no field {name!r}")
                setattr(row, name, value)
            row.step = step
            row.updated_at = utcnow()
            if visible:
                row.version += 1
            session.add(row)
            session.commit()
            return row

    # ---- the outbox -----------------------------------------------------------------------

    @in_executor
    def cases_to_render(self) -> list[tuple[int, str]]:
        """(case id, channel) of every case whose thread is behind the database."""
        with self._session() as session:
            stale = [i for i in session.exec(select(SecurityCase.id).where(
                SecurityCase.version > SecurityCase.rendered_version)) if i is not None]
            stale += session.exec(select(SecurityCaseUpdate.case_id).where(
                col(SecurityCaseUpdate.posted_ts).is_(None)).distinct())
            wanted = sorted(set(stale))
            if not wanted:
                return []
            rows = session.exec(select(SecurityCase.id, SecurityCase.channel).where(
                col(SecurityCase.id).in_(wanted)))
            return sorted((int(i), str(c)) for i, c in rows if i is not None)

    @in_executor
    def pending_updates(self, case_id: int) -> list[SecurityCaseUpdate]:
        with self._session() as session:
            return list(session.exec(select(SecurityCaseUpdate).where(
                SecurityCaseUpdate.case_id == case_id,
                col(SecurityCaseUpdate.posted_ts).is_(None)).order_by(
                col(SecurityCaseUpdate.id))))

    @in_executor
    def mark_posted(self, update_ids: Sequence[int], ts: str) -> None:
        with self._session() as session:
            for update_id in update_ids:
                row = session.get(SecurityCaseUpdate, update_id)
                if row is not None:
                    row.posted_ts = ts
                    session.add(row)
            session.commit()

    @in_executor
    def mark_rendered(self, case_id: int, *, version: int, channel: str, ts: str,
                      detail_ts: str | None) -> None:
        with self._session() as session:
            row = _get(session, case_id)
            row.rendered_version = max(row.rendered_version, version)
            if not row.slack_ts:
                row.slack_channel, row.slack_ts = channel, ts
            if detail_ts and not row.detail_ts:
                row.detail_ts = detail_ts
            session.add(row)
            session.commit()

    @in_executor
    def mark_root(self, case_id: int, *, channel: str, ts: str) -> None:
        """Remember the root message at once, so a failure after it does not post another."""
        with self._session() as session:
            row = _get(session, case_id)
            if not row.slack_ts:
                row.slack_channel, row.slack_ts = channel, ts
                session.add(row)
                session.commit()

    @in_executor
    def mark_detail(self, case_id: int, *, ts: str) -> None:
        with self._session() as session:
            row = _get(session, case_id)
            if not row.detail_ts:
                row.detail_ts = ts
                session.add(row)
                session.commit()

    @in_executor
    def add_note(self, case_id: int, kind: str, text: str) -> None:
        with self._session() as session:
            session.add(SecurityCaseUpdate(case_id=case_id, kind=kind, text=text))
            session.commit()

    # ---- people's actions -----------------------------------------------------------------

    @in_executor
    def record_approval(self, approval: ContainmentApproval, *, note: str
                        ) -> tuple[ContainmentApproval, bool]:
        """Store an approval (one per action of a case); False when it was approved before."""
        with self._session() as session:
            case = _get(session, approval.case_id)
            existing = session.exec(select(ContainmentApproval).where(
                ContainmentApproval.case_id == approval.case_id,
                ContainmentApproval.action_index == approval.action_index)).first()
            _audit(session, approval.case_id, approval.approved_by, "approve_containment",
                   {"action": approval.action, "target": approval.target,
                    "index": approval.action_index, "repeat": existing is not None})
            if existing is not None:
                session.commit()
                return existing, False
            session.add(approval)
            case.version += 1
            case.updated_at = utcnow()
            session.add(case)
            session.add(SecurityCaseUpdate(case_id=approval.case_id, kind="approval",
                                           text=note))
            try:
                session.commit()
            except IntegrityError:  # the same click twice at once
                session.rollback()
                row = session.exec(select(ContainmentApproval).where(
                    ContainmentApproval.case_id == approval.case_id,
                    ContainmentApproval.action_index == approval.action_index)).one()
                return row, False
            return approval, True

    @in_executor
    def finish_approval(self, approval: ContainmentApproval, *, outcome: str, detail: str,
                        note: str) -> ContainmentApproval:
        """What the action integration did with an approval (executed or failed)."""
        with self._session() as session:
            row = session.get(ContainmentApproval, approval.id)
            if row is None:
                raise NotFound(f"containment approval {approval.id}")
            row.outcome, row.detail = outcome, detail
            case = _get(session, row.case_id)
            case.version += 1
            session.add(row)
            session.add(case)
            session.add(SecurityCaseUpdate(case_id=row.case_id, kind="containment", text=note))
            _audit(session, row.case_id, row.executor or "nightowl", f"containment_{outcome}",
                   {"action": row.action, "target": row.target})
            session.commit()
            return row

    @in_executor
    def approvals(self, case_id: int) -> list[ContainmentApproval]:
        with self._session() as session:
            return list(session.exec(select(ContainmentApproval).where(
                ContainmentApproval.case_id == case_id).order_by(
                col(ContainmentApproval.action_index))))

    @in_executor
    def decide(self, case_id: int, *, verdict: str, user: str, close: bool,
               note: str) -> tuple[SecurityCase, int]:
        """A person's verdict: stored as feedback, shown on the case, the case closed when
        `close`. Returns the case and how many false positives people have now marked for
        its rule and principal."""
        with self._session() as session:
            case = _get(session, case_id)
            session.add(SecurityFeedback(case_id=case_id, rule_id=case.rule_id,
                                         principal=case.principal, user=user,
                                         verdict=verdict))
            _audit(session, case_id, user, f"security_{verdict}",
                   {"rule": case.rule_id, "principal": case.principal})
            now = utcnow()
            case.decision, case.decided_by, case.decided_at = verdict, user, now
            if close and case.status == OPEN:
                case.status, case.closed_at, case.closed_by = CLOSED, now, user
            case.version += 1
            case.updated_at = now
            session.add(case)
            session.add(SecurityCaseUpdate(case_id=case_id, kind="decision", text=note))
            session.flush()
            fps = session.exec(select(func.count(col(SecurityFeedback.case_id).distinct()))
                               .where(SecurityFeedback.rule_id == case.rule_id,
                                      SecurityFeedback.principal == case.principal,
                                      SecurityFeedback.verdict == "false_positive")).one()
            session.commit()
            return case, int(fps)

    @in_executor
    def feedback(self, case_id: int | None = None) -> list[SecurityFeedback]:
        with self._session() as session:
            query = select(SecurityFeedback).order_by(col(SecurityFeedback.id))
            if case_id is not None:
                query = query.where(SecurityFeedback.case_id == case_id)
            return list(session.exec(query))

    @in_executor
    def link_incident(self, case_id: int, *, incident_id: int, user: str,
                      note: str) -> SecurityCase:
        with self._session() as session:
            case = _get(session, case_id)
            case.incident_id, case.escalated_by = incident_id, user
            case.version += 1
            case.updated_at = utcnow()
            session.add(case)
            session.add(SecurityCaseUpdate(case_id=case_id, kind="escalated", text=note))
            session.commit()
            return case

    @in_executor
    def audit(self, case_id: int, *, actor: str, action: str,
              detail: dict[str, Any] | None = None) -> None:
        with self._session() as session:
            _audit(session, case_id, actor, action, detail)
            session.commit()

    @in_executor
    def audit_events(self, case_id: int) -> list[AuditEvent]:
        with self._session() as session:
            rows = session.exec(select(AuditEvent).where(
                col(AuditEvent.incident_id).is_(None)).order_by(col(AuditEvent.id)))
            return [r for r in rows if r.detail.get("security_case") == case_id]

    # ---- the digest -----------------------------------------------------------------------

    @in_executor
    def cases_touching(self, since: datetime, until: datetime) -> list[SecurityCase]:
        """Cases opened before `until` that were open at some point after `since`."""
        with self._session() as session:
            rows = session.exec(select(SecurityCase).where(
                col(SecurityCase.opened_at) < until).order_by(col(SecurityCase.id)))
            return [r for r in rows if r.closed_at is None or r.closed_at >= since]

    @in_executor
    def approvals_for(self, case_ids: Sequence[int]) -> list[ContainmentApproval]:
        if not case_ids:
            return []
        with self._session() as session:
            return list(session.exec(select(ContainmentApproval).where(
                col(ContainmentApproval.case_id).in_(list(case_ids)))))
