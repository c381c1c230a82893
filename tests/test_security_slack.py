"""The case thread's buttons through the real Bolt app: signed requests, the fake Slack Web API,
the real authorizer (members of the security channel), audit events for every click."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from sqlmodel import Session, select

from bot.security.service import SecurityService
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.slack.security_blocks import (
    APPROVE,
    BENIGN,
    CONFIRM,
    ESCALATE,
    FALSE_POSITIVE,
    RAW_EVENT,
)
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from storage.models import AuditEvent
from storage.repository import Store
from tests.fakes.signing import action_body, slack_headers
from tests.fakes.slack import FakeSlack
from tests.security_cases import (
    KEY,
    RecordingExecutor,
    attack_story,
    slack_service,
    stop_logging_signal,
)

SECRET = "slack-signing-secret"
MEMBER, OUTSIDER = "U_SEC", "U_OUT"


@dataclass
class Harness:
    slack: FakeSlack
    http: httpx.AsyncClient
    service: Service
    security: SecurityService
    executor: RecordingExecutor
    url: str
    _clicks: Iterator[int] = field(default_factory=itertools.count)

    async def click(self, action_id: str, value: str, *, user: str = MEMBER,
                    overflow: bool = False) -> httpx.Response:
        body = action_body(action_id, value, user=user, response_url=f"{self.url}/api/respond",
                           action_ts=f"17000000{next(self._clicks):02d}.0")
        if overflow:  # an overflow menu sends the option picked, not a value
            payload = json.loads(parse_qs(body)["payload"][0])
            action = payload["actions"][0]
            action.pop("value")
            action.update(type="overflow", selected_option={"value": value})
            body = urlencode({"payload": json.dumps(payload)})
        headers = slack_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def until(self, check: Callable[[], bool]) -> bool:
        # Bolt acknowledges first and runs the handler after: wait for its effect.
        for _ in range(200):
            await self.security.idle()
            if check():
                return True
            await asyncio.sleep(0.02)
        return False


@pytest.fixture
async def harness(sqlite_store: Store, fake_slack: tuple[FakeSlack, str]
                  ) -> AsyncIterator[Harness]:
    slack, url = fake_slack
    slack.members = {"#security": [MEMBER], "#incidents": [MEMBER]}
    executor = RecordingExecutor()
    service, security, client = slack_service(sqlite_store, url, executors=[executor])
    bolt = build_bolt_app(service, client=client, signing_secret=SECRET, security=security)
    app = build_http_app(service, auth=WebhookAuth(token="t"), bolt=bolt,
                         slack_signing_secret=SECRET, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as http:
        yield Harness(slack, http, service, security, executor, url)
    await service.stop()


async def _case(h: Harness) -> int:
    case_id, _ = await h.security.receive(stop_logging_signal(attack_story()))
    await h.security.idle()
    return case_id


def _texts(slack: FakeSlack) -> str:
    return json.dumps([c.args for c in slack.of("chat.postMessage")], ensure_ascii=False)


async def test_approve_runs_only_after_an_authorized_click(harness: Harness) -> None:
    h = harness
    case_id = await _case(h)
    actions = (await h.security.store.case(case_id)).triage["proposed_actions"]
    index = next(i for i, a in enumerate(actions) if a["action"] == "disable access key")
    assert h.executor.calls == []

    # Someone outside the security channel: refused privately, audited, nothing runs.
    assert (await h.click(APPROVE, f"{case_id}:{index}", user=OUTSIDER)).status_code == 200
    assert await h.until(lambda: any("Sorry" in str(c.args.get("text"))
                                     for c in h.slack.of("respond")))
    assert h.executor.calls == [] and await h.security.store.approvals(case_id) == []
    with Session(h.service.store.engine) as session:
        refused = session.exec(select(AuditEvent).where(
            AuditEvent.action == "refused:approve_containment")).all()
    assert [e.actor for e in refused] == [OUTSIDER]

    assert (await h.click(APPROVE, f"{case_id}:{index}")).status_code == 200
    assert await h.until(lambda: h.executor.calls == [("disable access key", KEY)])
    (row,) = await h.security.store.approvals(case_id)
    assert row.approved_by == MEMBER and row.outcome == "executed"
    assert await h.until(lambda: "approved by <@U_SEC>" in json.dumps(
        h.slack.of("chat.update")[-1].args["blocks"]))
    audit = [(e.actor, e.action) for e in await h.security.store.audit_events(case_id)]
    assert (MEMBER, "approve_containment") in audit
    assert ("test-iam", "containment_executed") in audit


async def test_verdict_buttons_are_feedback_and_close_the_case(harness: Harness) -> None:
    h = harness
    case_id = await _case(h)
    await h.click(CONFIRM, str(case_id))
    assert await h.until(lambda: "confirmed a true positive" in _texts(h.slack))
    case = await h.security.store.case(case_id)
    assert case.decision == "true_positive" and case.status == "open"
    await h.click(FALSE_POSITIVE, str(case_id))
    assert await h.until(lambda: "marked it a false positive" in _texts(h.slack))
    case = await h.security.store.case(case_id)
    assert case.status == "closed" and case.closed_by == MEMBER
    # Closed: the root loses its buttons, and Benign on it changes nothing more than feedback.
    assert not any(b["type"] == "actions" for b in h.slack.of("chat.update")[-1].args["blocks"]
                   if "Case #" in json.dumps(h.slack.of("chat.update")[-1].args["blocks"]))
    await h.click(BENIGN, str(case_id), user=OUTSIDER)
    await asyncio.sleep(0.2)
    await h.security.idle()
    verdicts = [(f.user, f.verdict) for f in await h.security.store.feedback(case_id)]
    assert verdicts == [(MEMBER, "true_positive"), (MEMBER, "false_positive")]


async def test_escalate_opens_an_incident_in_the_incident_channel(harness: Harness) -> None:
    h = harness
    case_id = await _case(h)
    await h.click(ESCALATE, str(case_id))
    assert await h.until(lambda: any(c.args.get("channel") == "#incidents"
                                     for c in h.slack.of("chat.postMessage")))
    await h.service.idle()
    case = await h.security.store.case(case_id)
    assert case.incident_id is not None and case.escalated_by == MEMBER
    incident = await h.service.store.incident(case.incident_id)
    assert incident.source == "security" and incident.channel == "#incidents"
    assert f"Security case #{case_id}" in incident.title
    assert await h.service.store.latest_investigation(case.incident_id) is None
    assert await h.until(lambda: f"incident #{case.incident_id} is open" in _texts(h.slack))


async def test_raw_event_opens_redacted_in_a_modal(harness: Harness) -> None:
    h = harness
    case_id = await _case(h)
    event = next(e for e in await h.security.store.events(case_id) if e.event_id == "e-1")
    detail = next(c for c in h.slack.of("chat.postMessage") if c.args.get("thread_ts"))
    menus = [b["accessory"] for b in detail.args["blocks"]
             if b.get("accessory", {}).get("action_id") == RAW_EVENT]
    assert {m["type"] for m in menus} == {"button", "overflow"}  # one event, or a menu of them
    assert all(2 <= len(m["options"]) <= 5 for m in menus if m["type"] == "overflow")
    await h.click(RAW_EVENT, f"{case_id}:{event.id}", overflow=True)
    assert await h.until(lambda: bool(h.slack.of("views.open")))
    view = json.dumps(h.slack.of("views.open")[0].args["view"])
    assert "StopLogging" in view and KEY not in view and "[REDACTED" in view
    assert "<!channel>" not in view and "&lt;!channel&gt;" in view
    audit = [(e.actor, e.action) for e in await h.security.store.audit_events(case_id)]
    assert (MEMBER, "security_view_event") in audit


async def test_a_case_root_slack_kept_but_did_not_confirm_is_not_posted_twice(
        harness: Harness) -> None:
    """Slack keeps the root (and then the triage reply) but answers 500: the retry finds each
    by its metadata instead of posting a second one."""
    harness.slack.clock_ts = True
    harness.slack.accept_then_fail("chat.postMessage", status=500, times=2)
    case_id = await _case(harness)

    assert await harness.until(lambda: bool(harness.slack.roots() and harness.slack.replies()))
    for _ in range(20):  # let any duplicate the retries would make arrive
        await harness.security.idle()
        await asyncio.sleep(0.05)
    assert len(harness.slack.roots()) == 1, harness.slack.roots()
    keys = [(m.get("metadata") or {}).get("event_payload", {}).get("key")
            for m in harness.slack.replies()]
    assert keys.count(f"security-case/{case_id}/triage") == 1, keys
