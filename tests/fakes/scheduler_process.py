"""A real process running nightowl's Scheduler with one probe job (every second, 0.4 s
long) over NIGHTOWL_DATABASE_URL; the two-process lock test starts two of these."""

from __future__ import annotations

import asyncio
import logging

from bot.settings import Settings
from scheduler.jobs.base import JobOutcome
from scheduler.runner import JobRunner
from scheduler.schedule import parse_schedule
from scheduler.service import Scheduler
from storage.background import BackgroundStore
from storage.db import make_engine
from storage.locks import process_holder
from storage.repository import Store


class Probe:
    name = "probe"

    async def run(self, *, trigger: str) -> JobOutcome:
        await asyncio.sleep(0.4)
        return JobOutcome(items=1, summary="probed")


async def main() -> None:
    settings = Settings()
    store = Store(make_engine(settings.database_url))
    runner = JobRunner(jobs={"probe": Probe()}, store=BackgroundStore.beside(store),
                       engine=store.engine, holder=process_holder(),
                       lease_seconds=settings.scheduler.lease_seconds)
    trigger = parse_schedule("every 1s")
    assert trigger is not None
    scheduler = Scheduler(runner=runner, engine=store.engine, schedules={"probe": trigger},
                          lease_seconds=settings.scheduler.lease_seconds, poll_seconds=0.5)
    await scheduler.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
