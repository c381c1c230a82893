"""Alert intake: webhook alerts stored and folded into incidents, durably, in batches.

The lifecycle's rules (what opens, joins or resolves an incident) are storage.lifecycle's;
this module reads what a batch needs, applies them and persists the result with the thread
events they produce, in one transaction per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from storage import lifecycle
from storage.base import Repository, in_executor
from storage.models import (
    Alert,
    AlertStatus,
    AuditEvent,
    DeadLetter,
    Incident,
    IncidentStatus,
    ThreadUpdate,
    as_utc,
    utcnow,
)
from storage.thread_events import ThreadEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    """What one alert did to the incidents: the webhook reports these counts."""

    alert_id: int
    incident_id: int | None
    incident_created: bool
    duplicate: bool
    incident_resolved: bool
    channel: str | None = None


@dataclass(slots=True)
class _Transaction:
    """What one intake transaction knows: read once for the whole batch, then kept true to
    what the transaction writes, flushed or not."""

    alerts: dict[tuple[str, str], Alert] = field(default_factory=dict)  # (source, dedup_key)
    # The open incident per group; None where the group has none (from the batch's read on).
    incidents: dict[str, Incident | None] = field(default_factory=dict)
    # The batch's alerts already stored before it began: (id, incident_id, status).
    seen: dict[tuple[str, str], Any] = field(default_factory=dict)


def _id(row: Alert) -> int:
    assert row.id is not None, "read after the transaction's flush"
    return row.id


INTAKE_BATCH = 64  # deliveries per intake transaction, at most


@dataclass(slots=True)
class _Delivery:
    """One webhook's alerts, waiting for the intake's next transaction."""

    alerts: Sequence[Alert]
    route: Callable[[Alert], str]
    pending: asyncio.Future[list[IntakeOutcome]]

    def settle(self, result: list[IntakeOutcome] | BaseException) -> None:
        loop = self.pending.get_loop()
        if loop.is_closed():  # its caller is gone with its event loop
            return
        settle: Callable[[Any, Any], None] = _fail if isinstance(
            result, BaseException) else _succeed
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # the usual case: no need to wake the loop through its pipe
            settle(self.pending, result)
        else:
            loop.call_soon_threadsafe(settle, self.pending, result)


def _succeed(pending: asyncio.Future[list[IntakeOutcome]], result: list[IntakeOutcome]) -> None:
    if not pending.done():  # the caller may have given up (a cancelled request)
        pending.set_result(result)


def _fail(pending: asyncio.Future[list[IntakeOutcome]], error: BaseException) -> None:
    if not pending.done():
        pending.set_exception(error)



# The intake's statements, built once: statement construction costs more than the queries.
_ALERTS = Alert.__table__  # type: ignore[attr-defined]
# By source and key, so the lookup walks the (source, dedup_key) unique index.
_SEEN = core_select(_ALERTS.c.id, _ALERTS.c.incident_id, _ALERTS.c.status,
                    _ALERTS.c.dedup_key).where(
    _ALERTS.c.source == bindparam("source"),
    _ALERTS.c.dedup_key.in_(bindparam("keys", expanding=True)))
_OPEN = (select(Incident)
         .where(col(Incident.group_key).in_(bindparam("groups", expanding=True)))
         .where(Incident.status != IncidentStatus.RESOLVED)
         .order_by(col(Incident.id)))
_LOOKUP_CHUNK = 500  # keys per IN list, well under every database's limit on parameters
_REPEAT = _ALERTS.update().where(_ALERTS.c.id == bindparam("alert_id")).values(
    deliveries=_ALERTS.c.deliveries + 1,
    last_seen_at=bindparam("now", type_=_ALERTS.c.last_seen_at.type),
    raw=bindparam("raw", type_=_ALERTS.c.raw.type))



def _events(session: Session, incident_id: int, events: list[ThreadEvent]) -> None:
    for event in events:
        session.add(ThreadUpdate.of(incident_id, event))


class Intake(Repository):
    """The webhook's road into the database (`Store` adds the rest of the service's queries)."""

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor | None = None) -> None:
        super().__init__(engine, executor)
        self._intake: list[_Delivery] = []
        self._intake_writer: asyncio.Task[None] | None = None

    # ---- alert intake ---------------------------------------------------------------------

    async def ingest(
        self, alerts: Sequence[Alert], route: Callable[[Alert], str]
    ) -> list[IntakeOutcome]:
        """Store alerts and fold them into incidents, durably, before returning.

        A repeated delivery (same source and dedup key, same status) only counts the delivery.
        A new alert joins the open incident of its group or opens one; a resolved alert may
        resolve its incident. Visible changes bump `Incident.version` and write outbox rows.

        Deliveries that arrive while a write is under way are written together, in one
        transaction, when it ends (group commit): in an alert storm the cost of a transaction
        is paid once per batch rather than once per webhook. Every caller still returns only
        after its alerts are committed, and a delivery that cannot be stored fails alone.
        """
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[list[IntakeOutcome]] = loop.create_future()
        self._intake.append(_Delivery(alerts, route, pending))
        writer = self._intake_writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._intake_writer = loop.create_task(self._write_intake())
        return await pending

    async def _write_intake(self) -> None:
        loop = asyncio.get_running_loop()
        while self._intake:
            batch = self._intake[:INTAKE_BATCH]
            del self._intake[:INTAKE_BATCH]
            try:
                results = await loop.run_in_executor(self._executor, self._ingest_batch, batch)
            except Exception as exc:  # the executor itself failed (it was shut down)
                results = [exc] * len(batch)
            for delivery, result in zip(batch, results, strict=True):
                delivery.settle(result)

    def _ingest_batch(self, batch: list[_Delivery]) -> list[list[IntakeOutcome] | BaseException]:
        """One transaction for the batch; if it fails, each delivery in a transaction of its
        own, so one bad delivery (or a conflict) fails alone."""
        if len(batch) > 1:
            try:
                return list(self._ingest_all(batch))
            except Exception:
                log.warning("intake: a batch of %d deliveries failed; retrying one by one",
                            len(batch), exc_info=True)
        results: list[list[IntakeOutcome] | BaseException] = []
        for delivery in batch:
            try:
                results.extend(self._ingest_all([delivery]))
            except Exception as exc:
                results.append(exc)
        return results

    def _ingest_all(self, batch: list[_Delivery]) -> list[list[IntakeOutcome]]:
        with self._session() as session:
            txn = _Transaction()
            self._read_ahead(session, txn, [alert for d in batch for alert in d.alerts])
            later = [[self._ingest_one(session, txn, alert, d.route) for alert in d.alerts]
                     for d in batch]
            session.commit()  # flushes every new row at once; their ids are known from here
        return [[outcome() for outcome in outcomes] for outcomes in later]

    @staticmethod
    def _read_ahead(session: Session, txn: _Transaction, alerts: list[Alert]) -> None:
        """What the batch needs from the database, in two queries for the whole batch rather
        than two per alert: which of its alerts are already stored, and each of its groups'
        open incident (the newest, should there be more than one)."""
        by_source: dict[str, set[str]] = {}
        for a in alerts:
            by_source.setdefault(a.source, set()).add(a.dedup_key)
        groups = sorted({a.group_key for a in alerts})
        with session.no_autoflush:
            for source, wanted in by_source.items():
                keys = sorted(wanted)
                for i in range(0, len(keys), _LOOKUP_CHUNK):
                    for row in session.execute(_SEEN, {"source": source,
                                                       "keys": keys[i:i + _LOOKUP_CHUNK]}):
                        txn.seen[(source, row.dedup_key)] = row
            txn.incidents.update(dict.fromkeys(groups))
            for i in range(0, len(groups), _LOOKUP_CHUNK):
                for incident in session.exec(_OPEN, params={  # type: ignore[call-overload]
                        "groups": groups[i:i + _LOOKUP_CHUNK]}):
                    txn.incidents[incident.group_key] = incident  # ascending ids: newest last

    def _ingest_one(self, session: Session, txn: _Transaction, alert: Alert,
                    route: Callable[[Alert], str]) -> Callable[[], IntakeOutcome]:
        """Fold one alert in; returns how to read its outcome once the transaction is flushed.

        New rows are not flushed one by one: the transaction's lookups run without autoflush,
        reading what it has written so far from `txn`, and the commit inserts them together.
        """
        now = utcnow()
        existing = txn.alerts.get((alert.source, alert.dedup_key))
        if existing is None:
            # Most of a source's traffic repeats what it already said (Alertmanager re-sends
            # a firing group every group_interval): a repeat is counted with one plain
            # statement, not loaded and flushed through the ORM. (A row this transaction
            # changes is in `txn.alerts` from then on, so `seen` stays true for the rest.)
            seen = txn.seen.get((alert.source, alert.dedup_key))
            if seen is not None and seen.status == alert.status:
                with session.no_autoflush:
                    session.execute(_REPEAT, {"alert_id": seen.id, "now": now,
                                              "raw": alert.raw})
                loaded = session.identity_map.get(session.identity_key(Alert, seen.id))
                if loaded is not None:
                    # Loaded earlier in this transaction (to resolve its incident): keep it
                    # true to the database, or a later change to it would write stale counts.
                    set_committed_value(loaded, "deliveries", loaded.deliveries + 1)
                    set_committed_value(loaded, "last_seen_at", now)
                    set_committed_value(loaded, "raw", alert.raw)
                repeat = IntakeOutcome(seen.id, seen.incident_id, False, True, False)
                return lambda: repeat
            existing = session.get(Alert, seen.id) if seen is not None else None
        if existing is not None:
            txn.alerts[(alert.source, alert.dedup_key)] = existing
            existing.deliveries += 1
            existing.last_seen_at = now
            existing.raw = alert.raw
            if existing.status == alert.status:  # a repeat of a row this transaction wrote
                found = existing
                return lambda: IntakeOutcome(_id(found), found.incident_id, False, True, False)
            if alert.status == AlertStatus.RESOLVED:
                if existing.id is None:  # written earlier in this transaction (rare)
                    session.flush()
                resolved = self._resolve_alert(session, existing, alert, now)
                current = txn.incidents.get(existing.group_key)
                if resolved.incident_resolved and (current is None or
                                                   current.id == resolved.incident_id):
                    txn.incidents[existing.group_key] = None  # the group has none open now
                return lambda: resolved
            if as_utc(alert.started_at) <= as_utc(existing.started_at):
                # A trigger of the firing already resolved (a replay, a late retry: it
                # carries that firing's start, not a new one) never reopens it.
                stale = existing
                return lambda: IntakeOutcome(_id(stale), stale.incident_id, False, True, False)
            # Fired again after resolving: it joins whatever incident its group has open now.
            existing.status = AlertStatus.FIRING
            existing.ended_at = None
            existing.started_at = alert.started_at
            existing.incident_id = None
            alert = existing
        txn.alerts[(alert.source, alert.dedup_key)] = alert

        if alert.status == AlertStatus.RESOLVED:
            # A resolve for an alert we never saw firing: keep it, it opens nothing.
            session.add(alert)
            orphan = alert
            return lambda: IntakeOutcome(_id(orphan), None, False, False, False)

        incident = txn.incidents.get(alert.group_key)
        if incident is not None and incident.status == IncidentStatus.RESOLVED:
            incident = None  # closed earlier in this transaction
        created = incident is None
        if incident is None:
            incident = lifecycle.open_incident(alert, route(alert), now)
            session.add(incident)
            session.flush()  # its id goes on the alert and the thread's rows
        txn.incidents[alert.group_key] = incident
        assert incident.id is not None
        _events(session, incident.id, lifecycle.alert_joined(incident, alert, now,
                                                             created=created))
        alert.incident_id = incident.id
        session.add(alert)
        session.add(incident)
        joined, incident_id, channel = alert, incident.id, incident.channel
        return lambda: IntakeOutcome(_id(joined), incident_id, created, False, False, channel)

    def _resolve_alert(
        self, session: Session, existing: Alert, alert: Alert, now: datetime
    ) -> IntakeOutcome:
        existing.status = AlertStatus.RESOLVED
        existing.ended_at = alert.ended_at or now
        session.add(existing)
        assert existing.id is not None
        incident = session.get(Incident, existing.incident_id) if existing.incident_id else None
        if incident is None or incident.status == IncidentStatus.RESOLVED:
            return IntakeOutcome(existing.id, existing.incident_id, False, False, False)
        assert incident.id is not None
        resolved = lifecycle.alert_cleared(incident, existing, now)
        if resolved:
            first_start = session.exec(
                select(func.min(Alert.started_at)).where(Alert.incident_id == incident.id)
            ).one() or incident.opened_at
            _events(session, incident.id,
                    lifecycle.resolved_by_source(incident, existing, first_start, now))
            session.add(AuditEvent(actor="nightowl", action="resolved_by_alert",
                                   incident_id=incident.id, detail={"alert_id": existing.id}))
        else:
            _events(session, incident.id, [lifecycle.alert_cleared_event(existing)])
        session.add(incident)
        return IntakeOutcome(existing.id, incident.id, False, False, resolved, incident.channel)

    @in_executor
    def dead_letter(self, *, source: str, reason: str, body: str, content_type: str | None) -> int:
        with self._session() as session:
            row = DeadLetter(source=source, reason=reason, body=body, content_type=content_type)
            session.add(row)
            session.commit()
            assert row.id is not None
            return row.id

