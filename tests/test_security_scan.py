"""The `security_scan` job through the real JobRunner on real SQLite: per-source cursors, a
source that is down fails the run and is read again at the next tick, bad input named."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from integrations.security.sources.files import FileSource, cloudtrail_source, json_source
from integrations.security.suppressions import StaticSuppressions, Suppression
from integrations.security.types import SecuritySignal
from scheduler.jobs.security_scan import RuleCache, SecurityScanJob, SecurityScanPolicy
from scheduler.runner import JobRunner
from storage.background import BackgroundStore
from storage.repository import Store
from storage.security_scan import ScanCursors

OWN_RULES = Path(__file__).resolve().parents[1] / "integrations" / "security" / "rules"
T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


class Collected:
    def __init__(self) -> None:
        self.signals: list[SecuritySignal] = []

    async def handle(self, signals: Sequence[SecuritySignal]) -> None:
        self.signals.extend(signals)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def record(i: int, at: datetime, name: str, user: str = "alice") -> dict:
    return {
        "eventID": f"ct-{i}",
        "eventTime": at.isoformat().replace("+00:00", "Z"),
        "eventSource": "cloudtrail.amazonaws.com" if "Trail" in name or "Logging" in name
        else "ec2.amazonaws.com",
        "eventName": name,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/{user}"},
        "sourceIPAddress": "203.0.113.1",
    }


def deliver(folder: Path, name: str, records: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"Records": records}))


async def test_scan_cursors_failures_and_next_tick(tmp_path: Path, sqlite_store: Store) -> None:
    trail, okta_dir, rules = tmp_path / "trail", tmp_path / "okta", tmp_path / "rules"
    deliver(trail, "a.json", [record(1, T0 + timedelta(minutes=10), "StopLogging"),
                              record(2, T0 + timedelta(minutes=11), "DescribeInstances")])
    (trail / "junk.json").write_text("{oops")
    (tmp_path / "widgets.jsonl").write_text(
        json.dumps({"widget": 1, "ts": (T0 + timedelta(minutes=12)).isoformat()}) + "\n")
    rules.mkdir()
    (rules / "broken.yml").write_text("title: broken\ndetection: [\n")
    clock = Clock(T0 + timedelta(minutes=45))
    sink = Collected()
    store = BackgroundStore.beside(sqlite_store)
    job = SecurityScanJob(
        sources=[cloudtrail_source([trail]), json_source([tmp_path / "widgets.jsonl"]),
                 FileSource(name="okta-files", paths=[okta_dir], log_type="Okta.SystemLog")],
        rules=RuleCache([OWN_RULES, rules]), sink=sink,
        cursors=ScanCursors.beside(sqlite_store), clock=clock,
        policy=SecurityScanPolicy(delay=timedelta(minutes=15), first_window=timedelta(hours=1)))
    runner = JobRunner(jobs={"security_scan": job}, store=store, engine=sqlite_store.engine,
                       holder="test:1")

    first = await runner.run("security_scan", trigger="manual")
    assert first is not None and first.outcome == "failed"
    assert first.error is not None
    assert "okta-files" in first.error and "does not exist" in first.error
    assert "1 signals" in first.error  # the sources that were up were scanned
    assert "junk.json" in first.error  # the malformed file, named
    assert "Unknown.JSON (1)" in first.error  # kept and reported
    assert "broken.yml" in first.error  # the bad rule, named with its line
    assert [s.event_ids for s in sink.signals] == [("ct-1",)]
    cursors = ScanCursors.beside(sqlite_store)
    assert await cursors.get("cloudtrail") == T0 + timedelta(minutes=30)
    assert await cursors.get("okta-files") is None  # read again next time

    # Next tick: the source is back; CloudTrail is read from its cursor only.
    okta_dir.mkdir()
    (okta_dir / "log.json").write_text(json.dumps([{
        "uuid": "o-1", "published": (T0 + timedelta(minutes=5)).isoformat(),
        "eventType": "user.account.privilege.grant",
        "actor": {"alternateId": "mallory@corp.example"}}]))
    deliver(trail, "b.json", [record(3, T0 + timedelta(minutes=35), "DeleteTrail", "bob")])
    clock.now += timedelta(minutes=10)
    second = await runner.run("security_scan", trigger="schedule")
    assert second is not None and second.outcome == "ok", second.error
    fired = [(s.rule_id, s.event_ids) for s in sink.signals[1:]]
    assert sorted(e for _, e in fired) == [("ct-3",), ("o-1",)]  # ct-1 not scanned twice
    assert second.items == 2


async def test_suppressed_and_rule_reload(tmp_path: Path, sqlite_store: Store) -> None:
    trail, rules = tmp_path / "trail", tmp_path / "rules"
    deliver(trail, "a.json", [record(1, T0 + timedelta(minutes=1), "RunInstances", "ci-bot"),
                              record(2, T0 + timedelta(minutes=2), "RunInstances", "eve")])
    rules.mkdir()
    clock = Clock(T0 + timedelta(minutes=30))
    sink = Collected()
    cache = RuleCache([rules])
    job = SecurityScanJob(
        sources=[cloudtrail_source([trail])], rules=cache, sink=sink,
        cursors=ScanCursors.beside(sqlite_store), clock=clock,
        suppressions=StaticSuppressions([Suppression("Instances launched",
                                                     principal="arn:aws:iam::1:user/ci-bot")]),
        policy=SecurityScanPolicy(delay=timedelta(0)))
    outcome = await job.run(trigger="manual")
    assert outcome.items == 0 and "0 rules" in outcome.summary
    # A rule added between ticks is picked up; the suppression silences ci-bot only.
    (rules / "run.yml").write_text(
        "title: Instances launched\nid: 3f1c8a52-7d0e-4b7a-9f1e-2a6b5c4d3e21\n"
        "logsource:\n  product: aws\n"
        "  service: cloudtrail\ndetection:\n  sel:\n    eventName: RunInstances\n"
        "  condition: sel\nlevel: low\n")
    deliver(trail, "b.json", [record(3, T0 + timedelta(minutes=31), "RunInstances", "ci-bot"),
                              record(4, T0 + timedelta(minutes=32), "RunInstances", "eve")])
    clock.now += timedelta(minutes=10)
    outcome = await job.run(trigger="manual")
    assert [s.event_ids for s in sink.signals] == [("ct-4",)]
    assert "1 matches suppressed" in outcome.summary
