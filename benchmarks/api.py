"""The agent-first API with 10,000 incidents in the database (SQLite), against a real
`nightowl serve` process over loopback.

Prints, per REST listing, p50/p99 latency over sequential requests; the largest answer any
REST route or MCP tool gave, in characters and estimated tokens (characters / 3, which
over-counts English and JSON); and how long an MCP session's first tool call took after
`initialize`. Targets: every answer <= 4,000 tokens, `list_*` p99 < 50 ms, first MCP call
< 1 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import insert
from sqlmodel import Session

from storage.db import make_engine, upgrade
from storage.models import Alert, Finding, Incident, Investigation
from tests.fakes.process import free_port

INCIDENTS = 10_000
REQUESTS = 200
TOKEN = "bench-reader-token-0123456789"


def heavy_result(n: int) -> dict[str, object]:
    """An investigation result as large as real ones get: many hypotheses and evidence."""
    evidence = [{"id": f"ev-{i}", "query": f"rate(http_requests_total{{service=\"svc{i}\"}}"
                                           f"[5m]) by (code, route, pod)",
                 "finding": "latency p99 rose from 120 ms to 2.4 s four minutes before the "
                            "alert; error rate unchanged; " * 3} for i in range(120)]
    hypotheses = [{"id": f"h{i}", "statement": f"svc{i} saturated its CPU before the alert "
                                               f"and slowed its callers" * 2,
                   "status": "refuted", "children": []} for i in range(80)]
    return {"root_causes": [{"service": f"svc{n % 50}", "kind": "cpu", "confidence": 0.8,
                             "summary": "CPU saturated four minutes before latency rose",
                             "evidence": ["ev-1", "ev-2"]}],
            "abstained": False, "summary": "svc CPU saturation slowed the front end. " * 20,
            "hypotheses": hypotheses, "evidence": evidence}


def populate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    result = heavy_result(0)
    incidents, alerts, runs = [], [], []
    for n in range(INCIDENTS):
        opened = start + timedelta(minutes=n)
        incidents.append({
            "id": n + 1, "group_key": f"g{n}", "source": "alertmanager",
            "title": f"HighLatency on svc{n % 50} p99 above 1s", "service": f"svc{n % 50}",
            "signal": "latency", "severity": "warning",
            "status": "diagnosed" if n % 3 else "resolved", "channel": "#incidents",
            "slack_channel": "C0000001", "slack_ts": f"{1700000000 + n}.000100",
            "opened_at": opened, "updated_at": now, "alert_count": 3, "firing_count": 1,
            "version": 2, "rendered_version": 2})
        alerts += [{"source": "alertmanager", "dedup_key": f"{n}-{a}", "group_key": f"g{n}",
                    "status": "firing", "service": f"svc{n % 50}", "signal": "latency",
                    "severity": "warning", "title": f"HighLatency pod-{a}",
                    "started_at": opened, "labels": {"alertname": "HighLatency",
                                                     "pod": f"pod-{a}", "team": "payments"},
                    "annotations": {}, "links": {}, "raw": {}, "received_at": now,
                    "last_seen_at": now, "deliveries": 1, "incident_id": n + 1}
                   for a in range(3)]
        runs.append({"incident_id": n + 1, "status": "done", "trigger": "auto",
                     "started_at": opened, "abstained": False, "top_service": f"svc{n % 50}",
                     "top_kind": "cpu", "confidence": 0.8, "queries": 30, "llm_calls": 0,
                     "llm_input_tokens": 0, "cost_usd": 0.0, "progress": {},
                     "result": result})
    findings = [{"source": "logs", "signature": f"sig{n}", "service": f"svc{n % 50}",
                 "kind": "new", "severity": "warning", "title": "KeyError: 'id' in to_dto",
                 "example": "x" * 900, "count": n, "baseline_per_hour": 0.0,
                 "first_seen": now, "last_seen": now, "channel": "#errors"}
                for n in range(500)]
    with Session(engine) as session:
        for table, rows in ((Incident, incidents), (Alert, alerts), (Investigation, runs),
                            (Finding, findings)):
            session.execute(insert(table), rows)  # type: ignore[arg-type]
        session.commit()
    engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def measure(base: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    largest = (0, "")
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        for path in ("/api/v1/incidents", "/api/v1/investigations", "/api/v1/findings",
                     "/api/v1/incidents?status=resolved&limit=100"):
            timings = []
            for _ in range(REQUESTS):
                t0 = time.perf_counter()
                response = await http.get(path)
                timings.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
            largest = max(largest, (len(response.text), path))
            print(f"GET {path:<45} p50 {statistics.median(timings):6.1f} ms   "
                  f"p99 {percentile(timings, 99):6.1f} ms")
        for path in (f"/api/v1/incidents/{INCIDENTS}", f"/api/v1/investigations/{INCIDENTS}",
                     f"/api/v1/investigations/{INCIDENTS}/report", "/api/v1/findings/1"):
            response = await http.get(path)
            response.raise_for_status()
            largest = max(largest, (len(response.text), path))
    print(f"largest REST answer: {largest[0]} chars (~{largest[0] // 3} tokens) from "
          f"{largest[1]}")

    client_http = httpx2.AsyncClient(headers=headers, timeout=30)
    t0 = time.perf_counter()
    async with client_http, Client(streamable_http_client(f"{base}/mcp",
                                                          http_client=client_http)) as client:
        ready = time.perf_counter()
        first = await client.call_tool("list_incidents", {})
        first_s = time.perf_counter() - ready
        sizes = {"list_incidents": len(first.content[0].text)}  # type: ignore[union-attr]
        for name, args in (("get_incident", {"incident_id": INCIDENTS}),
                           ("get_investigation", {"investigation_id": INCIDENTS}),
                           ("list_investigations", {"limit": 100}),
                           ("list_findings", {"limit": 100})):
            result = await client.call_tool(name, args)
            sizes[name] = sum(len(getattr(c, "text", "")) for c in result.content)
    print(f"MCP: initialize {1000 * (ready - t0):.0f} ms, first tool call "
          f"{1000 * first_s:.0f} ms after it")
    worst = max(sizes, key=lambda k: sizes[k])
    print(f"largest MCP answer: {sizes[worst]} chars (~{sizes[worst] // 3} tokens) from "
          f"{worst}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nightowl-api-bench-") as tmp:
        url = f"sqlite:///{tmp}/api.db"
        t0 = time.perf_counter()
        populate(url)
        print(f"{INCIDENTS} incidents, {3 * INCIDENTS} alerts, {INCIDENTS} investigations "
              f"written in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        env = {**os.environ, "NIGHTOWL_DATABASE_URL": url, "NIGHTOWL_PORT": str(port),
               "NIGHTOWL_HOST": "127.0.0.1", "NIGHTOWL_WEBHOOK_TOKEN": "bench-webhook-token",
               "NIGHTOWL_SCHEDULER_ENABLED": "false", "NIGHTOWL_LOG_LEVEL": "WARNING",
               "NIGHTOWL_API_TOKENS": json.dumps([{"name": "bench", "token": TOKEN,
                                                   "scopes": ["read"]}])}
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
            env.pop(name, None)
        server = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("serve did not start: "
                                 + (server.stderr.read().decode() if server.stderr else ""))
            asyncio.run(measure(base))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
