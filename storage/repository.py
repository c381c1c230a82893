"""Persistence for the service: one `Store`, async at its surface.

SQLAlchemy sessions are blocking, so each public method runs its work on the store's own
executor. For SQLite that executor has a single thread: writes are serialised in-process and
never meet "database is locked"; PostgreSQL gets a small pool.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from storage.errors import NotFound
from storage.models import (
    Alert,
    AlertStatus,
    AuditEvent,
    DeadLetter,
    Feedback,
    Incident,
    IncidentStatus,
    Investigation,
    Severity,
    SlackEventSeen,
    ThreadUpdate,
    as_utc,
    utcnow,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    """What one alert did to the incidents: the webhook reports these counts."""

    alert_id: int
    incident_id: int | None
    incident_created: bool
    duplicate: bool
    incident_resolved: bool
    channel: str | None = None


R = TypeVar("R", bound="Repository")


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
        if isinstance(result, BaseException):
            loop.call_soon_threadsafe(_fail, self.pending, result)
        else:
            loop.call_soon_threadsafe(_succeed, self.pending, result)


def _succeed(pending: asyncio.Future[list[IntakeOutcome]], result: list[IntakeOutcome]) -> None:
    if not pending.done():  # the caller may have given up (a cancelled request)
        pending.set_result(result)


def _fail(pending: asyncio.Future[list[IntakeOutcome]], error: BaseException) -> None:
    if not pending.done():
        pending.set_exception(error)


def in_executor(
    method: Callable[Concatenate[R, P], T],
) -> Callable[Concatenate[R, P], Coroutine[Any, Any, T]]:
    """Run a blocking repository method on the repository's executor."""
    @functools.wraps(method)
    async def wrapper(self: R, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(method, self, *args, **kwargs)
        )

    return wrapper  # type: ignore[return-value]


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


class Repository:
    """A set of blocking queries over one engine, run on a shared executor."""

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor | None = None) -> None:
        self.engine = engine
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self._executor = executor or ThreadPoolExecutor(max_workers=workers,
                                                        thread_name_prefix="store")

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


