"""Flows on the real Temporal dev server with real nightowl processes on PostgreSQL: `serve`
takes the alerts and starts flows, two `nightowl worker` processes run them. A worker
SIGKILLed mid-step has its step retried by the other, once; 100 alerts in 20 groups are 20
investigations; an approval sent after the workers restarted opens exactly one PR."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from storage.db import make_engine, upgrade
from storage.models import FixProposal, FlowRun, Investigation
from tests.conftest import postgres_schema
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack
from tests.temporal_support import dev_server
from tests.test_restarts import _alertmanager_payload, held_prometheus, process, wait_for

TOKEN = "temporal-test-token"
ROOT = Path(__file__).parent.parent
HEARTBEAT_S = "3"  # short in tests: a dead worker's step moves within seconds


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dev_server(log=tmp_path_factory.mktemp("temporal") / "server.log") as address:
        yield address


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        upgrade(make_engine(url))
        yield url


def _env(db_url: str, temporal: str, queue: str, slack_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NIGHTOWL_", "SLACK_", "PROMETHEUS_", "LOKI_", "SENTRY_",
                                "TEMPORAL_", "GITHUB_"))}
    return env | {"NIGHTOWL_DATABASE_URL": db_url, "NIGHTOWL_LOG_LEVEL": "INFO",
                  "TEMPORAL_ADDRESS": temporal, "NIGHTOWL_TEMPORAL_TASK_QUEUE": queue,
                  "NIGHTOWL_TEMPORAL_HEARTBEAT_TIMEOUT_SECONDS": HEARTBEAT_S,
                  "NIGHTOWL_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-temporal",
                  "SLACK_SIGNING_SECRET": "temporal-secret", "SLACK_API_URL": f"{slack_url}/api/",
                  "NIGHTOWL_SLACK_MESSAGES_PER_SECOND": "200",
                  "NIGHTOWL_SCHEDULER_ENABLED": "false", **extra}


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _rows(db_url: str, model: Any) -> list[Any]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(model).order_by(col(model.id))))
    finally:
        engine.dispose()


@contextmanager
def cluster(env: dict[str, str], tmp: Path, *, workers: int = 2, serve: bool = True,
            ) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """serve (on a free port) and `workers` worker processes; yields (port, workers)."""
    port = free_port()
    with ExitStack() as stack:
        if serve:
            stack.enter_context(process(["-m", "bot.cli", "serve"],
                                        env | {"NIGHTOWL_PORT": str(port)}, tmp / "serve.log"))
        procs = [stack.enter_context(process(["-m", "bot.cli", "worker"], env,
                                             tmp / f"worker{i}.log")) for i in range(workers)]
        for i in range(workers):
            wait_for(lambda i=i: "nightowl worker: task queue" in _log(tmp / f"worker{i}.log"),
                     what=f"worker {i} to start", timeout=180)
        if serve:
            wait_for(lambda: _healthy(port), what="serve to start", timeout=180)
        yield port, procs


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _holder(tmp: Path, marker: str, count: int) -> int:
    """Which worker's log shows `marker` (a step starting)."""
    for i in range(count):
        if marker in _log(tmp / f"worker{i}.log"):
            return i
    return -1


