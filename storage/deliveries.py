"""Which webhook deliveries were already taken in, by the source's own delivery id.

A signed delivery captured and replayed (PagerDuty's event id, Sentry's Request-ID, an
Opsgenie action, a Grafana body) is recognised and taken in once. The ids share the table
Slack event ids use (`slackeventseen`), under a `delivery:` prefix. A delivery is recorded
only after its alerts are stored, so a source retrying after a failure is never turned away.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from storage.models import SlackEventSeen
from storage.repository import Repository, in_executor

MAX_KEY = 128


def delivery_key(source: str, delivery_id: str) -> str:
    key = f"delivery:{source}:{delivery_id}"
    if len(key) > MAX_KEY:
        import hashlib

        key = f"delivery:{source}:sha256:{hashlib.sha256(delivery_id.encode()).hexdigest()}"
    return key[:MAX_KEY]


class Deliveries(Repository):
    @classmethod
    def beside(cls, other: Repository) -> Deliveries:
        return cls(other.engine, other._executor)

    @in_executor
    def taken(self, key: str) -> bool:
        with self._session() as session:
            return session.get(SlackEventSeen, key) is not None

    @in_executor
    def remember(self, key: str) -> None:
        with self._session() as session:
            session.add(SlackEventSeen(event_id=key))
            try:
                session.commit()
            except IntegrityError:  # a duplicate delivered at the same moment: fine
                session.rollback()
