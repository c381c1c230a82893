"""Incident grouping, de-duplication, lifecycle and the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, inspect

from storage.db import upgrade
from storage.models import Alert, AlertStatus, IncidentStatus, Severity, Signal
from storage.repository import Store

T0 = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)


def alert(key: str, *, group: str = "g1", status: str = "firing", service: str = "checkout",
          severity: Severity = Severity.WARNING, at: datetime = T0) -> Alert:
    return Alert(source="alertmanager", dedup_key=key, group_key=group,
                 status=AlertStatus(status), service=service, signal=Signal.LATENCY,
                 severity=severity, title=f"alert {key}", started_at=at,
                 labels={"alertname": key}, raw={"fingerprint": key})


def route(_: Alert) -> str:
    return "#incidents"


async def test_migrations_are_idempotent(store: Store) -> None:
    upgrade(store.engine)  # already at head: nothing to do, nothing breaks
    tables = set(inspect(store.engine).get_table_names())
    assert {"alert", "incident", "auditevent", "deadletter", "threadupdate", "investigation",
            "feedback", "alembic_version"} <= tables


async def test_grouping_dedup_and_resolution(store: Store) -> None:
    (first,) = await store.ingest([alert("a")], route)
    assert first.incident_created and not first.duplicate
    incident_id = first.incident_id
    assert incident_id is not None

    (repeat,) = await store.ingest([alert("a")], route)
    assert repeat.duplicate and repeat.incident_id == incident_id

    (second,) = await store.ingest([alert("b", severity=Severity.CRITICAL)], route)
    assert second.incident_id == incident_id and not second.incident_created

    (other,) = await store.ingest([alert("c", group="g2")], route)
    assert other.incident_id != incident_id

    incident = await store.incident(incident_id)
    assert incident.alert_count == 2 and incident.firing_count == 2
    assert incident.severity == Severity.CRITICAL  # the worst alert wins
    updates = await store.pending_updates(incident_id)
    assert [u.kind for u in updates] == ["alert_added"]  # the first alert is the root message

    (partial,) = await store.ingest([alert("a", status="resolved")], route)
    assert not partial.incident_resolved
    (last,) = await store.ingest([alert("b", status="resolved")], route)
    assert last.incident_resolved
    incident = await store.incident(incident_id)
    assert incident.status == IncidentStatus.RESOLVED and incident.firing_count == 0
    kinds = [u.kind for u in await store.pending_updates(incident_id)]
    assert kinds == ["alert_added", "alert_resolved", "resolved"]
    alerts = await store.incident_alerts(incident_id)
    assert alerts[0].deliveries == 3 and alerts[0].raw == {"fingerprint": "a"}

    # Firing again after resolution opens a new incident for the group.
    (again,) = await store.ingest([alert("a", at=T0 + timedelta(hours=1))], route)
    assert again.incident_created and again.incident_id not in (incident_id, None)


async def test_repeats_within_one_payload_are_all_counted(store: Store) -> None:
    # One delivery may carry an alert, its repeat and its resolution: the repeat is counted
    # by a plain UPDATE, which must not leave the alert loaded earlier in the transaction
    # stale for the resolution that follows.
    outcomes = await store.ingest([alert("a"), alert("a"), alert("a", status="resolved")],
                                  route)
    assert [o.duplicate for o in outcomes] == [False, True, False]
    assert outcomes[2].incident_resolved
    incident_id = outcomes[0].incident_id
    assert incident_id is not None
    (stored,) = await store.incident_alerts(incident_id)
    assert stored.deliveries == 3 and stored.status == AlertStatus.RESOLVED
    assert stored.last_seen_at >= stored.received_at


async def test_concurrent_deliveries_are_committed_together_and_each_answered(
        store: Store) -> None:
    """Fifty webhooks at once, half of them repeats: written in a few transactions (group
    commit), yet every caller gets its own outcome and nothing is lost or counted twice."""
    commits = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    sent = [alert(f"k{i % 25}") for i in range(50)]
    results = await asyncio.gather(*(store.ingest([a], route) for a in sent))
    assert all(a.source == "alertmanager" for a in sent)  # the callers' rows stay readable
    outcomes = [o for (o,) in results]
    assert len(commits) < 10
    assert sum(o.incident_created for o in outcomes) == 1
    assert sum(o.duplicate for o in outcomes) == 25
    assert len({o.alert_id for o in outcomes}) == 25 and len({o.incident_id for o in outcomes}) == 1
    incident_id = outcomes[0].incident_id
    assert incident_id is not None
    assert (await store.incident(incident_id)).alert_count == 25
    stored = await store.incident_alerts(incident_id)
    assert sorted(a.deliveries for a in stored) == [2] * 25


async def test_a_batch_reads_the_database_once_not_once_per_alert(store: Store) -> None:
    """Forty new alerts in forty groups, some already open, arriving together: the batch
    looks up stored alerts and open incidents in a couple of queries for all of them, and
    every alert still lands in its own group's incident."""
    opened = await asyncio.gather(*(store.ingest([alert(f"old{i}", group=f"g{i}")], route)
                                    for i in range(0, 40, 2)))
    selects: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_: selects.append(sql)
                 if sql.lstrip().upper().startswith("SELECT") else None)
    results = await asyncio.gather(*(store.ingest([alert(f"new{i}", group=f"g{i}")], route)
                                     for i in range(40)))
    assert len(selects) <= 12  # a few batches of two reads each, never 40 or 80
    joined = {o.incident_id for (o,) in results[0::2]}
    assert joined == {o.incident_id for (o,) in opened}
    assert all(o.incident_created for (o,) in results[1::2])