def _post(port: int, payload: dict[str, Any]) -> None:
    response = httpx.post(f"http://127.0.0.1:{port}/webhooks/alertmanager", json=payload,
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 202, response.text


def test_sigkill_a_worker_mid_investigation_the_other_finishes_it_once(
        temporal: str, pg_url: str, tmp_path: Path) -> None:
    slack = FakeSlack()
    with ServerThread(slack.app()) as slack_server, held_prometheus() as (prom, release, queries):
        slack.base_url = slack_server.url
        env = _env(pg_url, temporal, "q-kill-investigation", slack_server.url,
                   PROMETHEUS_URL=prom)
        with cluster(env, tmp_path) as (port, workers):
            _post(port, _alertmanager_payload())
            wait_for(lambda: queries, what="the investigation to query Prometheus")
            held = _holder(tmp_path, "step investigate, attempt 1", 2)
            assert held >= 0, "a worker runs the investigate step"
            killed_at = time.monotonic()
            os.kill(workers[held].pid, signal.SIGKILL)
            workers[held].wait()
            release.set()

            def finished() -> list[Investigation]:
                rows = _rows(pg_url, Investigation)
                return rows if rows and all(r.shown_final for r in rows) else []

            rows = wait_for(finished, what="the other worker to finish it", timeout=90)
            resumed_s = time.monotonic() - killed_at
            other = 1 - held
            assert "step investigate, attempt 2" in _log(tmp_path / f"worker{other}.log")
    assert len(rows) == 1 and rows[0].status == "done"
    roots = [c for c in slack.of("chat.postMessage") if "thread_ts" not in c.args]
    replies = [c for c in slack.of("chat.postMessage") if "thread_ts" in c.args
               and c.args.get("blocks")]
    assert len(roots) == 1, "the incident was posted once"
    assert len(replies) == 1, "the investigation message was posted once, then edited"
    final = [c for c in slack.of("chat.update") if c.args.get("ts") == rows[0].slack_ts
             and "investigating" not in json.dumps(c.args).lower()[:200]]
    assert final, "the result went into the investigation's own message"
    [run] = [r for r in _rows(pg_url, FlowRun) if r.flow == "investigation"]
    assert run.status == "started"
    assert resumed_s < 60


def _storm(group: int, alerts: int) -> dict[str, Any]:
    name = f"Storm{group:02d}"
    payload = _alertmanager_payload()
    payload["groupKey"] = f'{{}}:{{alertname="{name}"}}'
    template = payload["alerts"][0]
    payload["alerts"] = [
        template | {"fingerprint": f"{group:02d}{i:02d}",
                    "labels": template["labels"] | {"alertname": name, "instance": f"i{i}"}}
        for i in range(alerts)]
    return payload


def test_a_hundred_alerts_in_twenty_groups_are_twenty_investigations(
        temporal: str, pg_url: str, tmp_path: Path) -> None:
    slack = FakeSlack()
    with ServerThread(slack.app()) as slack_server, held_prometheus() as (prom, release, _):
        release.set()
        slack.base_url = slack_server.url
        env = _env(pg_url, temporal, "q-storm", slack_server.url, PROMETHEUS_URL=prom)
        with cluster(env, tmp_path) as (port, _workers):
            for group in range(20):
                for half in range(2):  # each group arrives in two deliveries (repeats too)
                    _post(port, _storm(group, 5) if half else _storm(group, 3))

            def finished() -> list[Investigation]:
                rows = _rows(pg_url, Investigation)
                return rows if len(rows) >= 20 and all(r.shown_final for r in rows) else []

            rows = wait_for(finished, what="twenty investigations", timeout=120)
            time.sleep(1.0)  # nothing more may follow
            rows = _rows(pg_url, Investigation)
            logs = [_log(tmp_path / f"worker{i}.log") for i in range(2)]
    assert len(rows) == 20
    assert len({r.incident_id for r in rows}) == 20
    assert all(r.status == "done" for r in rows)
    assert all("step investigate" in text for text in logs), "both workers took work"
    replies = [c for c in slack.of("chat.postMessage") if "thread_ts" in c.args
               and c.args.get("blocks")]
    assert len(replies) == 20


def test_approval_after_a_worker_restart_and_a_sigkill_mid_pr_give_one_pr(
        temporal: str, pg_url: str, tmp_path: Path) -> None:
    from scheduler.flows import Flows
    from scheduler.temporal.runner import TemporalRunner, connect
    from storage.flows import FlowStore
    from storage.repository import Store
    from tests.dev_support import REPO, github_world, revert_draft
    from tests.dev_support import TOKEN as GH_TOKEN

    slack = FakeSlack()
    with github_world(tmp_path / "gh") as world, ServerThread(slack.app()) as slack_server:
        slack.base_url = slack_server.url
        draft = revert_draft(world)
        store = Store(make_engine(pg_url))
        proposal = FixProposal(
            fingerprint="sentry-42", service="orders", repository=REPO, kind="revert",
            status="offered", suspect=world.repo.bad, channel="C1", thread_ts="100.000001",
            result={"remediation": {"kind": "revert", "branch": draft.branch,
                                    "diff": draft.diff, "commits": [world.repo.bad]},
                    "report": {"error": {"title": "KeyError: 'order_id'", "type": "KeyError",
                                         "service": "orders", "frames": []}},
                    "suspects": [{"commit": world.repo.bad, "author": "Dave",
                                  "title": "Read order_id from the new schema", "score": 1.0,
                                  "why": "changed the raising line"}]})
        from storage.dev import DevStore

        proposal = asyncio.run(DevStore.beside(store).save_proposal(proposal))
        env = _env(pg_url, temporal, "q-fix-pr", slack_server.url, GITHUB_TOKEN=GH_TOKEN,
                   GITHUB_API_URL=world.url, NIGHTOWL_REPOS=json.dumps({"orders": REPO}),
                   NIGHTOWL_DEV_WORKDIR=str(tmp_path / "work"),
                   NIGHTOWL_GITHUB_WRITE_INTERVAL_SECONDS="0")

        async def runner() -> TemporalRunner:
            from bot.flows import FIX_PR, fix_pr_flow

            # The flow's shape as serve and the workers build it; its steps run in workers.
            client = await connect(temporal, "default")
            return TemporalRunner(client, flows=Flows({FIX_PR: fix_pr_flow(None)}),  # type: ignore[arg-type]
                                  store=FlowStore.beside(store), task_queue="q-fix-pr")

        key = f"proposal-{proposal.id}"
        with cluster(env, tmp_path, serve=False):
            async def start() -> None:
                await (await runner()).start("fix_pr", key, {"proposal_id": proposal.id})
            asyncio.run(start())
            time.sleep(1.0)
        # Both workers are gone (a deploy); the flow waits on Temporal, not in a process.
        world.fake.answer_delay = 30.0  # GitHub creates the PR, its answer comes too late
        for name in ("worker0.log", "worker1.log"):
            (tmp_path / name).rename(tmp_path / f"before-{name}")
        with cluster(env, tmp_path, serve=False) as (_, workers):
            async def approve() -> None:
                await (await runner()).signal("fix_pr", key, "open_pr",
                                              {"action": "revert", "user": "U1"})
            asyncio.run(approve())
            wait_for(lambda: world.fake.pulls[REPO], what="a worker to create the PR")
            held = _holder(tmp_path, "step open_pr, attempt 1", 2)
            assert held >= 0
            os.kill(workers[held].pid, signal.SIGKILL)
            workers[held].wait()
            world.fake.answer_delay = 0.0

            def opened() -> bool:
                rows = asyncio.run(DevStore.beside(store).pulls())
                return bool(rows) and any(
                    "draft pull request" in json.dumps(c.args).lower()
                    for c in slack.of("chat.postMessage"))

            wait_for(opened, what="the other worker to finish the PR", timeout=90)
            time.sleep(1.0)
        store.close()
    assert len(world.fake.pulls[REPO]) == 1
    says = [c for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == "100.000001"]
    assert len(says) == 1, [c.args.get("text") for c in says]


# ---- the runner against the server, with a worker in this process -----------------------------


def _flows(calls: Counter[str], reported: list[dict[str, Any]]) -> Any:
    from scheduler.flows import Flow, Flows, Step

    async def flaky(state: dict[str, Any]) -> dict[str, Any]:
        calls["flaky"] += 1
        raise ConnectionError("telemetry at http://prom:9090 refused the connection")

    async def fine(state: dict[str, Any]) -> dict[str, Any]:
        calls["fine"] += 1
        return {"seen": state["n"]}

    async def report(state: dict[str, Any]) -> dict[str, Any]:
        reported.append(state)
        return {}

    return Flows({"flaky": Flow("flaky", (Step("query", flaky, attempts=3),), on_failure=report),
                  "fine": Flow("fine", (Step("only", fine),))})


@asynccontextmanager
async def _worker(address: str, flows: Any, queue: str) -> AsyncIterator[Any]:
    from temporalio.worker import Worker

    from scheduler.temporal.activities import StepActivities
    from scheduler.temporal.runner import connect
    from scheduler.temporal.workflow import FlowWorkflow

    client = await connect(address, "default")
    async with Worker(client, task_queue=queue, workflows=[FlowWorkflow],
                      activities=[StepActivities(flows).run_step]):
        yield client


async def test_a_step_that_keeps_failing_ends_its_workflow_with_the_reason(
        temporal: str, sqlite_store: Any) -> None:
    from temporalio.client import WorkflowFailureError

    from scheduler.flows import workflow_id
    from scheduler.temporal.runner import TemporalRunner
    from scheduler.temporal.types import Timeouts
    from storage.flows import FlowStore

    calls: Counter[str] = Counter()
    reported: list[dict[str, Any]] = []
    flows = _flows(calls, reported)
    async with _worker(temporal, flows, "q-failing") as client:
        runner = TemporalRunner(client, flows=flows, store=FlowStore.beside(sqlite_store),
                                task_queue="q-failing",
                                timeouts=Timeouts(retry_initial_s=0.1))
        await runner.start("flaky", "k", {"incident_id": 7})
        handle = client.get_workflow_handle(workflow_id("flaky", "k", queue="q-failing"))
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 60)
    assert calls["flaky"] == 3, "bounded: three attempts, then the flow ends"
    assert [(r["failed_step"], r["error"]) for r in reported] == [
        ("query", "ConnectionError: telemetry at http://prom:9090 refused the connection")]
    assert "refused the connection" in str(failure.value.cause)


