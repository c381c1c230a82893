"""The Slack outbox's bookkeeping beside the incident queries: post attempts, and where an
investigation's message is.

The outbox itself is `ThreadUpdate`: typed thread events (storage.thread_events), pending
until the message that shows them has landed, so a failed post or edit is retried until it
does. Every post is recorded as attempted before the call (`*_post_started_at`): after a
crash or an unanswered call, the dispatcher first looks for the message by its metadata, and
posts only when it is not there. A finished investigation is `shown_final` once its final
message (result or error) has landed. Targeted UPDATEs, so a run saving its own row at the
same time loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import col

from storage.base import Repository, in_executor
from storage.models import Incident, Investigation, ThreadUpdate, utcnow


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
    def shown(self, investigation_id: int, ts: str) -> None:
        with self._session() as session:
            session.execute(update(Investigation)
                            .where(col(Investigation.id) == investigation_id)
                            .values(shown_final=True, slack_ts=ts))
            session.commit()
