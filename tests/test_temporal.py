"""Flows on the real Temporal dev server with real nightowl processes on PostgreSQL: `serve`
takes the alerts and starts flows, two `nightowl worker` processes run them (one cluster for
the module, its workers restarted as the tests kill them). A worker SIGKILLed mid-step has
its step retried by the other, once; 100 alerts in 20 groups are 20 investigations; an
approval sent after the workers restarted opens exactly one PR. Then the runner against the
server with a worker in this process: bounded retries, and starts kept while Temporal is down.
"""

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
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from storage.db import make_engine, upgrade
from storage.models import FixProposal, FlowRun, Incident, Investigation
from tests.conftest import postgres_schema
from tests.dev_support import REPO, World, github_world, revert_draft
from tests.dev_support import TOKEN as GH_TOKEN
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.signing import action_body, slack_headers
from tests.fakes.slack import FakeSlack
from tests.temporal_support import dev_server
from tests.test_restarts import _alertmanager_payload, held_prometheus, wait_for

TOKEN = "temporal-test-token"
SLACK_SECRET = "temporal-secret"
ROOT = Path(__file__).parent.parent
HEARTBEAT_S = "3"  # short in tests: a dead worker's step moves within seconds
QUEUE = "q-cluster"
THREAD = "100.000001"  # the Dev agent's proposal thread


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dev_server(log=tmp_path_factory.mktemp("temporal") / "server.log") as address:
        yield address


def _env(db_url: str, temporal: str, queue: str, slack_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NIGHTOWL_", "SLACK_", "PROMETHEUS_", "LOKI_", "SENTRY_",
                                "TEMPORAL_", "GITHUB_"))}
    return env | {"NIGHTOWL_DATABASE_URL": db_url, "NIGHTOWL_LOG_LEVEL": "INFO",
                  "TEMPORAL_ADDRESS": temporal, "TEMPORAL_TASK_QUEUE": queue,
                  "NIGHTOWL_TEMPORAL_HEARTBEAT_TIMEOUT_SECONDS": HEARTBEAT_S,
                  "NIGHTOWL_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-temporal",
                  "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_URL": f"{slack_url}/api/",
                  "NIGHTOWL_SLACK_MESSAGES_PER_SECOND": "200",
                  **extra}


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Cluster:
    """serve and two workers over one database, the fakes they talk to, and their logs."""

    url: str
    env: dict[str, str]
    tmp: Path
    port: int
    slack: FakeSlack
    release: Any  # threading.Event: set = Prometheus answers; clear = it holds the query
    queries: list[str]
    github: World
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    started: int = 0

    def start_worker(self, slot: int) -> None:
        self.started += 1
        log = self.tmp / f"worker-{self.started}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker",
                                     "--alive-file", str(self.alive(slot)), "--alive-every",
                                     "0.5"], env=self.env,
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        if slot < len(self.workers):
            self.workers[slot], self.logs[slot] = proc, log
        else:
            self.workers.append(proc)
            self.logs.append(log)

    def alive(self, slot: int) -> Path:
        return self.tmp / f"worker-{slot}.alive"

    def wait_ready(self) -> None:
        for log in self.logs:
            wait_for(lambda log=log: "nightowl worker: task queue" in _log(log),
                     what=f"{log.name} to start", timeout=180)

    def stop_worker(self, slot: int, sig: int = signal.SIGTERM) -> None:
        proc = self.workers[slot]
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=60)

    def holder(self, marker: str) -> int:
        """The slot of the worker whose log shows `marker` (a step starting)."""
        return next((i for i, log in enumerate(self.logs) if marker in _log(log)), -1)

    def rows(self, model: Any) -> list[Any]:
        engine = make_engine(self.url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(model).order_by(col(model.id))))
        finally:
            engine.dispose()

    def post(self, payload: dict[str, Any]) -> None:
        response = httpx.post(f"http://127.0.0.1:{self.port}/webhooks/alertmanager",
                              json=payload, headers={"Authorization": f"Bearer {TOKEN}"},
                              timeout=30)
        assert response.status_code == 202, response.text


