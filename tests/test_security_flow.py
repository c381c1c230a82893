"""Detection into cases, end to end with the real case layer: a CloudTrail delivery scanned by
the `security_scan` job and a GuardDuty webhook both become triaged case threads (fake Slack,
real SQLite)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx

from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from integrations.security.sources.files import cloudtrail_source
from scheduler.jobs.security_scan import RuleCache, SecurityScanJob, SecurityScanPolicy
from storage.repository import Store
from storage.security_scan import ScanCursors
from tests.fakes.slack import FakeSlack
from tests.security_cases import FIRED, attack_story, slack_service
from tests.test_security_webhooks import GUARDDUTY

OWN_RULES = Path(__file__).resolve().parents[1] / "integrations" / "security" / "rules"


async def test_scan_opens_a_triaged_case(tmp_path: Path, sqlite_store: Store,
                                         fake_slack: tuple[FakeSlack, str]) -> None:
    slack, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    (tmp_path / "delivery.json").write_text(
        json.dumps({"Records": [e.event for e in attack_story()]}))
    job = SecurityScanJob(
        sources=[cloudtrail_source([tmp_path])], rules=RuleCache([OWN_RULES]), sink=security,
        cursors=ScanCursors.beside(sqlite_store), clock=lambda: FIRED + timedelta(minutes=30),
        policy=SecurityScanPolicy(delay=timedelta(minutes=5)))
    outcome = await job.run(trigger="manual")
    await security.idle()
    assert outcome.items >= 1, outcome.summary
    cases = await security.store.cases()
    stop = next(c for c in cases if c.rule == "CloudTrail logging stopped or trail deleted")
    assert stop.source == "sigma" and stop.principal.endswith("user/mallory")
    assert stop.step == "done" and stop.verdict is not None
    assert "uuid-1" in {e.event_id for e in await security.store.events(stop.id or 0)}
    assert any(not c.args.get("thread_ts") for c in slack.of("chat.postMessage"))
    # The next tick reads nothing twice: no new case, no fold.
    again = await job.run(trigger="schedule")
    await security.idle()
    assert again.items == 0 and len(await security.store.cases()) == len(cases)
    await service.stop()


async def test_guardduty_webhook_opens_a_case(sqlite_store: Store,
                                              fake_slack: tuple[FakeSlack, str]) -> None:
    _, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    app = build_http_app(service, auth=WebhookAuth(token="t"), manage_lifecycle=False,
                         security=security)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://n") as http:
        response = await http.post("/webhooks/guardduty", json=GUARDDUTY,
                                   headers={"Authorization": "Bearer t"})
    assert response.status_code == 202, response.text
    await security.idle()
    (case,) = await security.store.cases()
    assert case.source == "guardduty" and case.severity == "high"
    assert case.principal == "app-role"
    (event,) = await security.store.events(case.id or 0)
    assert event.event_id == "guardduty:f-1"
    await service.stop()
