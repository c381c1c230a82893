"""The real Bolt app, driven by signed requests, against a local fake Slack Web API."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.slack.blocks import split_text
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from storage.repository import Store
from tests.fakes.signing import action_body, slack_headers
from tests.fakes.slack import FakeSlack

SECRET = "slack-signing-secret"
TOKEN = "hook-token"


@dataclass
class Harness:
    slack: FakeSlack
    http: httpx.AsyncClient
    service: Service
    slack_url: str

    async def alert(self, name: str = "HighLatency", status: str = "firing",
                    fingerprint: str = "f1", group: str = "g1",
                    team: str = "web") -> httpx.Response:
        payload = {"version": "4", "groupKey": group, "status": status, "alerts": [{
            "status": status, "labels": {"alertname": name, "service": "checkout", "team": team},
            "annotations": {"summary": f"{name} on checkout"},
            "startsAt": "2026-11-22T21:00:00Z", "endsAt": "2026-11-22T21:23:00Z",
            "fingerprint": fingerprint}]}
        return await self.http.post("/webhooks/alertmanager", json=payload,
                                     headers={"Authorization": f"Bearer {TOKEN}"})

    async def signed(self, body: str, content_type: str, **extra: str) -> httpx.Response:
        headers = slack_headers(SECRET, body, content_type=content_type) | extra
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def click(self, action_id: str, value: str, user: str = "U42") -> httpx.Response:
        return await self.signed(action_body(action_id, value, user=user),
                                 "application/x-www-form-urlencoded")


@pytest.fixture
async def harness(sqlite_store: Store, fake_slack: tuple[FakeSlack, str]
                  ) -> AsyncIterator[Harness]:
    slack, url = fake_slack
    slack.default_members = ["U1", "U7", "U42"]  # the responders in every channel
    metrics = Metrics()
    client = AsyncWebClient(token="xoxb-test-token", base_url=f"{url}/api/")
    surface = SlackSurface(client, ChannelPacer(per_second=20, metrics=metrics))
    service = Service(store=sqlite_store, surface=surface, metrics=metrics,
                      router=Router({"team": {"payments": "#payments"}}, "#incidents"))
    bolt = build_bolt_app(service, client=client, signing_secret=SECRET)
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN), bolt=bolt,
                         slack_signing_secret=SECRET, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as http:
        yield Harness(slack, http, service, url)
    await service.stop()


async def test_incident_thread_lifecycle(harness: Harness) -> None:
    assert (await harness.alert()).status_code == 202
    await harness.service.idle()
    (root,) = harness.slack.of("chat.postMessage")
    assert root.args["channel"] == "#incidents"
    assert root.args["metadata"]["event_payload"]["incident_id"] == 1
    header = root.args["blocks"][0]["text"]["text"]
    assert "HighLatency on checkout" in header
    buttons = [e["action_id"] for e in root.args["blocks"][-1]["elements"]]
    assert buttons == ["incident_ack", "incident_resolve", "incident_reinvestigate"]

    # A repeat delivery changes nothing; another alert of the group is a thread reply.
    await harness.alert()
    await harness.alert(name="HighErrorRate", fingerprint="f2")
    await harness.service.idle()
    replies = [c for c in harness.slack.of("chat.postMessage") if c.args.get("thread_ts")]
    assert len(replies) == 1 and "HighErrorRate" in replies[0].args["text"]
    assert replies[0].args["thread_ts"] == "1700000001.000100"

    # Both alerts resolve: the root message is edited to say so, the thread says so too.
    await harness.alert(status="resolved")
    await harness.alert(name="HighErrorRate", fingerprint="f2", status="resolved")
    await harness.service.idle()
    last_edit = harness.slack.of("chat.update")[-1]
    assert "RESOLVED after 23m" in last_edit.args["blocks"][0]["text"]["text"]
    [actions] = [b for b in last_edit.args["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["incident_reopen"]
    texts = [c.args["text"] for c in harness.slack.of("chat.postMessage")]
    assert any("every alert of this incident has cleared" in t for t in texts)

    # Resolved by mistake: Reopen brings the incident and its buttons back, and says so.
    assert (await harness.click("incident_reopen", "1", user="U7")).status_code == 200
    for _ in range(100):
        await harness.service.idle()
        if (await harness.service.store.incident(1)).status == "open":
            break
        await asyncio.sleep(0.05)
    await harness.service.idle()
    incident = await harness.service.store.incident(1)
    assert incident.status == "open" and incident.resolved_by is None
    last_edit = harness.slack.of("chat.update")[-1]
    buttons = [e["action_id"] for e in last_edit.args["blocks"][-1]["elements"]]
    assert buttons == ["incident_ack", "incident_resolve", "incident_reinvestigate"]
    assert "↩️ Reopened by U7." in harness.slack.of("chat.postMessage")[-1].args["text"]


async def test_buttons_are_acknowledged_and_recorded(harness: Harness) -> None:
    await harness.alert()
    await harness.service.idle()
    response = await harness.click("incident_ack", "1", user="U42")
    assert response.status_code == 200

    async def edited_with(text: str) -> bool:
        # Bolt acks first and runs the handler after, so wait for the edit to land.
        for _ in range(100):
            await harness.service.idle()
            if any(text in json.dumps(c.args.get("blocks")) for c in harness.slack.of(
                    "chat.update")):
                return True
            await asyncio.sleep(0.05)
        return False

    assert await edited_with("acknowledged by <@U42>")
    assert (await harness.click("incident_resolve", "1", user="U7")).status_code == 200
    assert await edited_with("RESOLVED")
    events = await harness.service.store.audit_events(1)
    assert [(e.actor, e.action) for e in events] == [("U42", "acknowledge"), ("U7", "resolve")]
    incident = await harness.service.store.incident(1)
    assert incident.status == "resolved" and incident.resolved_by == "U7"


async def test_wrong_signature_is_refused(harness: Harness) -> None:
    body = action_body("incident_ack", "1")
    headers = slack_headers("not-the-secret", body,
                            content_type="application/x-www-form-urlencoded")
    response = await harness.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    stale = slack_headers(SECRET, body, timestamp=1_600_000_000,
                          content_type="application/x-www-form-urlencoded")
    assert (await harness.http.post("/slack/events", content=body,
                                    headers=stale)).status_code == 401


async def test_event_retries_are_handled_once(harness: Harness) -> None:
    event = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev123",
             "event_time": 1, "event": {"type": "app_home_opened", "user": "U1",
                                        "channel": "D1", "tab": "home"}}
    body = json.dumps(event)
    assert (await harness.signed(body, "application/json")).status_code == 200
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    retry = await harness.signed(body, "application/json", **retry_headers)
    assert retry.status_code == 200
    await harness.service.idle()
    import asyncio

    # The Home tab is published after the ack: wait for it (a loaded machine can take more
    # than a moment), then long enough for a duplicate from the retry to have landed too.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not harness.slack.of("views.publish") and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    publishes = harness.slack.of("views.publish")
    assert len(publishes) == 1
    assert "No open incidents" in json.dumps(publishes[0].args["view"])


async def test_slash_command_lists_open_incidents(harness: Harness) -> None:
    await harness.alert()
    await harness.service.idle()
    body = urlencode({"command": "/nightowl", "text": "", "user_id": "U1", "team_id": "T1",
                      "channel_id": "C1", "response_url": f"{harness.slack_url}/api/respond",
                      "trigger_id": "t"})
    response = await harness.signed(body, "application/x-www-form-urlencoded")
    assert response.status_code == 200
    import asyncio

    for _ in range(50):
        if harness.slack.of("respond"):
            break
        await asyncio.sleep(0.05)
    (answer,) = harness.slack.of("respond")
    assert "HighLatency on checkout" in json.dumps(answer.args["blocks"])


async def test_rate_limits_delay_but_never_drop(harness: Harness) -> None:
    harness.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    await harness.alert()
    await harness.service.idle()
    posts = harness.slack.of("chat.postMessage")
    assert len(posts) == 2  # the refused attempt and the retry after Retry-After
    assert posts[1].at - posts[0].at >= 0.9
    metrics = harness.service.metrics.render()
    assert 'nightowl_slack_errors_total{method="chat.postMessage",error="ratelimited"} 1' in metrics


async def test_per_channel_pacing(harness: Harness) -> None:
    for i in range(10):
        await harness.alert(name=f"Alert{i}", fingerprint=f"f{i}", group=f"g{i}")
    await harness.service.idle()
    posts = harness.slack.of("chat.postMessage")
    assert len(posts) == 10
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 1 / 20 * 0.9  # 20 messages/s configured for this test


async def test_a_channel_is_one_lane_by_name_or_by_id(harness: Harness) -> None:
    # The root message goes to the routed name (#incidents), the reply to the id Slack
    # answered with: Slack limits the channel, so they are paced together.
    await harness.alert()
    await harness.alert(name="HighErrorRate", fingerprint="f2")
    await harness.service.idle()
    root, reply = harness.slack.of("chat.postMessage")
    assert root.args["channel"] == "#incidents" and reply.args["channel"] != "#incidents"
    assert reply.at - root.at >= 1 / 20 * 0.9


def test_long_text_is_split_on_lines() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    chunks = split_text(text, 3500)
    assert all(len(c) <= 3500 for c in chunks) and "\n".join(chunks) == text