@pytest.fixture(scope="module")
def cluster(temporal: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    slack = FakeSlack()
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema())
        upgrade(make_engine(url))
        slack_server = stack.enter_context(ServerThread(slack.app()))
        slack.base_url = slack_server.url
        prom, release, queries = stack.enter_context(held_prometheus())
        release.set()
        github = stack.enter_context(github_world(tmp / "gh"))
        env = _env(url, temporal, QUEUE, slack_server.url, PROMETHEUS_URL=prom,
                   GITHUB_TOKEN=GH_TOKEN, GITHUB_API_URL=github.url,
                   NIGHTOWL_REPOS=json.dumps({"orders": REPO}),
                   NIGHTOWL_DEV_WORKDIR=str(tmp / "work"),
                   NIGHTOWL_GITHUB_WRITE_INTERVAL_SECONDS="0")
        port = free_port()
        with (tmp / "serve.log").open("ab") as out:
            serve = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"],
                                     env=env | {"NIGHTOWL_PORT": str(port)}, cwd=ROOT,
                                     stdout=out, stderr=subprocess.STDOUT)
        c = Cluster(url, env, tmp, port, slack, release, queries, github)
        try:
            c.start_worker(0)
            c.start_worker(1)
            c.wait_ready()
            wait_for(lambda: _healthy(port), what="serve to start", timeout=180)
            yield c
        finally:
            for proc in [serve, *c.workers]:
                if proc.poll() is None:
                    proc.terminate()
            for proc in [serve, *c.workers]:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _incident_of(c: Cluster, name: str) -> list[Incident]:
    return [i for i in c.rows(Incident) if name in i.group_key]


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


def _investigation_posts(c: Cluster, incident_ids: set[int]) -> list[Any]:
    return [call for call in c.slack.of("chat.postMessage") if "thread_ts" in call.args
            and (call.args.get("metadata") or {}).get("event_type") == "nightowl_investigation"
            and (call.args["metadata"].get("event_payload") or {}).get("incident_id")
            in incident_ids]


def test_a_hundred_alerts_in_twenty_groups_are_twenty_investigations(cluster: Cluster) -> None:
    c = cluster
    for group in range(20):
        for alerts in (3, 5):  # each group arrives in two deliveries, the second repeating
            c.post(_storm(group, alerts))

    def finished() -> list[Investigation]:
        ids = {i.id for i in _incident_of(c, "Storm")}
        rows = [r for r in c.rows(Investigation) if r.incident_id in ids]
        return rows if len(rows) >= 20 and all(r.shown_final for r in rows) else []

    wait_for(finished, what="twenty investigations", timeout=120)
    time.sleep(1.0)  # nothing more may follow
    incidents = {i.id for i in _incident_of(c, "Storm")}
    rows = [r for r in c.rows(Investigation) if r.incident_id in incidents]
    assert len(incidents) == 20 and len(rows) == 20
    assert all(r.status == "done" for r in rows)
    assert all("step investigate" in _log(log) for log in c.logs), "both workers took work"
    assert len(_investigation_posts(c, incidents)) == 20, "one message per investigation"


