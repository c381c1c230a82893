"""Where each security source's scan has read up to: one cursor per source.

Kept as `Control` rows (`security_scan:<source>` -> ISO time), the key-value table every
replica already shares, so the scan needs no table of its own. A cursor moves only after its
source was read and its signals were handed over: a source that was down is read again from
its old cursor at the next tick, and the sources that were up are not read twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.models import Control, utcnow
from storage.repository import Repository, in_executor

PREFIX = "security_scan:"


def _key(source: str) -> str:
    return (PREFIX + source)[:64]


class ScanCursors(Repository):
    """Build it over a Store's engine and executor: `ScanCursors.beside(store)`."""

    @classmethod
    def beside(cls, other: Repository) -> ScanCursors:
        return cls(other.engine, other._executor)

    @in_executor
    def get(self, source: str) -> datetime | None:
        with self._session() as session:
            row = session.get(Control, _key(source))
            if row is None:
                return None
            value = datetime.fromisoformat(row.value)
            return value if value.tzinfo else value.replace(tzinfo=UTC)

    @in_executor
    def advance(self, source: str, until: datetime) -> None:
        with self._session() as session:
            key = _key(source)
            row = session.get(Control, key) or Control(key=key, value="")
            row.value = until.astimezone(UTC).isoformat()
            row.updated_by, row.updated_at = "security_scan", utcnow()
            session.add(row)
            session.commit()
