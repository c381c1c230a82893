"""Runs one job: under its database lock, recorded in the run history, failures reported once.

Whoever runs a job (the schedule, a retry, `nightowl jobs run`) goes through `JobRunner.run`,
so a job never runs twice at once across processes: the per-job lock is taken first, and a
run still marked `running` found under that lock was cut off by a dead process and is marked
`interrupted`.

A job that fails `failure_threshold` times in a row is reported to the ops channel once; the
first success after that says it recovered. The streak is read from the history, so a restart
neither repeats nor forgets the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from sqlalchemy import Engine

from scheduler.jobs.base import Announcer, Job
from storage.background import BackgroundStore
from storage.locks import DatabaseLock, database_lock
from storage.models import JobRun

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, *, jobs: Mapping[str, Job], store: BackgroundStore, engine: Engine,
                 holder: str, announcer: Announcer | None = None,
                 ops_channel: str | None = None, failure_threshold: int = 3,
                 lease_seconds: float = 30.0) -> None:
        self.jobs = dict(jobs)
        self.store = store
        self.engine = engine
        self.holder = holder
        self.announcer = announcer
        self.ops_channel = ops_channel
        self.failure_threshold = failure_threshold
        self.lease_seconds = lease_seconds

    def lock_for(self, name: str) -> DatabaseLock:
        return database_lock(self.engine, f"job:{name}", holder=self.holder,
                             ttl_seconds=self.lease_seconds)

    async def run(self, name: str, *, trigger: str) -> JobRun | None:
        """Run `name` now. None when another process is running it (nothing is recorded)."""
        job = self.jobs.get(name)
        if job is None:
            raise KeyError(f"no job named {name!r}; configured: {', '.join(self.jobs) or 'none'}")
        lock = self.lock_for(name)
        if not await asyncio.to_thread(lock.acquire):
            log.info("job %s is already running elsewhere; skipping this %s run", name, trigger)
            return None
        keeper = asyncio.create_task(self._keep(lock))
        try:
            stale = await self.store.interrupt_stale_runs(name)
            if stale:
                log.warning("job %s: %d earlier run(s) were cut off; marked interrupted",
                            name, stale)
            run = await self.store.start_run(name, trigger=trigger, holder=self.holder)
            assert run.id is not None
            log.info("job %s: run %s started (%s)", name, run.id, trigger)
            try:
                outcome = await job.run(trigger=trigger)
            except asyncio.CancelledError:
                await asyncio.shield(self.store.finish_run(
                    run.id, outcome="interrupted", error="cancelled by shutdown"))
                raise
            except Exception as exc:
                log.exception("job %s: run %s failed", name, run.id)
                finished = await self.store.finish_run(
                    run.id, outcome="failed", error=f"{type(exc).__name__}: {exc}")
                await self._report_failure(name)
                return finished
            finished = await self.store.finish_run(run.id, outcome="ok", items=outcome.items,
                                                   summary=outcome.summary)
            log.info("job %s: run %s ok: %s", name, run.id, outcome.summary)
            await self._report_recovery(name)
            return finished
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await asyncio.to_thread(lock.release)

    async def _keep(self, lock: DatabaseLock) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if not await asyncio.to_thread(lock.renew):
                log.error("lost the lock %s while running; another process may take over",
                          lock.name)

    async def _streak(self, name: str) -> list[JobRun]:
        """The most recent run first, back to (not including) the last non-failure."""
        streak: list[JobRun] = []
        for run in await self.store.runs(name, limit=self.failure_threshold + 2):
            if run.outcome != "failed":
                break
            streak.append(run)
        return streak

    async def _report_failure(self, name: str) -> None:
        streak = await self._streak(name)
        if len(streak) != self.failure_threshold:
            return
        await self._ops(f"⚠️ Background job `{name}` failed {len(streak)} times in a row. "
                        f"Last error: {streak[0].error or 'unknown'}. I will say when it "
                        "recovers; the schedule keeps running.")

    async def _report_recovery(self, name: str) -> None:
        runs = await self.store.runs(name, limit=100)
        failed = 0
        for run in runs[1:]:
            if run.outcome != "failed":
                break
            failed += 1
        if failed >= self.failure_threshold:
            await self._ops(f"✅ Background job `{name}` recovered after {failed} failed runs.")

    async def _ops(self, text: str) -> None:
        if self.announcer is None or not self.ops_channel:
            log.warning("%s (no ops channel configured)", text)
            return
        try:
            await self.announcer.post(self.ops_channel, text, [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}}])
        except Exception:
            log.exception("could not post to the ops channel %s", self.ops_channel)
