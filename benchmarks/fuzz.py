"""Hostile deliveries at volume: `python -m benchmarks fuzz [N]` sends N (default 6,000)
hypothesis-generated deliveries to every webhook source and /slack/events of the real ASGI
app over SQLite (and PostgreSQL when the machine runs it), in-process. Prints the answers by
status, 5xx (target 0), and authenticated failures kept as dead letters (target 100%)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.db import make_engine, upgrade
from storage.repository import Store
from tests.fakes.deliveries import Delivery, slack_deliveries, webhook_deliveries
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack
from tests.fuzzing import FuzzRig

PER_EXAMPLE = 20
PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


def run(database_url: str, total: int, slack_url: str) -> FuzzRig:
    engine = make_engine(database_url)
    upgrade(engine)
    rig = FuzzRig(Store(engine), slack_url)

    @settings(max_examples=max(1, total // PER_EXAMPLE), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(webhook_deliveries(), webhook_deliveries(), slack_deliveries()),
                    min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def send(batch: list[Delivery]) -> None:
        rig.run(batch)

    try:
        send()
    finally:
        rig.close()
    return rig


def report(name: str, rig: FuzzRig, elapsed: float) -> None:
    fivexx = sum(n for status, n in rig.statuses.items() if status >= 500)
    kept = rig.dead_letters()
    print(f"{name}: {rig.sent} deliveries in {elapsed:.1f}s ({rig.sent / elapsed:.0f}/s)")
    print(f"  answers: {dict(sorted(rig.statuses.items()))}")
    share = 100 * min(kept, rig.authenticated_failures) / max(1, rig.authenticated_failures)
    print(f"  5xx: {fivexx}   authenticated failures: {rig.authenticated_failures}, "
          f"kept as dead letters: {kept} ({share:.0f}%)   other problems: {len(rig.problems)}")
    for problem in rig.problems[:5]:
        print(f"    {problem[:300]}")


def main() -> None:
    total = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 6000
    slack = FakeSlack()
    with ServerThread(slack.app()) as server, tempfile.TemporaryDirectory() as tmp:
        slack.base_url = server.url
        started = time.perf_counter()
        rig = run(f"sqlite:///{Path(tmp) / 'fuzz.db'}", total, server.url)
        report("SQLite", rig, time.perf_counter() - started)
        rig.store.close()
        try:
            from tests.conftest import postgres_schema

            with postgres_schema() as url:
                started = time.perf_counter()
                rig = run(url, total // 3, server.url)
                report("PostgreSQL", rig, time.perf_counter() - started)
                rig.store.close()
        except BaseException as exc:  # pytest's skip when PostgreSQL is missing
            print(f"PostgreSQL: not run ({exc})")
