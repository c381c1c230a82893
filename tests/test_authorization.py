"""Who may press what: the real Bolt app with signed clicks against the fake Slack Web API."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.slack.authorization import OPEN_PR, Authorizer
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from storage.repository import Store
from tests.fakes.signing import action_body, slack_headers
from tests.fakes.slack import FakeSlack

SECRET = "slack-signing-secret"
TOKEN = "hook-token"
_ts = itertools.count(1)


@dataclass
class Harness:
    slack: FakeSlack
    http: httpx.AsyncClient
    service: Service
    url: str
    authorizer: Authorizer

    async def alert(self, *, team: str = "web", fingerprint: str = "f1") -> None:
        payload = {"version": "4", "groupKey": fingerprint, "status": "firing", "alerts": [{
            "status": "firing", "labels": {"alertname": "HighLatency", "service": "checkout",
                                           "team": team},
            "annotations": {"summary": "checkout is slow"},
            "startsAt": "2026-11-22T21:00:00Z", "fingerprint": fingerprint}]}
        response = await self.http.post("/webhooks/alertmanager", json=payload,
                                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202
        await self.service.idle()

    async def click(self, action_id: str, value: str, *, user: str,
                    action_ts: str | None = None) -> httpx.Response:
        body = action_body(action_id, value, user=user,
                           action_ts=action_ts or f"1700000100.{next(_ts):06d}",
                           response_url=f"{self.url}/api/respond")
        return await self.signed(body, "application/x-www-form-urlencoded")

    async def command(self, text: str, *, user: str) -> httpx.Response:
        body = urlencode({"command": "/nightowl", "text": text, "user_id": user,
                          "team_id": "T1", "channel_id": "C9", "trigger_id": "t",
                          "response_url": f"{self.url}/api/respond"})
        return await self.signed(body, "application/x-www-form-urlencoded")

    async def signed(self, body: str, content_type: str) -> httpx.Response:
        headers = slack_headers(SECRET, body, content_type=content_type)
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def responses(self, count: int) -> list[str]:
        for _ in range(100):
            if len(self.slack.of("respond")) >= count:
                break
            await asyncio.sleep(0.03)
        return [str(c.args.get("text", "")) for c in self.slack.of("respond")]


async def settle(service: Service, condition: Callable[[], bool] | None = None) -> None:
    """Bolt acknowledges before it runs a handler: wait for the handler's effect."""
    for _ in range(100):
        await service.idle()
        await asyncio.sleep(0.03)
        if condition is None or condition():
            return


@pytest.fixture
async def harness(sqlite_store: Store, fake_slack: tuple[FakeSlack, str]
                  ) -> AsyncIterator[Harness]:
    slack, url = fake_slack
    slack.members = {"#incidents": ["U1", "U2"], "#payments": ["U3"]}
    slack.usergroups = {"SOPS": ["U9"], "SPR": ["U2"]}
    slack.admins = {"UADMIN"}
    metrics = Metrics()
    client = AsyncWebClient(token="xoxb-test-token", base_url=f"{url}/api/")
    surface = SlackSurface(client, ChannelPacer(per_second=50, metrics=metrics))
    service = Service(store=sqlite_store, surface=surface, metrics=metrics,
                      router=Router({"team": {"payments": "#payments"}}, "#incidents"),
                      reinvestigate_cooldown_s=600)
    authorizer = Authorizer(client, audit=sqlite_store, action_groups={OPEN_PR: ["SPR"]})
    bolt = build_bolt_app(service, client=client, signing_secret=SECRET, authorizer=authorizer)
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN), bolt=bolt,
                         slack_signing_secret=SECRET, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as http:
        yield Harness(slack, http, service, url, authorizer)
    await service.stop()


async def test_an_outsider_cannot_resolve(harness: Harness) -> None:
    await harness.alert()
    assert (await harness.click("incident_resolve", "1", user="U3")).status_code == 200
    [text] = await harness.responses(1)
    assert "only members of" in text
    assert (await harness.service.store.incident(1)).status != "resolved"
    events = await harness.service.store.audit_events(1)
    assert [(e.actor, e.action) for e in events] == [("U3", "refused:resolve")]
    assert events[0].detail["reason"].startswith("only members of")

    await harness.click("incident_resolve", "1", user="U1")
    await settle(harness.service, lambda: bool(harness.slack.of("chat.update")))
    incident = await harness.service.store.incident(1)
    assert incident.status == "resolved" and incident.resolved_by == "U1"