class Store(Repository):
    """The service's own queries: intake, incidents, threads, investigations, feedback.

    Background work (job runs, findings, reports) and the model ledger have their own
    repositories sharing this store's executor (`storage.background`, `storage.ledger`).
    """

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor | None = None) -> None:
        super().__init__(engine, executor)
        self._intake: list[_Delivery] = []
        self._intake_writer: asyncio.Task[None] | None = None

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()

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
            incident = Incident(
                group_key=alert.group_key,
                source=alert.source,
                title=alert.title,
                service=alert.service,
                signal=alert.signal,
                severity=alert.severity,
                source_url=alert.links.get("source"),
                channel=route(alert),
                opened_at=now,
            )
            session.add(incident)
            session.flush()  # its id goes on the alert and the thread's rows
        txn.incidents[alert.group_key] = incident
        assert incident.id is not None
        incident.alert_count += 1
        incident.firing_count += 1
        incident.updated_at = now
        if Severity(alert.severity).rank < Severity(incident.severity).rank:
            incident.severity = alert.severity
        if not created:
            incident.version += 1
            session.add(
                ThreadUpdate(
                    incident_id=incident.id,
                    kind="alert_added",
                    text=_alert_line("🔥", alert),
                )
            )
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
        incident.firing_count = max(0, incident.firing_count - 1)
        incident.updated_at = now
        incident.version += 1
        resolved = incident.firing_count == 0
        if resolved:
            first_start = min((as_utc(a.started_at) for a in session.exec(
                select(Alert).where(Alert.incident_id == incident.id))),
                default=incident.opened_at)
            incident.status = IncidentStatus.RESOLVED
            # The source knows when the alert ended; our receipt time may lag behind it.
            incident.resolved_at = existing.ended_at or now
            incident.resolved_by = f"{existing.source} (alert resolved)"
            session.add(
                ThreadUpdate(
                    incident_id=incident.id,
                    kind="resolved",
                    text=f"✅ Resolved by {existing.source}: every alert of this incident "
                    f"has cleared (after {_duration(first_start, incident.resolved_at)}).",
                )
            )
            session.add(AuditEvent(actor="nightowl", action="resolved_by_alert",
                                   incident_id=incident.id, detail={"alert_id": existing.id}))
        else:
            session.add(
                ThreadUpdate(
                    incident_id=incident.id, kind="alert_resolved",
                    text=_alert_line("✅", existing),
                )
            )
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
    def set_status(self, incident_id: int, status: IncidentStatus) -> Incident:
        with self._session() as session:
            incident = _get_incident(session, incident_id)
            if incident.status != IncidentStatus.RESOLVED and incident.status != status:
                incident.status = status
                incident.version += 1
                incident.updated_at = utcnow()
                session.add(incident)
                session.commit()
            return incident

    @in_executor
    def acknowledge(self, incident_id: int, user: str) -> tuple[Incident, bool]:
        """Returns the incident and whether this click changed anything."""
        with self._session() as session:
            incident = _get_incident(session, incident_id)
            session.add(AuditEvent(actor=user, action="acknowledge", incident_id=incident_id))
            changed = incident.acknowledged_by is None
            if changed:
                incident.acknowledged_by = user
                incident.acknowledged_at = utcnow()
                incident.version += 1
                session.add(incident)
                session.add(ThreadUpdate(incident_id=incident_id, kind="ack",
                                         text=f"👀 Acknowledged by <@{user}>."))
            session.commit()
            return incident, changed

    @in_executor
    def resolve(self, incident_id: int, user: str) -> tuple[Incident, bool]:
        with self._session() as session:
            incident = _get_incident(session, incident_id)
            session.add(AuditEvent(actor=user, action="resolve", incident_id=incident_id))
            changed = incident.status != IncidentStatus.RESOLVED
            if changed:
                now = utcnow()
                incident.status = IncidentStatus.RESOLVED
                incident.resolved_by = user
                incident.resolved_at = now
                incident.version += 1
                session.add(incident)
                session.add(ThreadUpdate(
                    incident_id=incident_id, kind="resolved",
                    text=f"✅ Resolved by <@{user}> after {_duration(incident.opened_at, now)}."))
            session.commit()
            return incident, changed

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
    def add_note(self, incident_id: int, kind: str, text: str) -> None:
        """Queue a thread reply (the renderer posts it)."""
        with self._session() as session:
            session.add(ThreadUpdate(incident_id=incident_id, kind=kind, text=text))
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
        with self._session() as session:
            for update_id in update_ids:
                row = session.get(ThreadUpdate, update_id)
                if row is not None:
                    row.posted_ts = ts
                    session.add(row)
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
        with self._session() as session:
            row = Investigation(incident_id=incident_id, trigger=trigger)
            session.add(row)
            if incident_id is not None:
                incident = _get_incident(session, incident_id)
                if incident.status in (IncidentStatus.OPEN, IncidentStatus.DIAGNOSED):
                    incident.status = IncidentStatus.INVESTIGATING
                    incident.version += 1
                    session.add(incident)
            session.commit()
            return row

    @in_executor
    def save_investigation(self, row: Investigation) -> Investigation:
        with self._session() as session:
            merged = session.merge(row)
            if merged.incident_id is not None and merged.status in ("done", "failed"):
                incident = _get_incident(session, merged.incident_id)
                if incident.status == IncidentStatus.INVESTIGATING:
                    # An abstention or a failed run diagnosed nothing: back to open.
                    incident.status = (IncidentStatus.DIAGNOSED if merged.status == "done"
                                       and not merged.abstained else IncidentStatus.OPEN)
                    incident.version += 1
                    session.add(incident)
            session.commit()
            return merged

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


def _alert_line(icon: str, alert: Alert) -> str:
    return f"{icon} {alert.status}: *{alert.title}* ({alert.service}, {alert.severity})"


def _duration(start: datetime, end: datetime) -> str:
    seconds = max(0, int((as_utc(end) - as_utc(start)).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"