def test_sigkill_a_worker_mid_investigation_the_other_finishes_it_once(cluster: Cluster) -> None:
    c = cluster
    c.release.clear()
    c.queries.clear()
    c.post(_alertmanager_payload())
    wait_for(lambda: c.queries, what="the investigation to query Prometheus")
    [incident] = _incident_of(c, "CheckoutLatency")
    marker = f"investigation/incident-{incident.id}-auto: step investigate, attempt 1"
    held = c.holder(marker)
    assert held >= 0, "a worker runs the investigate step"
    killed_at = time.monotonic()
    c.stop_worker(held, signal.SIGKILL)
    c.release.set()

    def finished() -> list[Investigation]:
        rows = [r for r in c.rows(Investigation) if r.incident_id == incident.id]
        return rows if rows and all(r.shown_final for r in rows) else []

    [row] = wait_for(finished, what="the other worker to finish it", timeout=90)
    resumed_s = time.monotonic() - killed_at
    retried = marker.replace("attempt 1", "attempt 2")
    assert retried in _log(c.logs[1 - held])
    c.start_worker(held)  # the cluster keeps two workers for the next test
    assert row.status == "done" and resumed_s < 60
    roots = [call for call in c.slack.of("chat.postMessage") if "thread_ts" not in call.args
             and (call.args.get("metadata") or {}).get("event_payload", {}).get("key")
             == incident.id]
    assert len(roots) == 1, "the incident was posted once"
    assert len(_investigation_posts(c, {incident.id})) == 1, "its message was posted once"
    final = [call for call in c.slack.of("chat.update") if call.args.get("ts") == row.slack_ts
             and ("Root cause" in json.dumps(call.args) or "No confident" in json.dumps(call.args)
                  or "insufficient" in json.dumps(call.args).lower())]
    assert final, "the result went into the investigation's own message"
    [run] = [r for r in c.rows(FlowRun) if r.key == f"incident-{incident.id}-auto"]
    assert run.status == "started"


def test_approval_after_a_worker_restart_and_a_sigkill_mid_pr_give_one_pr(
        cluster: Cluster) -> None:
    from bot.flows import FIX_PR, fix_pr_flow
    from scheduler.flows import Flows
    from scheduler.temporal.runner import TemporalRunner, connect
    from storage.dev import DevStore
    from storage.flows import FlowStore
    from storage.repository import Store

    c, world = cluster, cluster.github
    draft = revert_draft(world)
    store = Store(make_engine(c.url))
    proposal = asyncio.run(DevStore.beside(store).save_proposal(FixProposal(
        fingerprint="sentry-42", service="orders", repository=REPO, kind="revert",
        status="offered", suspect=world.repo.bad, channel="C1", thread_ts=THREAD,
        result={"remediation": {"kind": "revert", "branch": draft.branch, "diff": draft.diff,
                                "commits": [world.repo.bad]},
                "report": {"error": {"title": "KeyError: 'order_id'", "type": "KeyError",
                                     "service": "orders", "frames": []}},
                "suspects": [{"commit": world.repo.bad, "author": "Dave",
                              "title": "Read order_id from the new schema", "score": 1.0,
                              "why": "changed the raising line"}]})))
    key = f"proposal-{proposal.id}"

    async def runner() -> TemporalRunner:
        # What serve does when it posts an offer (bot/dev.py `offered`): the flow's shape is
        # all it needs; the steps run in the workers.
        client = await connect(c.env["TEMPORAL_ADDRESS"], "default")
        return TemporalRunner(client, flows=Flows({FIX_PR: fix_pr_flow(None)}),  # type: ignore[arg-type]
                              store=FlowStore.beside(store), task_queue=QUEUE)

    async def offer() -> None:
        await (await runner()).start(FIX_PR, key, {"proposal_id": proposal.id})

    asyncio.run(offer())
    for slot in (0, 1):  # a deploy: every worker replaced while the flow waits on Temporal
        c.stop_worker(slot)
        c.start_worker(slot)
    c.wait_ready()
    world.fake.answer_delay = 30.0  # GitHub creates the PR, its answer comes too late
    c.slack.members["C1"] = ["U1"]  # a responder in the proposal's channel
    try:
        # The click, signed as Slack signs it, to serve: serve signals the waiting workflow.
        body = action_body("dev_open_revert", str(proposal.id), user="U1", channel="C1",
                           response_url=f"{c.slack.base_url}/api/respond")
        clicked = httpx.post(f"http://127.0.0.1:{c.port}/slack/events", content=body,
                             timeout=30, headers=slack_headers(
                                 SLACK_SECRET, body,
                                 content_type="application/x-www-form-urlencoded"))
        assert clicked.status_code == 200, clicked.text
        wait_for(lambda: world.fake.pulls[REPO], what="a worker to create the PR")
        held = c.holder(f"{FIX_PR}/{key}: step open_pr, attempt 1")
        assert held >= 0
        c.stop_worker(held, signal.SIGKILL)
    finally:
        world.fake.answer_delay = 0.0

    def said() -> list[Any]:
        return [call for call in c.slack.of("chat.postMessage")
                if call.args.get("thread_ts") == THREAD]

    wait_for(said, what="the other worker to finish the PR and say so", timeout=90)
    time.sleep(1.0)
    c.start_worker(held)
    pulls = asyncio.run(DevStore.beside(store).pulls())
    store.close()
    assert len(world.fake.pulls[REPO]) == 1 and len(pulls) == 1
    assert len(said()) == 1, [call.args.get("text") for call in said()]
    assert "pull request" in said()[0].args["text"].lower()


