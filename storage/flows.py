"""Flow runs (scheduler/flows.py): one row per (flow, key), created once however often the
same work is started, then updated in place with targeted UPDATEs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.errors import NotFound
from storage.models import Control, FlowRun, utcnow
from storage.repository import Repository, in_executor

INSTALLATION_KEY = "installation_id"


class FlowStore(Repository):
    @classmethod
    def beside(cls, other: Repository) -> FlowStore:
        return cls(other.engine, other._executor)

    @in_executor
    def claim(self, flow: str, key: str, *, state: dict[str, Any],
              status: str) -> tuple[FlowRun, bool]:
        """The run of (flow, key): created with `state` and `status`, or the one already
        there (the unique constraint decides between two processes starting it at once).
        Returns (run, created)."""
        with self._session() as session:
            found = session.exec(select(FlowRun).where(FlowRun.flow == flow,
                                                       FlowRun.key == key)).first()
            if found is not None:
                return found, False
            run = FlowRun(flow=flow, key=key, state=state, status=status)
            session.add(run)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return session.exec(select(FlowRun).where(FlowRun.flow == flow,
                                                          FlowRun.key == key)).one(), False
            session.refresh(run)
            return run, True

    @in_executor
    def installation_id(self) -> str:
        """This database's identity: random, made on first use and kept (a `Control` row), so
        every process on the same database agrees and a new database gets a new one."""
        with self._session() as session:
            row = session.get(Control, INSTALLATION_KEY)
            if row is not None:
                return row.value
            session.add(Control(key=INSTALLATION_KEY, value=uuid4().hex[:16],
                                updated_by="nightowl"))
            try:
                session.commit()
            except IntegrityError:  # another process made it first: theirs stands
                session.rollback()
            found = session.get(Control, INSTALLATION_KEY)
            assert found is not None
            return found.value

    @in_executor
    def get(self, flow: str, key: str) -> FlowRun:
        with self._session() as session:
            run = session.exec(select(FlowRun).where(FlowRun.flow == flow,
                                                     FlowRun.key == key)).first()
            if run is None:
                raise NotFound(f"no run of flow {flow} with key {key}")
            return run

    @in_executor
    def save(self, run_id: int, *, status: str, step: int | None = None,
             state: dict[str, Any] | None = None, error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": utcnow(), "error": error}
        if step is not None:
            values["step"] = step
        if state is not None:
            values["state"] = state
        with self._session() as session:
            session.execute(update(FlowRun).where(col(FlowRun.id) == run_id).values(**values))
            session.commit()

    @in_executor
    def mark(self, run_ids: Sequence[int], status: str) -> None:
        with self._session() as session:
            session.execute(update(FlowRun).where(col(FlowRun.id).in_(list(run_ids)))
                            .values(status=status, updated_at=utcnow()))
            session.commit()

    @in_executor
    def with_status(self, *statuses: str, limit: int = 500) -> list[FlowRun]:
        with self._session() as session:
            return list(session.exec(select(FlowRun)
                                     .where(col(FlowRun.status).in_(statuses))
                                     .order_by(col(FlowRun.id)).limit(limit)))
