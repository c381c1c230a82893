"""The event loop while one huge delivery is taken in: a real `nightowl serve` (SQLite) gets
one Alertmanager delivery of 10,000 alerts (about 5 MB) while `/healthz` is polled every
20 ms from another thread. Prints the delivery's time and /healthz latency meanwhile.
Target: /healthz p99 < 100 ms (the loop never stalls; parsing, normalising and storing run
off it)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.alert_storm import cpu_seconds
from tests.fakes.process import free_port

ALERTS = 10_000
TOKEN = "big-token"


def delivery() -> bytes:
    alerts = [{"status": "firing", "fingerprint": f"{i:08x}",
               "labels": {"alertname": "DiskPressure", "service": f"svc{i % 50}",
                          "instance": f"node-{i}", "severity": "warning"},
               "annotations": {"summary": f"disk of node-{i} above 90%",
                               "description": "x" * 200},
               "startsAt": "2026-11-22T21:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": "http://prometheus:9090/graph"} for i in range(ALERTS)]
    return json.dumps({"version": "4", "groupKey": "big", "status": "firing",
                       "receiver": "nightowl", "groupLabels": {}, "commonLabels": {},
                       "commonAnnotations": {}, "externalURL": "http://am",
                       "alerts": alerts}).encode()


def main() -> None:
    body = delivery()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = os.environ | {"NIGHTOWL_DATABASE_URL": f"sqlite:///{Path(tmp) / 'big.db'}",
                            "NIGHTOWL_PORT": str(port), "NIGHTOWL_WEBHOOK_TOKEN": TOKEN,
                            "NIGHTOWL_MAX_BODY_BYTES": str(16 * 1024 * 1024),
                            "NIGHTOWL_LOG_LEVEL": "WARNING", "NIGHTOWL_SCHEDULER_ENABLED":
                            "false", "NIGHTOWL_AUTO_INVESTIGATE": "false"}
        for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
            env.pop(key, None)
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env,
                                  stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        health: list[float] = []
        done = threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    client.get("/healthz")
                    health.append(time.perf_counter() - started)
                    time.sleep(0.02)

        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            poller = threading.Thread(target=poll)
            poller.start()
            time.sleep(0.5)
            before = len(health)
            cpu_before = cpu_seconds(server.pid)
            started = time.perf_counter()
            response = httpx.post(f"{base}/webhooks/alertmanager", content=body, timeout=300,
                                  headers={"Authorization": f"Bearer {TOKEN}",
                                           "Content-Type": "application/json"})
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(server.pid) - cpu_before
            during = health[before:]
            done.set()
            poller.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    during.sort()
    # "inclusive": with a few dozen polls the default method extrapolates past the maximum.
    p = (statistics.quantiles(during, n=100, method="inclusive") if len(during) > 1
         else [during[0]] * 99)
    print(f"one delivery of {ALERTS:,} alerts ({len(body) / 1e6:.1f} MB): "
          f"{response.status_code} in {elapsed:.1f}s ({ALERTS / elapsed:.0f} alerts/s), "
          f"{response.json().get('alerts')} alerts stored; server CPU {cpu:.2f}s")
    print(f"/healthz meanwhile: {len(during)} polls, p50 {p[49] * 1000:.1f} ms, "
          f"p99 {p[98] * 1000:.1f} ms, max {during[-1] * 1000:.1f} ms (target p99 < 100 ms)")


if __name__ == "__main__":
    main()
