"""Error scans: template mining, new/surge judgement, Sentry and Loki sources, posting once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from integrations.error_sources.base import ScanWindow, SignatureCount
from integrations.error_sources.logs import LogErrorSource, SignatureCounter
from integrations.error_sources.sentry import SentrySource
from integrations.error_sources.templates import TemplateMiner, mask
from integrations.errors import RemoteError
from integrations.telemetry.loki import LokiSource
from integrations.telemetry.scenario import ScenarioSource
from scheduler.jobs.error_scan import ErrorScanJob, ScanPolicy, judge
from storage.background import BackgroundStore
from storage.models import Alert, Finding, Severity
from storage.repository import Store
from tests.fakes.loki import FakeLoki, LogRecord
from tests.fakes.sentry import FakeSentry
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack

DEMO = Path(__file__).parent.parent / "bot" / "demo" / "scenarios" / "frontend-errors"
END = datetime(2025, 7, 4, 15, 3, 44, tzinfo=UTC)


def test_masking_turns_variables_into_wildcards() -> None:
    line = ("user 4411 (bob@example.com) from 10.0.0.12:8080 got 503 after 1.5s "
            "req=9f8e7d6c5b4a3f2e id 123e4567-e89b-12d3-a456-426614174000 at 0xdeadbeef")
    assert mask(line) == "user <*> <*> from <*> got <*> after <*> req=<*> id <*> at <*>"


def test_miner_groups_variants_and_keeps_different_messages_apart() -> None:
    miner = TemplateMiner()
    a = {miner.add(f"payment declined for order {n} by gateway stripe-{n % 3}")
         for n in range(50)}
    b = {miner.add(f"connection reset by peer host db-{n}") for n in range(20)}
    c = miner.add("payment declined for order 7 by gateway adyen")
    assert len(a) == 1 and len(b) == 1 and a != b
    assert c in a  # one differing word still fits the template
    assert miner.cluster(a.pop()).template == "payment declined for order <*> by gateway <*>"


def test_counter_splits_baseline_and_recent() -> None:
    counter = SignatureCounter("cart", split_ts=100.0)
    counter.add_all([(10.0, "timeout calling redis after 30ms")] * 5
                    + [(120.0, "timeout calling redis after 31ms")] * 2
                    + [(130.0, "null pointer in CartService.total line 42")] * 4)
    counts = {c.title: (c.baseline, c.recent) for c in counter.counts()}
    assert counts == {"timeout calling redis after <*>": (5, 2),
                      "null pointer in CartService.total line <*>": (0, 4)}


def _sig(baseline: int, recent: int, **kw: object) -> SignatureCount:
    return SignatureCount(source="logs", signature="s", service="cart", title="t", example="",
                          baseline=baseline, recent=recent, **kw)  # type: ignore[arg-type]


def test_judge_new_surging_and_steady() -> None:
    window = ScanWindow.ending(END, recent=timedelta(minutes=15), baseline=timedelta(hours=6))
    policy = ScanPolicy()
    assert judge(_sig(0, 5), window, policy)[0] == "new"  # type: ignore[index]
    assert judge(_sig(0, 1), window, policy) is None  # one line is not a finding
    assert judge(_sig(0, 1, level="fatal"), window, policy)[1] == "critical"  # type: ignore[index]
    # 240 per 6 h is 10 per 15 min: 12 is steady, 80 is a surge.
    assert judge(_sig(240, 12), window, policy) is None
    kind, severity, per_hour = judge(_sig(240, 80), window, policy)  # type: ignore[misc]
    assert (kind, str(severity), per_hour) == ("surging", "warning", 40.0)
    # Sentry's firstSeen decides newness even when the baseline buckets show events.
    assert judge(_sig(3, 5, first_seen=END - timedelta(minutes=5)), window,
                 policy)[0] == "new"  # type: ignore[index]


@pytest.fixture
def slack_surface(fake_slack: tuple[FakeSlack, str]) -> Iterator[tuple[SlackSurface, FakeSlack]]:
    slack, url = fake_slack
    client = AsyncWebClient(token="xoxb-test", base_url=f"{url}/api/")
    yield SlackSurface(client, ChannelPacer(per_second=100.0, metrics=Metrics())), slack


def _scenario_with_new_error(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    shutil.copytree(DEMO, case)
    with (case / "logs.jsonl").open("a") as out:
        for minute in range(10):
            ts = (END - timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
            message = f"card token expired for customer {1000 + minute} (token=tok_{minute}abc)"
            out.write(json.dumps({"ts": ts, "service": "payments", "level": "error",
                                  "message": message}) + "\n")
    return case


async def test_log_scan_posts_each_finding_once(
        tmp_path: Path, store: Store, slack_surface: tuple[SlackSurface, FakeSlack]) -> None:
    surface, slack = slack_surface
    background = BackgroundStore.beside(store)
    opened: list[Alert] = []

    async def open_incident(alert: Alert) -> int | None:
        opened.append(alert)
        return None

    job = ErrorScanJob(
        sources=[LogErrorSource(ScenarioSource(_scenario_with_new_error(tmp_path)))],
        store=background, announcer=surface,
        route=lambda service: "#payments" if service == "payments" else "#errors",
        open_incident=open_incident, clock=lambda: END)
    first = await job.run()
    assert first.items >= 1
    findings = await background.findings_between(END - timedelta(days=1), END + timedelta(1))
    token = [f for f in findings if f.service == "payments"]
    assert len(token) == 1 and token[0].kind == "new"
    assert token[0].title == "card token expired for customer <*> (token=<*>"
    assert token[0].posted_ts is not None
    posts = slack.of("chat.postMessage")
    assert len(posts) == len(findings)
    payments_post = [p for p in posts if p.args["channel"] == "#payments"]
    assert len(payments_post) == 1
    assert "New error in payments" in payments_post[0].args["text"]

    second = await job.run()  # the same errors again: refreshed, not re-posted
    assert second.items == 0
    assert len(slack.of("chat.postMessage")) == len(posts)


async def test_serious_findings_open_an_incident(tmp_path: Path, sqlite_store: Store,
                                                 slack_surface: tuple[SlackSurface, FakeSlack],
                                                 ) -> None:
    surface, slack = slack_surface
    background = BackgroundStore.beside(sqlite_store)

    async def open_incident(alert: Alert) -> int | None:
        [outcome] = await sqlite_store.ingest([alert], lambda a: "#payments")
        return outcome.incident_id

    job = ErrorScanJob(
        sources=[LogErrorSource(ScenarioSource(_scenario_with_new_error(tmp_path)),
                                services=["payments"])],
        store=background, announcer=surface, route=lambda s: "#payments",
        open_incident=open_incident, clock=lambda: END,
        policy=ScanPolicy(incident_severity=Severity.WARNING))
    await job.run()
    [finding] = await background.findings_between(END - timedelta(1), END + timedelta(1))
    assert finding.incident_id is not None
    incident = await sqlite_store.incident(finding.incident_id)
    assert incident.signal == "errors" and incident.service == "payments"
    [alert] = await sqlite_store.incident_alerts(finding.incident_id)
    assert alert.labels["alertname"] == "ErrorScanFinding"
    [post] = slack.of("chat.postMessage")
    assert f"opened incident #{incident.id}" in str(post.args["blocks"])


async def test_loki_scan_and_a_broken_loki(store: Store) -> None:
    now = END.timestamp()
    loki = FakeLoki([LogRecord(now - 3600 * 3 + i * 60, "cart", "error",
                               f"redis timeout after {i}ms") for i in range(100)]
                    + [LogRecord(now - 300 + i, "cart", "error",
                                 f"redis timeout after {i}ms") for i in range(60)]
                    + [LogRecord(now - 60, "cart", "info", "started worker 3")])
    with ServerThread(loki.app()) as server:
        source = LogErrorSource(LokiSource(server.url))
        window = ScanWindow.ending(END, recent=timedelta(minutes=15),
                                   baseline=timedelta(hours=6))
        result = await source.scan(window)
        [sig] = result.signatures
        assert (sig.service, sig.title, sig.baseline, sig.recent) == (
            "cart", "redis timeout after <*>", 100, 60)
        assert judge(sig, window, ScanPolicy())[0] == "surging"  # type: ignore[index]
        loki.broken = True
        with pytest.raises(RemoteError, match="every log query failed"):
            await source.scan(window)


def _issue(issue_id: str, project: str, hours: list[int], first_seen: datetime) -> dict:
    hour0 = int(END.timestamp()) // 3600 * 3600 - 23 * 3600
    return {"id": issue_id, "title": f"TypeError in {project}", "culprit": "cart.total",
            "permalink": f"https://sentry.example/issues/{issue_id}/", "level": "error",
            "firstSeen": first_seen.isoformat().replace("+00:00", "Z"),
            "project": {"slug": project},
            "stats": {"24h": [[hour0 + i * 3600, n] for i, n in enumerate(hours)]}}


async def test_sentry_source_pages_and_counts() -> None:
    steady = [5] * 24
    surge = [2] * 23 + [90]
    fresh = [0] * 23 + [7]
    sentry = FakeSentry(token="sntrys_test", org="acme", issues=[
        _issue("1", "cart", steady, END - timedelta(days=30)),
        _issue("2", "checkout", surge, END - timedelta(days=30)),
        _issue("3", "payments", fresh, END - timedelta(minutes=10)),
    ])
    with ServerThread(sentry.app()) as server:
        source = SentrySource(server.url, org="acme", token="sntrys_test")
        window = ScanWindow.ending(END, recent=timedelta(minutes=15),
                                   baseline=timedelta(hours=6))
        result = await source.scan(window)
        assert len(sentry.requests) == 2  # followed the Link header to the second page
        verdicts = {s.service: judge(s, window, ScanPolicy()) for s in result.signatures}
        assert verdicts["cart"] is None
        assert verdicts["checkout"][0] == "surging"  # type: ignore[index]
        assert verdicts["payments"][0] == "new"  # type: ignore[index]
        assert next(s for s in result.signatures if s.service == "payments").link == \
            "https://sentry.example/issues/3/"

        with pytest.raises(RemoteError, match="HTTP 401"):
            await SentrySource(server.url, org="acme", token="wrong").scan(window)
        sentry.garbage = True
        with pytest.raises(RemoteError, match="not JSON"):
            await source.scan(window)


async def test_findings_are_unique_per_signature(store: Store) -> None:
    background = BackgroundStore.beside(store)
    row = Finding(source="logs", signature="abc", service="cart", kind="new", title="t",
                  channel="#c", count=3)
    _, created = await background.record_finding(row)
    again, created_again = await background.record_finding(Finding(
        source="logs", signature="abc", service="cart", kind="new", title="t", channel="#c",
        count=9))
    assert created and not created_again and again.count == 9
