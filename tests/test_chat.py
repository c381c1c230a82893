"""Thread chat through the real Bolt app and the fake Slack Web API: @mentions and thread
replies in an incident thread, answered with evidence, with and without a model."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from agents.chat.intents import parse
from bot.chat import RateLimiter, ThreadChatHandler
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.slack.blocks import answer_messages
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from integrations.llm.base import ModelClient
from integrations.telemetry.scenario import ScenarioSource
from storage.models import Alert, Incident
from storage.repository import Store
from tests.fakes.llm import FakeModelServer, gateway_for, tool
from tests.fakes.server import ServerThread
from tests.fakes.signing import slack_headers
from tests.fakes.slack import Call, FakeSlack

SECRET = "slack-signing-secret"
TOKEN = "hook-token"
SCENARIO = Path(__file__).parents[1] / "bot" / "demo" / "scenarios" / "frontend-latency"
_events = itertools.count(1)


@dataclass
class Chat:
    slack: FakeSlack
    http: httpx.AsyncClient
    service: Service
    root_ts: str = ""
    channel: str = ""

    async def open_incident(self) -> None:
        payload = {"version": "4", "groupKey": "g1", "status": "firing", "alerts": [{
            "status": "firing", "labels": {"alertname": "HighLatency", "service": "frontend"},
            "annotations": {"summary": "p99 latency of frontend is abnormal"},
            "startsAt": "2025-08-25T20:24:14Z", "fingerprint": "f1"}]}
        response = await self.http.post("/webhooks/alertmanager", json=payload,
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202
        await self.service.idle()
        root = self.slack.of("chat.postMessage")[0]
        self.root_ts, self.channel = "1700000001.000100", self.slack.channel_id("#incidents")
        assert root.args["channel"] == "#incidents"

    async def event(self, text: str, *, kind: str = "app_mention", user: str = "U42",
                    thread: bool = True, expect: bool = True, **extra: str) -> None:
        """Send an event and wait for the reply it should get (Bolt answers Slack first and
        runs the listener after), or give an unanswered one time to misbehave."""
        posts = len(self.slack.of("chat.postMessage"))
        n = next(_events)
        event = {"type": kind, "user": user, "text": text, "ts": f"1700009{n:03d}.000200",
                 "channel": self.channel, "event_ts": f"1700009{n:03d}.000200", **extra}
        if thread:
            event["thread_ts"] = self.root_ts
        body = json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1",
                           "type": "event_callback", "event_id": f"Ev{n:05d}",
                           "event_time": 1700009000, "event": event})
        response = await self.http.post("/slack/events", content=body,
                                        headers=slack_headers(SECRET, body))
        assert response.status_code == 200
        for _ in range(100 if expect else 10):
            await asyncio.sleep(0.05)
            if len(self.slack.of("chat.postMessage")) > posts:
                break
        await self.service.idle()

    def answers(self) -> list[Call]:
        return [c for c in self.slack.of("chat.postMessage")
                if c.args.get("thread_ts") == self.root_ts and "blocks" in c.args
                and any(b["type"] == "context" and "Asked by" in b["elements"][0]["text"]
                        for b in c.args["blocks"])]

    def last_answer(self) -> str:
        blocks = self.answers()[-1].args["blocks"]
        return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


async def chat_rig(store: Store, fake_slack: tuple[FakeSlack, str], *,
                   model: ModelClient | None = None, per_user: int = 10
                   ) -> AsyncIterator[Chat]:
    slack, url = fake_slack
    metrics = Metrics()
    client = AsyncWebClient(token="xoxb-test-token", base_url=f"{url}/api/")
    surface = SlackSurface(client, ChannelPacer(per_second=50, metrics=metrics))

    def telemetry(incident: Incident, alerts: Sequence[Alert]) -> ScenarioSource:
        return ScenarioSource(SCENARIO)

    service = Service(store=store, surface=surface, metrics=metrics, telemetry_for=telemetry,
                      router=Router({}, "#incidents"), model=model)
    bolt = build_bolt_app(service, client=client, signing_secret=SECRET,
                          chat=ThreadChatHandler(service, per_user=per_user, per_seconds=300))
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN), bolt=bolt,
                         slack_signing_secret=SECRET, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as http:
        chat = Chat(slack, http, service)
        await chat.open_incident()
        yield chat
    await service.stop()


@pytest.fixture
async def chat(sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> AsyncIterator[Chat]:
    async for rig in chat_rig(sqlite_store, fake_slack, per_user=20):
        yield rig


async def test_commands_are_answered_in_the_thread_with_evidence(chat: Chat) -> None:
    await chat.event("<@UBOT> what changed in cart in the last 90 minutes?")
    answer = chat.last_answer()
    assert "What changed in `cart` since" in answer
    # In words, as the RCA says it: the metric's name, no z-score, times in UTC.
    assert "CPU usage of cart: " in answer and "`q-" in answer
    assert "z=" not in answer and "cpu_usage" not in answer and " UTC" in answer

    await chat.event("<@UBOT> show me the error logs of checkout since 19:45")
    answer = chat.last_answer()
    assert "Error logs of `checkout` since 19:45 UTC" in answer and "19 lines" in answer
    assert "cache miss storm" in answer

    await chat.event("<@UBOT> why not kafka?")
    answer = chat.last_answer()
    assert "*Why not `kafka`?*" in answer and "✗" in answer and "normal" in answer

    await chat.event("<@UBOT> why not the database?")  # an alias: mongo is the database here
    assert "`mongo`" in chat.last_answer()

    await chat.event("<@UBOT> why not warp-core?")
    assert "I don't know a service called `warp-core`" in chat.last_answer()

    await chat.event("<@UBOT> is this related to the marketing campaign?")
    answer = chat.last_answer()
    assert "without a model" in answer and "ANTHROPIC_API_KEY" in answer
    assert "what changed in <service>" in answer
    footer = chat.answers()[-1].args["blocks"][-1]["elements"][0]["text"]
    assert footer == "Asked by <@U42>"


async def test_thread_replies_without_a_mention_and_what_is_ignored(chat: Chat) -> None:
    before = len(chat.answers())
    await chat.event("I'm looking at the dashboards now", kind="message", expect=False)
    await chat.event("what changed in cart in the last 90 minutes", kind="message",
                     bot_id="B2", expect=False)  # another bot
    await chat.event("<@UBOT> what changed in cart in the last 90 minutes", kind="message",
                     expect=False)
    assert len(chat.answers()) == before  # the mention arrives as app_mention instead
    await chat.event("what changed in cart in the last 90 minutes", kind="message")
    assert len(chat.answers()) == before + 1

    posts = len(chat.slack.of("chat.postMessage"))
    await chat.event("<@UBOT> why not kafka?", thread=False)
    outside = chat.slack.of("chat.postMessage")[posts:]
    assert len(outside) == 1 and "I answer questions in incident threads" in \
        outside[0].args["text"]


async def test_questions_are_rate_limited_per_user(
        sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    async for chat in chat_rig(sqlite_store, fake_slack, per_user=3):
        await limited(chat)


async def limited(chat: Chat) -> None:
    for _ in range(4):
        await chat.event("<@UBOT> summary")
    texts = [c.args["text"] for c in chat.slack.of("chat.postMessage")
             if c.args.get("thread_ts") == chat.root_ts]
    assert "more questions than I can look up at once (3 per 5 min)" in texts[-1]
    await chat.event("<@UBOT> summary", user="U77")  # someone else is not held back
    answer = chat.last_answer()
    # The RCA's lines in the RCA's words: the cause, and the evidence it rests on in UTC.
    assert "Likely root cause" in answer and "CPU saturation" in answer and " UTC" in answer
    assert "z=" not in answer and "cpu_usage" not in answer and "`ev-" in answer


async def test_free_form_question_with_a_model_cites_evidence(
        sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    server = FakeModelServer()
    with ServerThread(server.app()) as running:
        model = gateway_for(sqlite_store, anthropic_url=running.url)
        async for chat in chat_rig(sqlite_store, fake_slack, model=model):
            # The investigation used the model too (which said nothing useful): the thread
            # shows what it cost and that the statistical summary stands.
            shown = [b["elements"][0]["text"] for c in chat.slack.of("chat.update")
                     for b in c.args.get("blocks", []) if b["type"] == "context"]
            assert any("anthropic:claude-haiku-4-5: 2 calls" in t and "problems set aside" in t
                       for t in shown)
            server.requests.clear()
            server.script = [
                tool("what_changed", service="cart", minutes=90),
                tool("answer", claims=[
                    {"text": "cart's CPU doubled before frontend slowed",
                     "evidence": ["q-1", "q-2"]},
                    {"text": "The marketing campaign caused it", "evidence": ["ev-404"]},
                ]),
            ]
            await chat.event("<@UBOT> is this the marketing campaign again?")
            answer = chat.last_answer()
            assert "cart's CPU doubled before frontend slowed `q-1` `q-2`" in answer
            assert "marketing" not in answer
            assert "1 claim without supporting evidence was removed" in answer
            assert "CPU usage of cart" in answer  # the cited evidence, one click away
            footer = chat.answers()[-1].args["blocks"][-1]["elements"][0]["text"]
            assert "answered with anthropic:claude-haiku-4-5" in footer
            # The model got the investigation's brief and the lookup's result, nothing raw.
            first = json.dumps(server.requests[0]["messages"], ensure_ascii=False)
            assert "Question: is this the marketing campaign again?" in first
            assert "cpu_usage of cart" in first and len(first) < 8000  # exact, for the model
            second = json.dumps(server.requests[1]["messages"], ensure_ascii=False)
            assert "What changed in `cart` since" in second


def test_long_answers_are_split_within_block_kit_limits() -> None:
    text = "\n".join(f"• line {i} " + "x" * 180 for i in range(1200))
    messages = answer_messages(text, footer="Asked by <@U1>")
    assert len(messages) > 1
    for fallback, blocks in messages:
        assert len(blocks) <= 50 and len(fallback) <= 3000
        assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    joined = "\n".join(b["text"]["text"] for _, blocks in messages for b in blocks
                       if b["type"] == "section")
    assert joined == text  # nothing lost
    assert messages[-1][1][-1]["type"] == "context"


def test_intents() -> None:
    changed = parse("<@U1> what changed in payments in the last hour?")
    assert changed is not None and (changed.kind, changed.target, changed.minutes) == \
        ("changed", "payments", 60)
    recent = parse("what has changed on `checkout` over the past 15 min")
    assert recent is not None and (recent.target, recent.minutes) == ("checkout", 15)
    logs = parse("show me the error logs of checkout since 21:30")
    assert logs is not None and (logs.kind, logs.target, logs.since) == \
        ("logs", "checkout", (21, 30))
    assert parse("error logs of checkout since 25:99") is None
    why = parse("why not the database?")
    assert why is not None and (why.kind, why.target) == ("why_not", "database")
    assert parse("is it the campaign?") is None


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(2, 60)
    assert limiter.wait("U1", now=0) == 0 and limiter.wait("U1", now=1) == 0
    assert limiter.wait("U1", now=2) == pytest.approx(58)
    assert limiter.wait("U2", now=2) == 0
    assert limiter.wait("U1", now=61) == 0