async def test_reinvestigate_is_rate_limited_per_incident(harness: Harness) -> None:
    await harness.alert()
    for _ in range(5):
        await harness.click("incident_reinvestigate", "1", user="U1")
    texts = await harness.responses(4)
    await settle(harness.service)
    rows = await harness.service.store.audit_events(1)
    assert [e.action for e in rows] == ["reinvestigate"]
    assert len(texts) == 4 and all("⏳" in t for t in texts)


async def test_a_replayed_click_is_handled_once(harness: Harness) -> None:
    await harness.alert()
    body = action_body("incident_ack", "1", user="U1", action_ts="1700000500.000001",
                       response_url=f"{harness.url}/api/respond")
    for _ in range(3):
        assert (await harness.signed(body, "application/x-www-form-urlencoded")
                ).status_code == 200
    await settle(harness.service)
    assert [e.action for e in await harness.service.store.audit_events(1)] == ["acknowledge"]


async def test_pause_needs_an_admin(harness: Harness) -> None:
    await harness.command("pause", user="U1")
    [text] = await harness.responses(1)
    assert "only workspace admins" in text
    await harness.command("pause", user="UADMIN")
    texts = await harness.responses(2)
    assert "Model calls paused" in texts[1]

    harness.authorizer.admin_group = "SOPS"  # NIGHTOWL_ADMIN_GROUP set: the group decides
    assert not await harness.authorizer.authorize("resume", user_id="UADMIN", channel="C9")
    assert await harness.authorizer.authorize("resume", user_id="U9", channel="C9")


async def test_configured_groups_and_failing_closed(harness: Harness) -> None:
    authorize = harness.authorizer.authorize
    channel = harness.slack.channel_id("#incidents")
    assert await authorize(OPEN_PR, user_id="U2", channel=channel)
    refused = await authorize(OPEN_PR, user_id="U1", channel=channel)  # in the channel only
    assert not refused and "<!subteam^SPR>" in refused.reason
    harness.authorizer.action_groups["approve_containment"] = ["SMISSING"]
    missing = await authorize("approve_containment", user_id="U1", channel=channel)
    assert not missing and "could not check" in missing.reason
    assert not await authorize("acknowledge", user_id="unknown", channel=channel)


async def test_memberships_are_cached(harness: Harness) -> None:
    now = [0.0]
    authorizer = Authorizer(harness.authorizer.client, cache_seconds=60, clock=lambda: now[0])
    channel = harness.slack.channel_id("#incidents")
    for _ in range(3):
        assert await authorizer.authorize("resolve", user_id="U1", channel=channel)
    assert len(harness.slack.of("conversations.members")) == 1
    now[0] = 61
    await authorizer.authorize("resolve", user_id="U1", channel=channel)
    assert len(harness.slack.of("conversations.members")) == 2


async def test_home_and_list_show_only_the_users_channels(harness: Harness) -> None:
    await harness.alert(team="web", fingerprint="a")
    await harness.alert(team="payments", fingerprint="b")
    event = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
             "event_id": "EvHome1", "event_time": 1,
             "event": {"type": "app_home_opened", "user": "U3", "channel": "D1",
                       "tab": "home"}}
    await harness.signed(json.dumps(event), "application/json")
    await settle(harness.service, lambda: bool(harness.slack.of("views.publish")))
    [home] = harness.slack.of("views.publish")
    shown = json.dumps(home.args["view"])
    assert "#2 " in shown and "#1 " not in shown

    await harness.command("", user="U1")
    for _ in range(100):
        if harness.slack.of("respond"):
            break
        await asyncio.sleep(0.03)
    [listing] = harness.slack.of("respond")
    shown = json.dumps(listing.args["blocks"])
    assert "#1 " in shown and "#2 " not in shown