def test_a_security_signal_is_triaged_by_the_workers(cluster: Cluster) -> None:
    from storage.models import SecurityCase

    c = cluster
    response = httpx.post(f"http://127.0.0.1:{c.port}/webhooks/falco", timeout=30, json={
        "uuid": "fa-1", "output": "A shell was spawned in a container", "priority": "Critical",
        "rule": "Terminal shell in container", "time": "2026-03-02T04:13:00.123456789Z",
        "output_fields": {"user.name": "root", "container.name": "api"},
        "source": "syscall", "tags": ["container", "shell", "T1059"], "hostname": "node-3"},
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202, response.text

    def triaged() -> list[SecurityCase]:
        cases = c.rows(SecurityCase)
        return cases if cases and all(x.step == "done" for x in cases) else []

    [case] = wait_for(triaged, what="the workers to triage the case", timeout=60)
    assert case.verdict and case.triage.get("verdict")
    logs = "".join(_log(log) for log in c.logs)
    for step in ("collect", "triage", "finish"):
        assert f"security_triage/case-{case.id}: step {step}, attempt 1" in logs


# ---- the runner against the server, with a worker in this process -----------------------------


def _probe(path: Path, max_age: str = "3") -> subprocess.CompletedProcess[str]:
    """The Kubernetes worker's liveness probe, as the kubelet runs it."""
    return subprocess.run([sys.executable, "-m", "scheduler.temporal.liveness", str(path),
                           "--max-age", max_age], capture_output=True, text=True, timeout=30,
                          cwd=ROOT)


def test_the_liveness_probe_passes_a_working_worker_and_fails_a_stuck_one(
        cluster: Cluster) -> None:
    for slot in range(len(cluster.workers)):
        wait_for(lambda slot=slot: _probe(cluster.alive(slot)).returncode == 0,
                 what=f"worker {slot}'s alive file", timeout=30)
    proc = cluster.workers[0]
    proc.send_signal(signal.SIGSTOP)  # the process lives, its loop does not turn: stuck
    try:
        wait_for(lambda: _probe(cluster.alive(0)).returncode == 1, what="a stale alive file",
                 timeout=30)
        assert _probe(cluster.alive(1)).returncode == 0, "the other worker is still alive"
        stale = _probe(cluster.alive(0))
        assert "not alive" in stale.stderr and "Traceback" not in stale.stderr
    finally:
        proc.send_signal(signal.SIGCONT)
    wait_for(lambda: _probe(cluster.alive(0)).returncode == 0, what="alive again", timeout=30)
    missing = _probe(cluster.tmp / "never-started.alive")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


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
        handle = client.get_workflow_handle(workflow_id(
            "flaky", "k", queue="q-failing", installation=await runner.store.installation_id()))
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
            ident = workflow_id("fine", "k", queue="q-down",
                                installation=await store.installation_id())
            result = await asyncio.wait_for(client.get_workflow_handle(ident).result(), 60)
            assert await runner.drain() == 0
    assert result["seen"] == 42 and calls["fine"] == 1
    assert (await store.get("fine", "k")).status == "started"


async def test_a_fresh_database_on_the_same_queue_is_not_refused_the_old_ones_ids(
        temporal: str, sqlite_store: Any, tmp_path: Path) -> None:
    """Incident 1 of a new database is new work, even on the namespace and queue where the
    old database's incident 1 ran: the workflow id carries the database's own identity."""
    from scheduler.flows import workflow_id
    from scheduler.temporal.runner import TemporalRunner
    from storage.flows import FlowStore
    from storage.repository import Store

    calls: Counter[str] = Counter()
    flows = _flows(calls, [])
    old = FlowStore.beside(sqlite_store)
    engine = make_engine(f"sqlite:///{tmp_path}/fresh.db")
    upgrade(engine)
    fresh_store = Store(engine)
    fresh = FlowStore.beside(fresh_store)
    try:
        assert await old.installation_id() == await old.installation_id(), "kept, not remade"
        assert await old.installation_id() != await fresh.installation_id()
        async with _worker(temporal, flows, "q-fresh") as client:
            for store, n in ((old, 1), (fresh, 2)):
                runner = TemporalRunner(client, flows=flows, store=store, task_queue="q-fresh")
                await runner.start("fine", "incident-1", {"n": n})
                ident = workflow_id("fine", "incident-1", queue="q-fresh",
                                    installation=await store.installation_id())
                result = await asyncio.wait_for(client.get_workflow_handle(ident).result(), 60)
                assert result["seen"] == n
    finally:
        fresh_store.close()
    assert calls["fine"] == 2, "the fresh database's run ran; it was not taken for the old one"


def test_serve_stops_with_one_line_when_temporal_is_unreachable(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path}/db.sqlite", f"127.0.0.1:{free_port()}", "q", "http://x")
    env.pop("SLACK_BOT_TOKEN"), env.pop("SLACK_SIGNING_SECRET")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    lines = [line for line in done.stderr.splitlines() if line.startswith("nightowl:")]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and "TEMPORAL_ADDRESS=" in lines[0], done.stderr


async def test_scheduled_jobs_are_temporal_schedules(temporal: str, sqlite_store: Any) -> None:
    from bot.flows import job_flow
    from scheduler.flows import Flows
    from scheduler.jobs.base import JobOutcome
    from scheduler.runner import JobRunner
    from scheduler.temporal.runner import TemporalRunner
    from storage.background import BackgroundStore
    from storage.flows import FlowStore

    class Probe:
        name = "probe"

        async def run(self, *, trigger: str) -> JobOutcome:
            return JobOutcome(items=1, summary="probed")

    background = BackgroundStore.beside(sqlite_store)
    jobs = JobRunner(jobs={"probe": Probe()}, store=background, engine=sqlite_store.engine,
                     holder="test:1:a")
    flows = Flows({"job": job_flow(jobs)})
    async with _worker(temporal, flows, "q-schedules") as client:
        runner = TemporalRunner(client, flows=flows, store=FlowStore.beside(sqlite_store),
                                task_queue="q-schedules")
        await runner.ensure_schedules({"probe": "every 1s"})
        await runner.ensure_schedules({"probe": "every 1s"})  # a restart: updated, not doubled
        async with asyncio.timeout(60):
            while len(await background.runs("probe", limit=10)) < 2:
                await asyncio.sleep(0.2)
        await runner.ensure_schedules({"probe": "off"})  # switched off: the schedule goes
        handle = client.get_schedule_handle("nightowl-q-schedules-job-probe")
        with pytest.raises(Exception, match="not found"):
            await handle.describe()
    runs = await background.runs("probe", limit=10)
    assert all(r.trigger == "schedule" and r.outcome == "ok" for r in runs)
