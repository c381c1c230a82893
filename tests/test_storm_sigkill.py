"""SIGKILL in the middle of an alert storm, with real `nightowl serve` processes: a storm of
Alertmanager deliveries, the process killed the moment Slack keeps one of its root messages
(so that post's answer never arrives), a new process started, the deliveries that got no
answer sent again (as Alertmanager retries them). Every delivery answered 2xx is in the
database, in an incident; every incident has exactly one root message in Slack."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import Alert, Incident
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack
from tests.test_restarts import TOKEN, _healthy, _serve_env, process, wait_for

GROUPS = 40
DELIVERIES = 480  # one alert each; every third one a repeat of an earlier alert
KILL_AT_ROOT = 12


def _delivery(i: int) -> tuple[str, dict[str, Any]]:
    alert = i - 1 if i % 3 == 2 else i  # a repeat delivery of the alert before it
    group = alert % GROUPS
    fingerprint = f"storm-{alert:05d}"
    return fingerprint, {
        "version": "4", "status": "firing", "receiver": "nightowl",
        "groupKey": f"storm:{group}", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{"status": "firing", "fingerprint": fingerprint,
                    "labels": {"alertname": f"Storm{group}", "service": f"svc{group}",
                               "instance": f"pod-{alert}", "severity": "warning"},
                    "annotations": {"summary": f"storm alert {alert}"},
                    "startsAt": "2026-11-22T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}


def _send(port: int, indexes: list[int], accepted: set[str], lock: threading.Lock,
          ) -> list[int]:
    """Deliver, 8 at a time; returns the deliveries that got no 2xx answer."""
    failed: list[int] = []

    def one(i: int) -> None:
        fingerprint, payload = _delivery(i)
        try:
            response = httpx.post(f"http://127.0.0.1:{port}/webhooks/alertmanager",
                                  json=payload, timeout=30,
                                  headers={"Authorization": f"Bearer {TOKEN}"})
        except httpx.TransportError:
            response = None
        with lock:
            if response is not None and 200 <= response.status_code < 300:
                accepted.add(fingerprint)
            else:
                assert response is None or response.status_code < 500, response.text
                failed.append(i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, indexes))
    return sorted(failed)


def test_sigkill_during_a_storm_loses_nothing_and_posts_no_root_twice(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/nightowl.db"
    slack = FakeSlack(clock_ts=True)
    victim: list[int] = []
    roots = Counter[str]()

    def kill_mid_storm(message: dict[str, Any]) -> None:
        if message.get("thread_ts"):
            return
        roots["posted"] += 1
        if roots["posted"] == KILL_AT_ROOT and victim:
            os.kill(victim.pop(), signal.SIGKILL)  # Slack kept it; the answer is lost

    slack.on_post = kill_mid_storm
    accepted: set[str] = set()
    lock = threading.Lock()
    with ServerThread(slack.app()) as slack_server:
        slack.base_url = slack_server.url
        port = free_port()
        env = _serve_env(db_url, slack_server.url, port, NIGHTOWL_SCHEDULER_ENABLED="false",
                         NIGHTOWL_AUTO_INVESTIGATE="false", NIGHTOWL_LOG_LEVEL="WARNING")
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve1.log") as first:
            wait_for(lambda: _healthy(port), what="serve to start", timeout=180)
            victim.append(first.pid)
            unanswered = _send(port, list(range(DELIVERIES)), accepted, lock)
            first.wait(timeout=60)
        assert first.returncode == -signal.SIGKILL, "the storm outlasted the kill"
        assert unanswered, "the kill came after the storm: nothing was cut off"
        assert accepted, "the kill came before the storm got going"
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve2.log"):
            wait_for(lambda: _healthy(port), what="serve to restart", timeout=180)
            assert _send(port, unanswered, accepted, lock) == []
            engine = make_engine(db_url)

            def all_posted() -> bool:
                with Session(engine) as session:
                    incidents = list(session.exec(select(Incident)))
                return len(incidents) == GROUPS and all(i.slack_ts for i in incidents)

            wait_for(all_posted, what="every incident's root message", timeout=120)
            with Session(engine) as session:
                stored = {a.dedup_key: a for a in session.exec(select(Alert))}
                incidents = {i.id: i for i in session.exec(select(Incident))}
            engine.dispose()

    # 0 lost: every alert whose delivery was answered 2xx is stored, in an incident.
    keys = {key.rsplit(":", 1)[-1]: alert for key, alert in stored.items()}
    lost = sorted(f for f in accepted if f not in keys or keys[f].incident_id is None)
    assert lost == []
    assert len(keys) == len({_delivery(i)[0] for i in range(DELIVERIES)})
    # 0 duplicate roots: one root message per incident, the one its row points at.
    per_incident = Counter(
        ((m.get("metadata") or {}).get("event_payload") or {}).get("incident_id")
        for m in slack.roots())
    assert set(per_incident) == set(incidents)
    assert max(per_incident.values()) == 1, f"roots posted twice: {per_incident}"
    root_ts = {m["ts"] for m in slack.roots()}
    assert all(i.slack_ts in root_ts for i in incidents.values())
    # The root whose answer the kill cut off was found by its metadata, not posted again.
    assert slack.of("conversations.history")
