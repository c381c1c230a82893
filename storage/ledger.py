"""The model ledger (every call, its tokens and cost) and operator controls (the stop button)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from storage.models import Control, LLMCall, utcnow
from storage.repository import Repository, in_executor

MODELS_PAUSED = "models_paused"


class Ledger(Repository):
    @classmethod
    def beside(cls, other: Repository) -> Ledger:
        return cls(other.engine, other._executor)

    @in_executor
    def record(self, call: LLMCall) -> LLMCall:
        with self._session() as session:
            session.add(call)
            session.commit()
            return call

    @in_executor
    def spent(self, since: datetime, *, agent: str | None = None) -> float:
        with self._session() as session:
            query = select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
                col(LLMCall.at) >= since)
            if agent is not None:
                query = query.where(LLMCall.agent == agent)
            return float(session.exec(query).one())

    @in_executor
    def calls(self, since: datetime) -> list[LLMCall]:
        with self._session() as session:
            return list(session.exec(select(LLMCall).where(col(LLMCall.at) >= since)
                                     .order_by(col(LLMCall.id))))

    @in_executor
    def control(self, key: str) -> str | None:
        with self._session() as session:
            row = session.get(Control, key)
            return row.value if row is not None else None

    @in_executor
    def set_control(self, key: str, value: str, *, by: str) -> None:
        with self._session() as session:
            row = session.get(Control, key) or Control(key=key, value=value)
            row.value, row.updated_by, row.updated_at = value, by, utcnow()
            session.add(row)
            session.commit()
