"""`nightowl worker`, and putting `nightowl serve`'s flows on Temporal.

With TEMPORAL_ADDRESS set, `serve` takes webhooks and clicks and starts flows; the workers
run them (any number, on any machines, on TEMPORAL_TASK_QUEUE). Both build the same
flows from the same settings, so a workflow started by serve finds its steps in every worker.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.background import Background
    from bot.settings import Settings
    from bot.wiring import Wiring
    from scheduler.temporal.runner import TemporalRunner

log = logging.getLogger("nightowl.worker")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.cli import _positive

    worker = sub.add_parser(
        "worker", help="run flows from Temporal (TEMPORAL_ADDRESS): investigations, triage, "
                       "fix PRs, scheduled jobs",
        description="Run a Temporal worker on TEMPORAL_TASK_QUEUE (default nightowl) "
                    "at TEMPORAL_ADDRESS, namespace TEMPORAL_NAMESPACE: it executes the steps "
                    "of every flow `nightowl serve` starts and every scheduled job. Run as many "
                    "as you like, anywhere; a step a dead worker held is retried on another. "
                    "Needs the same settings as serve (database, Slack, telemetry, GitHub).")
    worker.add_argument("--max-concurrent-steps", type=_positive, default=20, metavar="N",
                        help="steps this worker runs at once (default 20)")
    worker.add_argument("--alive-file", type=Path, metavar="PATH",
                        help="touch PATH every few seconds while this worker runs, for a "
                             "liveness probe: `python -m scheduler.temporal.liveness PATH` "
                             "fails when it is stale (docs/deploy.md)")
    worker.add_argument("--alive-every", type=_positive_seconds, default=10.0, metavar="S",
                        help="seconds between touches of --alive-file (default 10)")
    worker.set_defaults(func=run_worker)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def reach_temporal(settings: Settings) -> None:
    """Before anything is built: TemporalUnavailable (one line naming TEMPORAL_ADDRESS)
    when Temporal does not answer."""
    from scheduler.temporal.runner import connect

    config = settings.temporal
    assert config.address is not None
    asyncio.run(connect(config.address, config.namespace))


async def temporal_runner(settings: Settings, wiring: Wiring,
                          background: Background | None) -> TemporalRunner:
    """Connect (or raise TemporalUnavailable naming TEMPORAL_ADDRESS), register the job flow,
    and put the service's flows on Temporal."""
    from bot.flows import job_flow
    from scheduler.temporal.runner import TemporalRunner, connect
    from scheduler.temporal.types import Timeouts
    from storage.flows import FlowStore

    config = settings.temporal
    assert config.address is not None
    client = await connect(config.address, config.namespace)
    service = wiring.service
    if background is not None:
        service.flows.add(job_flow(background.runner))
    runner = TemporalRunner(client, flows=service.flows, store=FlowStore.beside(service.store),
                            task_queue=config.task_queue,
                            timeouts=Timeouts(heartbeat_s=config.heartbeat_timeout_seconds))
    service.use_runner(runner)
    return runner


def run_worker(args: argparse.Namespace) -> int:
    from bot.cli import _settings

    settings = _settings()
    if not settings.temporal.configured:
        from bot.errors import StartupError

        raise StartupError("TEMPORAL_ADDRESS is not set: `nightowl worker` runs flows from "
                           "Temporal. Without Temporal, `nightowl serve` runs everything itself.")
    from bot.background import build_background
    from bot.security_sources import build_security_sources
    from bot.wiring import build

    reach_temporal(settings)
    security_sources = build_security_sources(settings.security_detection)
    wiring = build(settings, security_sources=security_sources)
    background = build_background(settings, wiring.service, security_sink=wiring.security,
                                  security_sources=security_sources, dev=wiring.dev)
    asyncio.run(_work(settings, wiring, background, args.max_concurrent_steps,
                      alive_file=args.alive_file, alive_every=args.alive_every))
    return 0


async def _work(settings: Settings, wiring: Wiring, background: Background,
                concurrency: int, *, alive_file: Path | None = None,
                alive_every: float = 10.0) -> None:
    from temporalio.worker import Worker

    from scheduler.temporal.activities import StepActivities
    from scheduler.temporal.liveness import keep_alive
    from scheduler.temporal.workflow import FlowWorkflow

    runner = await temporal_runner(settings, wiring, background)
    activities = StepActivities(wiring.service.flows)
    worker = Worker(runner.client, task_queue=settings.temporal.task_queue,
                    workflows=[FlowWorkflow], activities=[activities.run_step],
                    max_concurrent_activities=concurrency)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    log.info("nightowl worker: task queue %s at %s (namespace %s); flows: %s",
             settings.temporal.task_queue, settings.temporal.address,
             settings.temporal.namespace, ", ".join(wiring.service.flows.names()))
    async with worker:
        alive = None
        if alive_file is not None:
            # Touched only while the Temporal worker runs: one stopped by a fatal error (no
            # more polling) or a loop stuck in a blocking call lets the file go stale.
            alive = asyncio.create_task(keep_alive(alive_file, lambda: worker.is_running,
                                                   every_s=alive_every), name="alive-file")
        await stopping.wait()
        log.info("nightowl worker: stopping; steps in flight finish or are retried elsewhere")
        if alive is not None:
            alive.cancel()
    await wiring.service.dispatcher.close()
