"""Runs survive restarts, proven with real processes: two schedulers share one database and
never run a job at once; a process SIGKILLed mid-investigation or mid-scan is restarted and
the work completes once, with nothing duplicated in Slack and nothing lost."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage.db import make_engine, upgrade
from storage.models import Finding, Investigation, JobRun
from tests.fakes.loki import FakeLoki, LogRecord
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack

TOKEN = "restart-test-token"
ROOT = Path(__file__).parent.parent


def wait_for(condition: Callable[[], Any], *, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"gave up waiting for {what}")


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NIGHTOWL_", "SLACK_", "PROMETHEUS_", "LOKI_", "SENTRY_"))}
    return env | {"NIGHTOWL_DATABASE_URL": db_url, "NIGHTOWL_LOG_LEVEL": "INFO",
                  "NIGHTOWL_SCHEDULER_LEASE_SECONDS": "3", **extra}


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _runs(db_url: str, job: str) -> list[JobRun]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(JobRun).where(JobRun.job == job)
                                     .order_by(col(JobRun.id))))
    finally:
        engine.dispose()


def test_two_processes_never_run_the_same_job_at_once(database_url: str, tmp_path: Path,
                                                     ) -> None:
    upgrade(make_engine(database_url))
    env = _env(database_url)
    command = ["-m", "tests.fakes.scheduler_process"]
    with process(command, env, tmp_path / "a.log") as a, \
            process(command, env, tmp_path / "b.log") as b:
        wait_for(lambda: len(_runs(database_url, "probe")) >= 6, what="six runs")
        runs = _runs(database_url, "probe")
        holders = {r.holder.split(":")[1] for r in runs}
        assert len(holders) == 1, "only the leader runs the schedule"
        leader_pid = int(holders.pop())
        leader, follower = (a, b) if a.pid == leader_pid else (b, a)
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait()
        wait_for(lambda: any(r.holder.split(":")[1] == str(follower.pid)
                             for r in _runs(database_url, "probe") if r.outcome == "ok"),
                 what="the other process to take over", timeout=60)
    runs = [r for r in _runs(database_url, "probe") if r.finished_at is not None
            and r.outcome == "ok"]
    spans = sorted((r.started_at, r.finished_at) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "two runs of the job overlapped"


@contextmanager
def held_prometheus() -> Iterator[tuple[str, threading.Event, list[str]]]:
    """Answers the service list at once and holds the metric discovery until released."""
    release = threading.Event()
    queries: list[str] = []

    async def values(request: Request) -> JSONResponse:
        if request.path_params["name"] != "__name__":
            return JSONResponse({"status": "success", "data": ["checkout"]})
        queries.append(request.query_params.get("match[]", ""))
        while not release.is_set():
            await asyncio.sleep(0.05)
        return JSONResponse({"status": "success", "data": []})

    async def labels(request: Request) -> JSONResponse:
        return JSONResponse({"status": "success", "data": []})

    async def query(request: Request) -> JSONResponse:
        return JSONResponse({"status": "success",
                             "data": {"resultType": "matrix", "result": []}})

    app = Starlette(routes=[Route("/api/v1/label/{name}/values", values),
                            Route("/api/v1/labels", labels),
                            Route("/api/v1/query_range", query),
                            Route("/api/v1/query", query)])
    with ServerThread(app) as server:
        yield server.url, release, queries


def _alertmanager_payload() -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "nightowl",
            "groupKey": '{}:{alertname="CheckoutLatency"}', "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "fingerprint": "f00d",
                        "labels": {"alertname": "CheckoutLatency", "service": "checkout",
                                   "severity": "critical"},
                        "annotations": {"summary": "p99 latency of checkout is high"},
                        "startsAt": "2026-11-22T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom/graph"}]}


def _serve_env(db_url: str, slack_url: str, port: int, **extra: str) -> dict[str, str]:
    return _env(db_url, NIGHTOWL_PORT=str(port), NIGHTOWL_WEBHOOK_TOKEN=TOKEN,
                SLACK_BOT_TOKEN="xoxb-restart", SLACK_SIGNING_SECRET="restart-secret",
                SLACK_API_URL=f"{slack_url}/api/", NIGHTOWL_SLACK_MESSAGES_PER_SECOND="50",
                **extra)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_sigkill_mid_investigation_resumes_in_the_same_message(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/nightowl.db"
    slack = FakeSlack()
    with ServerThread(slack.app()) as slack_server, held_prometheus() as (prom, release,
                                                                           queries):
        slack.base_url = slack_server.url
        port = free_port()
        env = _serve_env(db_url, slack_server.url, port, PROMETHEUS_URL=prom,
                         NIGHTOWL_SCHEDULER_ENABLED="false")
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve1.log") as first:
            wait_for(lambda: _healthy(port), what="serve to start", timeout=180)
            response = httpx.post(f"http://127.0.0.1:{port}/webhooks/alertmanager",
                                  json=_alertmanager_payload(),
                                  headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 202, response.text
            wait_for(lambda: queries, what="the investigation to query Prometheus")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        roots = [c for c in slack.of("chat.postMessage") if "thread_ts" not in c.args]
        replies = [c for c in slack.of("chat.postMessage") if "thread_ts" in c.args]
        assert len(roots) == 1 and len(replies) == 1  # the root and the "investigating" message
        release.set()
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve2.log"):
            wait_for(lambda: _healthy(port), what="serve to restart", timeout=180)
            engine = make_engine(db_url)

            def finished() -> list[Investigation]:
                with Session(engine) as session:
                    rows = list(session.exec(select(Investigation)))
                return rows if rows and all(r.status != "running" for r in rows) else []

            rows = wait_for(finished, what="the investigation to finish after the restart")
            engine.dispose()
    assert len(rows) == 1 and rows[0].status == "done"
    after_roots = [c for c in slack.of("chat.postMessage") if "thread_ts" not in c.args]
    after_replies = [c for c in slack.of("chat.postMessage") if "thread_ts" in c.args
                     and c.args.get("blocks")]
    assert len(after_roots) == 1, "the incident was not posted twice"
    assert len(after_replies) == 1, "the investigation message was not posted twice"
    edits = [c for c in slack.of("chat.update")
             if "Root cause" in json.dumps(c.args) or "No confident" in json.dumps(c.args)
             or "insufficient" in json.dumps(c.args).lower()]
    assert edits, "the result was written into the original message"


def test_sigkill_mid_scan_is_recorded_and_retried_once(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/nightowl.db"
    now = time.time()
    loki = FakeLoki([LogRecord(now - 3600 * 2 + i * 30, "cart", "error",
                               f"redis timeout after {i % 50}ms") for i in range(100)]
                    + [LogRecord(now - 120 + i, "payments", "error",
                                 f"card token expired for customer {1000 + i}")
                       for i in range(5)],
                    hold=threading.Event())
    slack = FakeSlack()
    with ServerThread(slack.app()) as slack_server, ServerThread(loki.app()) as loki_server:
        slack.base_url = slack_server.url
        port = free_port()
        env = _serve_env(db_url, slack_server.url, port, LOKI_URL=loki_server.url,
                         NIGHTOWL_ERROR_SCAN_SCHEDULE="every 1h",
                         NIGHTOWL_ERROR_SCAN_INCIDENT_SEVERITY="critical",
                         NIGHTOWL_ROUTES='{"service": {"payments": "#payments"}}')
        with process(["-m", "bot.cli", "jobs", "run", "error_scan"], env,
                     tmp_path / "run.log") as run:
            wait_for(lambda: loki.queries, what="the scan to query Loki")
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
        [cut] = _runs(db_url, "error_scan")
        assert cut.outcome == "running"  # what a killed process leaves behind
        loki.hold.set()  # type: ignore[union-attr]
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve.log"):
            wait_for(lambda: len(_runs(db_url, "error_scan")) == 2
                     and _runs(db_url, "error_scan")[1].outcome == "ok",
                     what="the retry after restart")
            time.sleep(1.0)  # nothing else may follow
    runs = _runs(db_url, "error_scan")
    assert [(r.trigger, r.outcome) for r in runs] == [("manual", "interrupted"),
                                                      ("retry", "ok")]
    engine = make_engine(db_url)
    with Session(engine) as session:
        findings = list(session.exec(select(Finding)))
    engine.dispose()
    assert [f.service for f in findings] == ["payments"]
    posts = [c for c in slack.of("chat.postMessage") if c.args["channel"] == "#payments"]
    assert len(posts) == 1 and "New error in payments" in posts[0].args["text"]