async def test_starts_made_while_temporal_is_down_run_when_it_is_back(
        sqlite_store: Any, tmp_path: Path) -> None:
    from temporalio.client import Client

    from scheduler.flows import workflow_id
    from scheduler.temporal.runner import TemporalRunner
    from storage.flows import FlowStore

    calls: Counter[str] = Counter()
    flows = _flows(calls, [])
    port = free_port()
    store = FlowStore.beside(sqlite_store)
    down = await Client.connect(f"127.0.0.1:{port}", lazy=True)
    runner = TemporalRunner(down, flows=flows, store=store, task_queue="q-down")
    await runner.start("fine", "k", {"n": 42})  # nothing listens: kept, not lost
    [pending] = await store.with_status("pending")
    assert (pending.flow, pending.key, pending.state) == ("fine", "k", {"n": 42})
    with dev_server(port, log=tmp_path / "server.log") as address:
        async with _worker(address, flows, "q-down") as client:
            runner.client = client
            assert await runner.drain() == 1
            result = await asyncio.wait_for(
                client.get_workflow_handle(workflow_id("fine", "k", queue="q-down")).result(), 60)
            assert await runner.drain() == 0
    assert result["seen"] == 42 and calls["fine"] == 1
    assert (await store.get("fine", "k")).status == "started"


def test_serve_stops_with_one_line_when_temporal_is_unreachable(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path}/db.sqlite", f"127.0.0.1:{free_port()}", "q", "http://x")
    env.pop("SLACK_BOT_TOKEN"), env.pop("SLACK_SIGNING_SECRET")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = [line for line in done.stderr.splitlines() if line.startswith("nightowl:")]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and "TEMPORAL_ADDRESS=" in lines[0], done.stderr
