"""Persistence for the Dev agent: fix proposals (flows and their progress) and pull requests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from storage.errors import NotFound
from storage.models import Alert, Finding, FixProposal, PullRequest, utcnow
from storage.repository import Repository, in_executor

# A flow in one of these has work left that a restart must pick up.
RESUMABLE = ("confirmed", "pushing")


class DevStore(Repository):
    """Build it over a Store's engine and executor: `DevStore.beside(store)`."""

    @classmethod
    def beside(cls, other: Repository) -> DevStore:
        return cls(other.engine, other._executor)

    # ---- proposals -----------------------------------------------------------------------

    @in_executor
    def save_proposal(self, row: FixProposal) -> FixProposal:
        with self._session() as session:
            row.updated_at = utcnow()
            merged = session.merge(row)
            session.commit()
            session.refresh(merged)
            return merged

    @in_executor
    def proposal(self, proposal_id: int) -> FixProposal:
        with self._session() as session:
            row = session.get(FixProposal, proposal_id)
            if row is None:
                raise NotFound(f"fix proposal {proposal_id}")
            return row

    @in_executor
    def proposal_for(self, fingerprint: str, repository: str | None) -> FixProposal | None:
        """The latest proposal for this error in this repository."""
        with self._session() as session:
            return session.exec(select(FixProposal).where(
                FixProposal.fingerprint == fingerprint, FixProposal.repository == repository)
                .order_by(col(FixProposal.id).desc())).first()

    @in_executor
    def proposals_of(self, *, incident_id: int | None = None,
                     finding_id: int | None = None) -> list[FixProposal]:
        """An incident's (or a finding's) proposals, newest first."""
        with self._session() as session:
            query = select(FixProposal)
            if incident_id is not None:
                query = query.where(FixProposal.incident_id == incident_id)
            if finding_id is not None:
                query = query.where(FixProposal.finding_id == finding_id)
            return list(session.exec(query.order_by(col(FixProposal.id).desc()).limit(20)))

    @in_executor
    def resumable(self) -> list[FixProposal]:
        with self._session() as session:
            return list(session.exec(select(FixProposal).where(
                col(FixProposal.status).in_(RESUMABLE)).order_by(col(FixProposal.id))))

    # ---- pull requests -------------------------------------------------------------------

    @in_executor
    def record_pull(self, pull: PullRequest) -> PullRequest:
        """Insert, or update the row of the same repository and number."""
        with self._session() as session:
            row = session.exec(select(PullRequest).where(
                PullRequest.repository == pull.repository,
                PullRequest.number == pull.number)).first()
            if row is None:
                session.add(pull)
                session.commit()
                session.refresh(pull)
                return pull
            for name in ("proposal_id", "branch", "url", "fingerprint", "suspect", "kind",
                         "state", "stage", "head_sha", "closed_by", "closed_at", "synced_at"):
                setattr(row, name, getattr(pull, name))
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

    @in_executor
    def open_pull(self, repository: str, fingerprint: str) -> PullRequest | None:
        with self._session() as session:
            return session.exec(select(PullRequest).where(
                PullRequest.repository == repository, PullRequest.fingerprint == fingerprint,
                PullRequest.state == "open")).first()

    @in_executor
    def pulls(self, *, state: str | None = "open") -> list[PullRequest]:
        with self._session() as session:
            query = select(PullRequest).order_by(col(PullRequest.id))
            if state is not None:
                query = query.where(PullRequest.state == state)
            return list(session.exec(query))

    @in_executor
    def rate(self, repository: str, now: datetime | None = None) -> tuple[int, int, int]:
        """(open, opened in the last hour, opened in the last day) in this repository."""
        now = now or utcnow()
        with self._session() as session:
            def count(*conditions: object) -> int:
                query = select(func.count()).select_from(PullRequest).where(
                    PullRequest.repository == repository, *conditions)  # type: ignore[arg-type]
                return int(session.exec(query).one())
            return (count(PullRequest.state == "open"),
                    count(col(PullRequest.opened_at) >= now - timedelta(hours=1)),
                    count(col(PullRequest.opened_at) >= now - timedelta(days=1)))

    @in_executor
    def human_closed(self, repository: str, fingerprint: str, suspect: str) -> datetime | None:
        """When a human last closed (unmerged) a PR for this fingerprint and suspect."""
        with self._session() as session:
            return session.exec(select(func.max(PullRequest.closed_at)).where(
                PullRequest.repository == repository, PullRequest.fingerprint == fingerprint,
                PullRequest.suspect == suspect, PullRequest.state == "closed",
                PullRequest.closed_by == "human")).one()

    @in_executor
    def error_last_seen(self, proposal_id: int | None) -> datetime | None:
        """When the error behind a proposal was last seen: its finding's last sighting, or
        the last delivery of its incident's alerts."""
        if proposal_id is None:
            return None
        with self._session() as session:
            row = session.get(FixProposal, proposal_id)
            if row is None:
                return None
            seen: list[datetime] = []
            if row.finding_id is not None:
                finding = session.get(Finding, row.finding_id)
                if finding is not None:
                    seen.append(finding.last_seen)
            if row.incident_id is not None:
                last = session.exec(select(func.max(Alert.last_seen_at)).where(
                    Alert.incident_id == row.incident_id)).one()
                if last is not None:
                    seen.append(last)
            return max(seen) if seen else None
