"""Database locks, the job runner's history and failure reports, and APScheduler with its
real SQLAlchemy job store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
from sqlalchemy import inspect

from scheduler.errors import ScheduleError
from scheduler.jobs.base import JobOutcome
from scheduler.runner import JobRunner
from scheduler.schedule import parse_schedule
from scheduler.service import JOBS_TABLE, Scheduler
from storage.background import BackgroundStore
from storage.locks import LeaseLock, database_lock
from storage.repository import Store


@dataclass
class Recorder:
    name: str = "probe"
    fail: bool = False
    delay: float = 0.0
    runs: list[str] = field(default_factory=list)

    async def run(self, *, trigger: str) -> JobOutcome:
        self.runs.append(trigger)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("source answered garbage")
        return JobOutcome(items=2, summary="2 things")


@dataclass
class Announced:
    posts: list[tuple[str, str]] = field(default_factory=list)

    async def post(self, channel: str, text: str, blocks: object) -> Announced:
        self.posts.append((channel, text))
        return self

    channel = "C1"
    ts = "1.0"


def test_schedules_parse() -> None:
    assert "interval[0:05:00]" in str(parse_schedule("every 5m"))
    assert "cron[" in str(parse_schedule("cron 0 8 * * *"))
    assert "cron[" in str(parse_schedule("*/10 * * * *"))
    assert parse_schedule("off") is None
    with pytest.raises(ScheduleError, match="NIGHTOWL_DIGEST_SCHEDULE"):
        parse_schedule("every tuesday", setting="NIGHTOWL_DIGEST_SCHEDULE")


def test_lock_is_exclusive_and_released(store: Store) -> None:
    a = database_lock(store.engine, "probe", holder="host-a:1:x", ttl_seconds=30)
    b = database_lock(store.engine, "probe", holder="host-b:1:y", ttl_seconds=30)
    assert a.acquire()
    assert not b.acquire()
    assert a.renew()
    a.release()
    assert b.acquire()
    b.release()


def test_lease_of_a_dead_process_on_this_host_is_taken_over(sqlite_store: Store) -> None:
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    gone = LeaseLock(sqlite_store.engine, "probe", holder=f"{socket.gethostname()}:{dead}:z",
                     ttl_seconds=3600)
    assert gone.acquire()
    alive_elsewhere = LeaseLock(sqlite_store.engine, "other", holder="elsewhere:1:q",
                                ttl_seconds=3600)
    assert alive_elsewhere.acquire()
    me = LeaseLock(sqlite_store.engine, "probe", holder="x", ttl_seconds=30)
    me.holder = f"{socket.gethostname()}:{__import__('os').getpid()}:me"
    assert me.acquire()  # its holder's pid is gone: no need to wait an hour
    other = LeaseLock(sqlite_store.engine, "other", holder=me.holder, ttl_seconds=30)
    assert not other.acquire()  # a holder on another host is trusted until it expires


def _runner(store: Store, job: Recorder, announcer: Announced | None = None,
            **kw: object) -> JobRunner:
    return JobRunner(jobs={job.name: job}, store=BackgroundStore.beside(store),
                     engine=store.engine, holder="test:1:a", announcer=announcer,
                     ops_channel="#ops", lease_seconds=5, **kw)  # type: ignore[arg-type]


async def test_runs_are_recorded_and_failures_reported_once(store: Store) -> None:
    job = Recorder(fail=True)
    ops = Announced()
    runner = _runner(store, job, ops, failure_threshold=3)
    for _ in range(5):
        run = await runner.run("probe", trigger="schedule")
        assert run is not None and run.outcome == "failed"
        assert run.error == "RuntimeError: source answered garbage"
    assert len(ops.posts) == 1 and "failed 3 times in a row" in ops.posts[0][1]
    job.fail = False
    ok = await runner.run("probe", trigger="manual")
    assert ok is not None and (ok.outcome, ok.items, ok.summary) == ("ok", 2, "2 things")
    assert len(ops.posts) == 2 and "recovered after 5 failed runs" in ops.posts[1][1]
    await runner.run("probe", trigger="schedule")
    assert len(ops.posts) == 2
    history = await runner.store.runs("probe", limit=10)
    assert [r.outcome for r in history] == ["ok", "ok", *["failed"] * 5]


async def test_a_job_never_runs_twice_at_once(store: Store) -> None:
    job = Recorder(delay=0.5)
    first, second = _runner(store, job), _runner(store, job)
    second.holder = "test:2:b"
    results = await asyncio.gather(first.run("probe", trigger="schedule"),
                                   second.run("probe", trigger="manual"))
    assert sorted(r is None for r in results) == [False, True]
    assert len(job.runs) == 1


async def test_a_cut_off_run_is_marked_interrupted(store: Store) -> None:
    background = BackgroundStore.beside(store)
    await background.start_run("probe", trigger="schedule", holder="gone:1:a")
    runner = _runner(store, Recorder())
    await runner.run("probe", trigger="retry")
    outcomes = [(r.trigger, r.outcome) for r in await background.runs("probe")]
    assert outcomes == [("retry", "ok"), ("schedule", "interrupted")]


async def test_apscheduler_runs_jobs_from_its_database_job_store(store: Store) -> None:
    job = Recorder()
    runner = _runner(store, job)
    scheduler = Scheduler(runner=runner, engine=store.engine, lease_seconds=3,
                          schedules={"probe": parse_schedule("every 1s")})  # type: ignore[dict-item]
    await scheduler.start()
    try:
        for _ in range(100):
            if len(job.runs) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await scheduler.stop()
    assert scheduler.leader is False
    assert job.runs[:2] == ["schedule", "schedule"]
    assert JOBS_TABLE in inspect(store.engine).get_table_names()
    next_runs = scheduler.next_runs()
    assert list(next_runs) == ["probe"] and next_runs["probe"] is not None

    # A second scheduler (a restart) keeps the stored job and its next run time.
    again = Scheduler(runner=runner, engine=store.engine, lease_seconds=3,
                      schedules={"probe": parse_schedule("every 1s")})  # type: ignore[dict-item]
    assert again.next_runs() == next_runs
