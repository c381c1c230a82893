"""What the Temporal benchmark's processes share: a Service over a database whose
investigations read one scenario directory (so every runner does the same work), and a slow
flow for the kill-and-resume figure.

    python -m benchmarks.flows_support worker DATABASE_URL TEMPORAL_ADDRESS QUEUE SCENARIO

runs a Temporal worker exactly as `nightowl worker` does (the same workflow, the same
activity, the same flows), with the scenario as its telemetry.
"""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path

from bot.console import ConsoleSurface
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from integrations.telemetry.scenario import ScenarioSource
from scheduler.flows import Flow, State, Step
from storage.db import make_engine
from storage.repository import Store

SLOW = "bench_slow"
SLOW_STEP_S = 3.0


def service(database_url: str, scenario: Path) -> Service:
    source = ScenarioSource(scenario)
    svc = Service(store=Store(make_engine(database_url)), surface=ConsoleSurface(io.StringIO()),
                  metrics=Metrics(), router=Router({}, "#bench"),
                  telemetry_for=lambda incident, alerts: source, auto_investigate=False)
    svc.flows.add(slow_flow())
    return svc


def slow_flow() -> Flow:
    async def work(state: State) -> State:
        # Stands for a step that takes a while (a long query, a clone): long enough for the
        # benchmark to kill the worker in the middle of it.
        await asyncio.sleep(SLOW_STEP_S)
        return {"done": True}

    return Flow(SLOW, (Step("work", work, timeout=timedelta(minutes=2)),))


async def _work(database_url: str, address: str, queue: str, scenario: Path) -> None:
    from temporalio.worker import Worker

    from scheduler.temporal.activities import StepActivities
    from scheduler.temporal.runner import TemporalRunner, connect
    from scheduler.temporal.workflow import FlowWorkflow
    from storage.flows import FlowStore

    svc = service(database_url, scenario)
    client = await connect(address, "default")
    svc.use_runner(TemporalRunner(client, flows=svc.flows,
                                  store=FlowStore.beside(svc.store), task_queue=queue))
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    async with Worker(client, task_queue=queue, workflows=[FlowWorkflow],
                      activities=[StepActivities(svc.flows).run_step],
                      max_concurrent_activities=20):
        print("worker ready", flush=True)
        await stopping.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("bot").setLevel(logging.WARNING)
    logging.getLogger("agents").setLevel(logging.WARNING)
    _, _, url, temporal, task_queue, case = sys.argv
    asyncio.run(_work(url, temporal, task_queue, Path(case)))
