"""An alert storm over loopback against a real `nightowl serve` process (SQLite).

5,000 webhook deliveries of Alertmanager alerts in 200 groups, half of them duplicate
deliveries, from 16 concurrent connections; a local fake Slack records every call. Prints
alerts/s, webhook latency, incidents created (must be 200), duplicate root messages (must be
0), alerts lost (must be 0), Slack calls, and the highest per-channel message rate.
Targets: >= 500 alerts/s, p99 < 100 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import httpx

from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack

DELIVERIES = 5000
GROUPS = 200
TEAMS = 20
CONCURRENCY = 16
TOKEN = "storm-token"


def payload(group: int, alert: int) -> dict[str, object]:
    team = f"team{group % TEAMS}"
    labels = {"alertname": f"Storm{group}", "service": f"svc{group}", "team": team,
              "instance": f"pod-{alert}", "severity": "warning"}
    return {"version": "4", "groupKey": f"storm:{group}", "status": "firing",
            "receiver": "nightowl", "groupLabels": {"alertname": f"Storm{group}"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
            "alerts": [{"status": "firing", "labels": labels,
                        "annotations": {"summary": f"storm alert {alert} of group {group}"},
                        "startsAt": "2026-11-22T21:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus:9090/graph",
                        "fingerprint": f"{group:04d}{alert:06d}"}]}


async def load(base: str) -> tuple[list[float], int, float]:
    # aiohttp rather than httpx: the load generator shares the 2 cores with the server, so
    # the lighter client leaves more of them to what is being measured.
    unique = DELIVERIES // 2
    deliveries = [(i % GROUPS, i) for i in range(unique)] * 2  # every alert delivered twice
    random.Random(1).shuffle(deliveries)
    latencies: list[float] = []
    failures = 0

    bodies = [(json.dumps(payload(g, a)).encode()) for g, a in deliveries]
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"{base}/webhooks/alertmanager"

    async def worker(session: aiohttp.ClientSession, mine: list[bytes]) -> None:
        nonlocal failures
        for body in mine:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 202:
                    failures += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session, bodies[i::CONCURRENCY])
                               for i in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return latencies, failures, elapsed


def cpu_seconds(pid: int) -> float:
    """CPU time the server spent (user + system), which neighbours on a shared machine do
    not change the way they change wall-clock figures. Linux's /proc; 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_drained(base: str, timeout: float = 600) -> float:
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < timeout:
        depth = httpx.get(f"{base}/healthz").json()["queue_depth"]
        quiet = quiet + 1 if depth == 0 else 0
        if quiet >= 3:
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError("Slack queue did not drain")


def main() -> None:
    slack = FakeSlack()
    with ServerThread(slack.app()) as fake, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        db = Path(tmp) / "storm.db"
        routes = {"team": {f"team{i}": f"#team{i}" for i in range(TEAMS)}}
        env = os.environ | {
            "NIGHTOWL_DATABASE_URL": f"sqlite:///{db}", "NIGHTOWL_PORT": str(port),
            "NIGHTOWL_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-storm",
            "SLACK_SIGNING_SECRET": "storm-secret", "SLACK_API_URL": f"{fake.url}/api/",
            "NIGHTOWL_ROUTES": json.dumps(routes), "NIGHTOWL_LOG_LEVEL": "WARNING"}
        env.pop("SLACK_APP_TOKEN", None)
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            cpu_before = cpu_seconds(server.pid)
            latencies, failures, elapsed = asyncio.run(load(base))
            cpu = cpu_seconds(server.pid) - cpu_before
            drain = wait_drained(base)
        finally:
            server.terminate()
            server.wait(timeout=30)
        with sqlite3.connect(db) as conn:
            incidents = conn.execute("select count(*) from incident").fetchone()[0]
            stored = conn.execute("select count(*) from alert").fetchone()[0]
            deliveries = conn.execute("select sum(deliveries) from alert").fetchone()[0]
    latencies.sort()
    roots_per_incident: dict[object, int] = defaultdict(int)
    for root in slack.roots():
        incident = ((root.get("metadata") or {}).get("event_payload") or {}).get("incident_id")
        roots_per_incident[incident] += 1
    duplicate_roots = sum(n - 1 for n in roots_per_incident.values())
    writes = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")]
    by_channel: dict[str, list[float]] = defaultdict(list)
    for call in writes:  # posts name the channel, edits use the id Slack answered with
        by_channel[slack.channel_id(str(call.args.get("channel")))].append(call.at)
    peak = 0
    gaps = []
    for times in by_channel.values():
        times.sort()
        gaps += [b - a for a, b in itertools.pairwise(times)]
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] >= 1.0:
                lo += 1
            peak = max(peak, hi - lo + 1)
    p = statistics.quantiles(latencies, n=100, method="inclusive")  # never past the max
    print(f"deliveries: {len(latencies)} ({DELIVERIES // 2} unique alerts, {GROUPS} groups), "
          f"{CONCURRENCY} connections, {failures} non-202 answers")
    print(f"throughput: {len(latencies) / elapsed:.0f} alerts/s ({elapsed:.1f}s); server CPU "
          f"{cpu:.2f}s ({cpu * 1000 / len(latencies):.2f} ms per delivery)")
    print(f"webhook latency: p50 {p[49] * 1000:.1f} ms, p99 {p[98] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms")
    print(f"incidents created: {incidents} (expected {GROUPS}); root messages "
          f"{sum(roots_per_incident.values())}, duplicate roots {duplicate_roots}")
    print(f"alerts lost: {DELIVERIES // 2 - stored} (stored {stored}, deliveries counted "
          f"{deliveries} of {DELIVERIES})")
    print(f"slack calls: {len(slack.calls)} ({len(writes)} writes) over {len(by_channel)} "
          f"channels; queue drained {drain:.1f}s after the storm")
    print(f"highest per-channel message rate: {peak} message(s) in any 1 s window; "
          f"closest two messages in one channel: {min(gaps, default=0):.3f} s apart")


if __name__ == "__main__":
    main()