async def test_an_incident_resolved_within_a_batch_is_not_joined_again(store: Store) -> None:
    """In one batch: an alert fires, resolves (closing its incident), and a second alert of
    the same group fires. The second opens a new incident; the closed one stays closed."""
    results = await asyncio.gather(*(store.ingest([a], route) for a in (
        alert("a"), alert("a", status="resolved"), alert("b"))))
    (first,), (resolution,), (second,) = results
    assert first.incident_created and resolution.incident_resolved
    assert second.incident_created and second.incident_id != first.incident_id
    assert first.incident_id is not None and second.incident_id is not None
    assert (await store.incident(first.incident_id)).status == IncidentStatus.RESOLVED
    assert (await store.incident(second.incident_id)).firing_count == 1


async def test_a_delivery_that_cannot_be_stored_fails_alone(store: Store) -> None:
    """One delivery in a batch breaks its transaction (a payload that is not JSON); the
    others in the batch are written all the same, and only its caller sees the error."""
    broken = alert("broken")
    broken.raw = {"not json": {1, 2}}
    results = await asyncio.gather(
        *(store.ingest([a], route) for a in (alert("a"), broken, alert("b"))),
        return_exceptions=True)
    assert isinstance(results[1], Exception)
    good = [r for r in results if not isinstance(r, BaseException)]
    assert [o.incident_created for (o,) in good] == [True, False]
    incident_id = good[0][0].incident_id
    assert incident_id is not None
    assert {a.dedup_key for a in await store.incident_alerts(incident_id)} == {"a", "b"}


async def test_resolve_for_unknown_alert_opens_nothing(store: Store) -> None:
    (outcome,) = await store.ingest([alert("ghost", status="resolved")], route)
    assert outcome.incident_id is None and not outcome.incident_created
    assert await store.open_incidents() == []


async def test_actions_are_audited_and_idempotent(store: Store) -> None:
    (first,) = await store.ingest([alert("a")], route)
    assert first.incident_id is not None
    incident, changed = await store.acknowledge(first.incident_id, "U1")
    assert changed and incident.acknowledged_by == "U1"
    _, changed = await store.acknowledge(first.incident_id, "U2")
    assert not changed  # the first acknowledgement stands
    incident, changed = await store.resolve(first.incident_id, "U2")
    assert changed and incident.status == IncidentStatus.RESOLVED and incident.resolved_by == "U2"
    actions = [(e.actor, e.action) for e in await store.audit_events(first.incident_id)]
    assert actions == [("U1", "acknowledge"), ("U2", "acknowledge"), ("U2", "resolve")]
    assert (await store.counts())["incidents_open"] == 0


async def test_outbox_rendering_bookkeeping(store: Store) -> None:
    (first,) = await store.ingest([alert("a")], route)
    assert first.incident_id is not None
    assert await store.incidents_to_render() == [first.incident_id]
    incident = await store.incident(first.incident_id)
    await store.mark_rendered(first.incident_id, version=incident.version, channel="C1",
                              ts="1.000")
    assert await store.incidents_to_render() == []
    await store.ingest([alert("b")], route)
    assert await store.incidents_to_render() == [first.incident_id]
    updates = await store.pending_updates(first.incident_id)
    await store.mark_posted([u.id for u in updates if u.id], "2.000")
    assert await store.pending_updates(first.incident_id) == []
    refreshed = await store.incident(first.incident_id)
    assert refreshed.slack_channel == "C1" and refreshed.slack_ts == "1.000"


async def test_slack_event_ids_are_seen_once(store: Store) -> None:
    assert await store.first_sighting("Ev1")
    assert not await store.first_sighting("Ev1")
    assert await store.first_sighting("Ev2")


async def test_dead_letters_keep_the_body(store: Store) -> None:
    dead_id = await store.dead_letter(source="generic", reason="malformed JSON", body="{oops",
                                      content_type="application/json")
    assert dead_id > 0
    assert (await store.counts())["dead_letters"] == 1
