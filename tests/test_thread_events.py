"""The thread as typed events: storage keeps what happened (no words), the lifecycle is plain
functions, each surface words the events; the re-investigate cooldown holds across replicas."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlmodel import Session, select

from bot.console import ConsoleSurface
from bot.thread_text import reply_text
from storage import lifecycle
from storage.db import alembic_config, make_engine, upgrade
from storage.models import IncidentStatus, Investigation, ThreadUpdate, utcnow
from storage.outbox import Outbox
from storage.repository import NotNow, Store
from storage.thread_events import (
    Acknowledged,
    AlertChanged,
    InvestigationFinished,
    Note,
    Resolved,
)
from tests.test_storage import T0, alert, route


async def test_the_outbox_holds_events_as_data_and_each_surface_words_them(store: Store) -> None:
    hostile = alert("b")
    hostile.title = "disk full <!channel> see <https://evil.example|the fix>"
    (first,) = await store.ingest([alert("a")], route)
    assert first.incident_id is not None
    incident_id = first.incident_id
    await store.ingest([hostile], route)
    await store.acknowledge(incident_id, "U123ABC")
    await store.acknowledge(incident_id, "U999ZZZ")  # the first acknowledgement counts
    await store.add_event(incident_id, Note(author="api:ops", text="rolled back <@U1>"))
    await store.ingest([alert("a", status="resolved"), alert("b", status="resolved")], route)

    rows = await store.pending_updates(incident_id)
    assert all(row.text is None and row.data for row in rows), "no words in storage"
    events = [row.event for row in rows]
    assert [type(e) for e in events] == [AlertChanged, Acknowledged, Note, AlertChanged,
                                         Resolved]
    assert events[1] == Acknowledged(user="U123ABC")
    resolved = events[-1]
    assert isinstance(resolved, Resolved) and resolved.source == "alertmanager"

    text = reply_text(events)
    assert "👀 Acknowledged by <@U123ABC>." in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text  # outside text is inert
    assert "&lt;@U1&gt;" in text and "<https://evil" not in text
    assert "✅ Resolved by alertmanager: every alert of this incident has cleared" in text

    out = io.StringIO()
    incident = await store.incident(incident_id)
    await ConsoleSurface(out).post_events(incident, events, tag=("update", rows[0].id or 0))
    printed = out.getvalue()
    assert "Acknowledged by @U123ABC." in printed and "Note from api:ops" in printed


def test_the_lifecycle_is_plain_functions() -> None:
    now = utcnow()
    incident = lifecycle.open_incident(alert("a"), "#ops", now)
    assert lifecycle.alert_joined(incident, alert("a"), now, created=True) == []
    version = incident.version
    assert lifecycle.acknowledge(incident, "U1", now) == [Acknowledged(user="U1")]
    assert lifecycle.acknowledge(incident, "U2", now) == [] and incident.acknowledged_by == "U1"
    lifecycle.investigation_started(incident, now)
    assert incident.status == IncidentStatus.INVESTIGATING
    lifecycle.investigation_finished(incident, diagnosed=False, now=now)
    assert incident.status == IncidentStatus.OPEN  # an abstention diagnosed nothing
    later = now + timedelta(minutes=5)
    [resolved] = lifecycle.resolve(incident, "U1", later)
    assert resolved == Resolved(user="U1", after_s=300)
    assert lifecycle.resolve(incident, "U1", later) == []
    assert [e.kind for e in lifecycle.reopen(incident, "U2", later)] == ["reopened"]
    assert incident.status == IncidentStatus.OPEN and incident.resolved_at is None
    assert incident.version == version + 5


async def test_an_investigation_queues_its_messages_in_the_outbox(store: Store) -> None:
    (first,) = await store.ingest([alert("a")], route)
    assert first.incident_id is not None
    run = await store.start_investigation(first.incident_id, "auto")
    assert run.id is not None
    await store.save_progress(run.id, {"tested": 3})
    await Outbox.beside(store).investigation_posted(run.id, "1.000")
    run.status, run.finished_at = "done", utcnow()  # `run` is a stale copy now
    await store.save_investigation(run)
    await store.save_investigation(run)  # saving a finished run again queues nothing new
    kinds = [u.kind for u in await store.pending_updates(first.incident_id)]
    assert kinds == ["investigation_started", "investigation_progress",
                     "investigation_finished"]
    stored = await store.investigation(run.id)
    assert stored.progress == {"tested": 3} and stored.slack_ts == "1.000"
    assert not stored.shown_final and stored.status == "done"


async def test_the_reinvestigate_cooldown_holds_across_replicas(database_url: str) -> None:
    """Two stores on their own engines and executors, as two processes have: twenty clicks
    at once, half on each, start one run."""
    replicas = [Store(make_engine(database_url)) for _ in range(2)]
    upgrade(replicas[0].engine)
    try:
        (first,) = await replicas[0].ingest([alert("a")], route)
        assert first.incident_id is not None
        incident_id = first.incident_id
        results = await asyncio.gather(*(
            replicas[i % 2].claim_investigation(incident_id, "reinvestigate",
                                                cooldown_s=120, stuck_s=1800)
            for i in range(20)))
        started = [r for r in results if isinstance(r, Investigation)]
        assert len(started) == 1
        refusals = [r for r in results if isinstance(r, NotNow)]
        assert len(refusals) == 19
        # Finished, but within the cooldown: still refused, with the time to wait.
        run = started[0]
        run.status, run.finished_at = "done", utcnow()
        await replicas[1].save_investigation(run)
        later = await replicas[1].claim_investigation(incident_id, "reinvestigate",
                                                      cooldown_s=120, stuck_s=1800)
        assert isinstance(later, NotNow) and not later.running and 0 < later.wait_s <= 121
        again = await replicas[0].claim_investigation(incident_id, "reinvestigate",
                                                      cooldown_s=0, stuck_s=1800)
        assert isinstance(again, Investigation)
    finally:
        for replica in replicas:
            replica.close()


def test_unshown_runs_from_before_typed_events_are_queued_by_the_migration(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade(engine, "0004_slack_outbox")
    when = T0.strftime("%Y-%m-%d %H:%M:%S.000000")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO incident (group_key, source, title, service, signal, severity, status,"
            " channel, opened_at, updated_at, alert_count, firing_count, version,"
            " rendered_version) VALUES ('g', 'alertmanager', 't', 's', 'other', 'warning',"
            " 'diagnosed', '#ops', :when, :when, 1, 1, 2, 2)"), {"when": when})
        for shown in (False, True):
            conn.execute(text(
                "INSERT INTO investigation (incident_id, status, trigger, started_at, abstained,"
                " queries, llm_calls, llm_input_tokens, cost_usd, shown_final, progress, result)"
                " VALUES (1, 'done', 'auto', :when, false, 0, 0, 0, 0, :shown, '{}', '{}')"),
                {"when": when, "shown": shown})
    for _ in range(2):  # and once more after a downgrade, which drops the typed rows
        upgrade(engine)
        with Session(engine) as session:
            rows = list(session.exec(select(ThreadUpdate)))
        assert [row.event for row in rows] == [InvestigationFinished(investigation_id=1)]
        command.downgrade(alembic_config(engine), "0004_slack_outbox")
    engine.dispose()


_CLICKER = """
import asyncio, sys, time
from storage.db import make_engine
from storage.repository import Store
from storage.models import Investigation

async def main() -> None:
    store = Store(make_engine(sys.argv[1]))
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # both processes click at once
    results = await asyncio.gather(*(store.claim_investigation(
        1, "reinvestigate", cooldown_s=120, stuck_s=1800) for _ in range(10)))
    print(sum(isinstance(r, Investigation) for r in results))
    store.close()

asyncio.run(main())
"""


def test_the_reinvestigate_cooldown_holds_across_processes(tmp_path: Path) -> None:
    """Two real processes, ten clicks each at the same moment: one run starts."""
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path}/nightowl.db"
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    try:
        asyncio.run(store.ingest([alert("a")], route))
    finally:
        store.close()
    at = str(time.time() + 3.0)
    clickers = [subprocess.Popen([sys.executable, "-c", _CLICKER, url, at],
                                 stdout=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).parents[1]) for _ in range(2)]
    started = [int(c.communicate(timeout=60)[0].strip()) for c in clickers]
    assert all(c.returncode == 0 for c in clickers)
    assert sum(started) == 1, started
