"""The Slack outbox's bookkeeping beside the incident queries: post attempts and finished
investigations still to show.

Every post is recorded as attempted before the call (`*_post_started_at`): after a crash or
an unanswered call, the dispatcher first looks for the message by its metadata, and posts
only when it is not there. A finished investigation stays `shown_final = false` until its
message (result or error) has landed, so a failed final edit is retried until it does.
Targeted UPDATEs, so a run saving its own row at the same time loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import col, select

from storage.models import Incident, Investigation, ThreadUpdate, utcnow
from storage.repository import Repository, in_executor


class Outbox(Repository):
    @classmethod
    def beside(cls, other: Repository) -> Outbox:
        return cls(other.engine, other._executor)

    @in_executor
    def root_attempt(self, incident_id: int) -> None:
        with self._session() as session:
            session.execute(update(Incident).where(col(Incident.id) == incident_id)
                            .values(slack_post_started_at=utcnow()))
            session.commit()

    @in_executor
    def updates_attempt(self, update_ids: Sequence[int]) -> None:
        with self._session() as session:
            session.execute(update(ThreadUpdate).where(col(ThreadUpdate.id).in_(update_ids))
                            .values(post_started_at=utcnow()))
            session.commit()

    @in_executor
    def investigation_attempt(self, investigation_id: int) -> None:
        with self._session() as session:
            session.execute(update(Investigation)
                            .where(col(Investigation.id) == investigation_id)
                            .values(post_started_at=utcnow()))
            session.commit()

    @in_executor
    def investigation_posted(self, investigation_id: int, ts: str) -> None:
        with self._session() as session:
            session.execute(update(Investigation)
                            .where(col(Investigation.id) == investigation_id)
                            .values(slack_ts=ts))
            session.commit()

    @in_executor
    def unshown(self, incident_id: int) -> list[Investigation]:
        """Finished runs of the incident whose final message has not landed yet."""
        with self._session() as session:
            return list(session.exec(
                select(Investigation).where(Investigation.incident_id == incident_id,
                                            col(Investigation.status).in_(("done", "failed")),
                                            col(Investigation.shown_final).is_(False))
                .order_by(col(Investigation.id))))

    @in_executor
    def shown(self, investigation_id: int, ts: str) -> None:
        with self._session() as session:
            session.execute(update(Investigation)
                            .where(col(Investigation.id) == investigation_id)
                            .values(shown_final=True, slack_ts=ts))
            session.commit()

    @in_executor
    def incidents_with_unshown(self) -> list[int]:
        with self._session() as session:
            return sorted({i for i in session.exec(
                select(Investigation.incident_id).where(
                    col(Investigation.status).in_(("done", "failed")),
                    col(Investigation.shown_final).is_(False),
                    col(Investigation.incident_id).is_not(None))) if i is not None})
