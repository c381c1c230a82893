"""The schedule: APScheduler with its SQLAlchemy job store in nightowl's database.

Every replica runs a `Scheduler`, but only the one holding the `scheduler` database lock
(advisory lock on PostgreSQL, lease on SQLite) has its APScheduler running; the others keep
trying and take over when the leader dies. Each run then goes through `JobRunner`, whose
per-job lock also keeps `nightowl jobs run` from overlapping a scheduled run.

Job definitions live in the job store, so a restart keeps each job's next run time: runs
missed while nothing was up are coalesced into one run on start. A run cut off by a crash is
found on takeover, marked interrupted, and run again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine

from scheduler.runner import JobRunner
from storage.locks import database_lock

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
LEADER_LOCK = "scheduler"

# APScheduler stores a textual reference to the function it calls ("module:function"), so
# that function must be importable and find this process's runner: it is registered here
# when a Scheduler starts, never at import time.
_runner: JobRunner | None = None


async def run_scheduled(name: str) -> None:
    if _runner is None:
        log.error("job %s fired but no scheduler is running in this process", name)
        return
    await _runner.run(name, trigger="schedule")


class Scheduler:
    def __init__(self, *, runner: JobRunner, engine: Engine,
                 schedules: Mapping[str, BaseTrigger], lease_seconds: float = 30.0,
                 poll_seconds: float | None = None) -> None:
        self.runner = runner
        self.engine = engine
        self.schedules = dict(schedules)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds or max(0.5, lease_seconds / 3)
        self.leader = False
        self._lock = database_lock(engine, LEADER_LOCK, holder=runner.holder,
                                   ttl_seconds=lease_seconds)
        self._aps: AsyncIOScheduler | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[object]] = set()

    def job_store(self) -> SQLAlchemyJobStore:
        return SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE)

    async def start(self) -> None:
        global _runner
        _runner = self.runner
        self._loop_task = asyncio.create_task(self._lead(), name="scheduler-leader")

    async def stop(self) -> None:
        global _runner
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        if self.leader:
            await asyncio.to_thread(self._lock.release)
            self.leader = False
        if _runner is self.runner:
            _runner = None

    async def _lead(self) -> None:
        while True:
            try:
                if not self.leader:
                    if await asyncio.to_thread(self._lock.acquire):
                        await self._become_leader()
                elif not await asyncio.to_thread(self._lock.renew):
                    self._step_down()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler: leadership check failed; trying again")
            await asyncio.sleep(self.poll_seconds)

    async def _become_leader(self) -> None:
        self.leader = True
        log.info("scheduler: this process now runs the schedule (%s)", self.runner.holder)
        if self._aps is None:
            self._aps = AsyncIOScheduler(
                jobstores={"default": self.job_store()},
                job_defaults={"coalesce": True, "max_instances": 1,
                              "misfire_grace_time": None})
            self._aps.start(paused=True)
        self._sync_jobs(self._aps)
        self._aps.resume()
        await self._retry_interrupted()

    def _step_down(self) -> None:
        log.warning("scheduler: lost the leader lock; pausing the schedule")
        self.leader = False
        if self._aps is not None and self._aps.running:
            self._aps.pause()

    def _sync_jobs(self, aps: AsyncIOScheduler) -> None:
        """Make the job store match the configuration, keeping next run times that still
        follow the configured trigger (so missed runs coalesce instead of being skipped)."""
        for job in aps.get_jobs():
            if job.id not in self.schedules or job.id not in self.runner.jobs:
                log.info("scheduler: removing job %s (no longer configured)", job.id)
                job.remove()
        for name, trigger in self.schedules.items():
            if name not in self.runner.jobs:
                continue
            existing = aps.get_job(name)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            aps.add_job("scheduler.service:run_scheduled", trigger=trigger, args=[name],
                        id=name, name=name, replace_existing=True)
            log.info("scheduler: job %s scheduled %s", name, trigger)

    async def _retry_interrupted(self) -> None:
        for name in self.runner.jobs:
            runs = await self.runner.store.runs(name, limit=1)
            if runs and runs[0].outcome in ("running", "interrupted"):
                log.warning("scheduler: the last %s run was cut off; running it again now",
                            name)
                task: asyncio.Task[object] = asyncio.create_task(
                    self.runner.run(name, trigger="retry"))
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)

    def next_runs(self) -> dict[str, datetime | None]:
        """Next run time of each stored job (readable without being the leader)."""
        store = self.job_store()
        aps = AsyncIOScheduler(jobstores={"default": store})
        store.start(aps, "default")
        try:
            return {job.id: job.next_run_time for job in store.get_all_jobs()}
        finally:
            store.shutdown()
