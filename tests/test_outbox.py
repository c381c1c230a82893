"""One road to Slack, exactly once: Slack keeps a post but its answer is an error, a final
edit fails for a while, a process is SIGKILLed right after its post landed. Every message
lands once, found again by its metadata rather than posted twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session, select

import bot.dispatcher
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.pacing import ChannelPacer
from bot.slack.retry import retry_handlers
from bot.slack.surface import SlackSurface
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from integrations.telemetry.scenario import ScenarioSource
from storage.db import make_engine
from storage.models import Alert, Incident, Investigation
from storage.repository import Store
from tests.fakes.process import free_port
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack
from tests.test_restarts import TOKEN as TOKEN_RESTART
from tests.test_restarts import (
    _alertmanager_payload,
    _healthy,
    _serve_env,
    process,
    wait_for,
)

SCENARIO = Path(__file__).parents[1] / "bot" / "demo" / "scenarios" / "frontend-latency"
TOKEN = "hook-token"


@dataclass
class Rig:
    slack: FakeSlack
    http: httpx.AsyncClient
    service: Service

    async def alert(self, payload: dict[str, Any]) -> None:
        response = await self.http.post("/webhooks/generic", json=payload,
                                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202, response.text


@pytest.fixture
async def rig(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[Rig]:
    monkeypatch.setattr(bot.dispatcher, "RETRY_BASE_S", 0.05)  # retry at once, not in 2 s
    slack = FakeSlack(clock_ts=True)
    with ServerThread(slack.app()) as server:
        slack.base_url = server.url
        metrics = Metrics()
        client = AsyncWebClient(token="xoxb-outbox", base_url=f"{server.url}/api/",
                                retry_handlers=retry_handlers())
        surface = SlackSurface(client, ChannelPacer(per_second=100, metrics=metrics))

        def telemetry(incident: Incident, alerts: list[Alert]) -> ScenarioSource:
            return ScenarioSource(SCENARIO)

        service = Service(store=sqlite_store, surface=surface, metrics=metrics,
                          router=Router({}, "#incidents"), telemetry_for=telemetry,
                          auto_investigate=False)
        app = build_http_app(service, auth=WebhookAuth(token=TOKEN), manage_lifecycle=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://nightowl") as http:
            yield Rig(slack, http, service)
        await service.stop()


async def until(rig: Rig, condition: Callable[[], Awaitable[bool]]) -> None:
    """The dispatcher retries a failed sync after a backoff: wait for its effect."""
    for _ in range(200):
        await rig.service.idle()
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("gave up waiting")


ALERT = {"title": "HighLatency", "service": "frontend", "signal": "latency",
         "started_at": "2025-08-25T20:24:14Z", "dedup_key": "a1"}


async def test_a_post_slack_kept_but_answered_500_lands_once(rig: Rig) -> None:
    rig.slack.accept_then_fail("chat.postMessage", status=500)  # the root
    await rig.alert(ALERT)

    async def posted() -> bool:
        return (await rig.service.store.incident(1)).slack_ts is not None

    await until(rig, posted)
    assert len(rig.slack.roots()) == 1
    incident = await rig.service.store.incident(1)
    assert incident.slack_ts == rig.slack.roots()[0]["ts"]

    rig.slack.accept_then_fail("chat.postMessage", status=503)  # the thread reply
    await rig.service.acknowledge(1, "U1")

    async def replied() -> bool:
        return not await rig.service.store.pending_updates(1)

    await until(rig, replied)
    replies = rig.slack.replies()
    assert len(replies) == 1 and "Acknowledged" in replies[0]["text"]
    assert [len(rig.slack.of(m)) > 0 for m in ("conversations.history",
                                               "conversations.replies")] == [True, True]


async def test_a_failed_final_edit_is_retried_until_it_lands(rig: Rig) -> None:
    await rig.alert(ALERT)
    await rig.service.idle()
    run = await rig.service.store.start_investigation(1, "test")
    rig.service.dispatcher.notify(1, "#incidents")
    await rig.service.idle()  # its "Investigating…" message went through the outbox
    [started] = [m for m in rig.slack.replies() if (m.get("metadata") or {}).get(
        "event_type") == "nightowl_investigation"]
    assert "Investigating" in started["text"]
    rig.slack.fail_next("chat.update", status=500, times=4)  # beyond the SDK's own retries
    await rig.service.investigate(1, trigger="test", started=run)

    async def shown() -> bool:
        row = await rig.service.store.latest_investigation(1)
        return row is not None and row.shown_final

    await until(rig, shown)
    row = await rig.service.store.latest_investigation(1)
    assert row is not None and row.status == "done" and row.shown_final
    [message] = [m for m in rig.slack.replies() if (m.get("metadata") or {}).get(
        "event_type") == "nightowl_investigation"]
    final = [c for c in rig.slack.of("chat.update") if c.args.get("ts") == message["ts"]][-1]
    assert "Investigating" not in json.dumps(final.args["blocks"])
    assert row.slack_ts == message["ts"]


def test_sigkill_right_after_the_root_post_does_not_post_it_again(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/nightowl.db"
    slack = FakeSlack(clock_ts=True)
    victim: list[int] = []

    def kill_on_first_root(message: dict[str, Any]) -> None:
        if not message.get("thread_ts") and victim:
            os.kill(victim.pop(), signal.SIGKILL)  # the answer never reaches the process

    slack.on_post = kill_on_first_root
    with ServerThread(slack.app()) as slack_server:
        slack.base_url = slack_server.url
        port = free_port()
        env = _serve_env(db_url, slack_server.url, port, NIGHTOWL_SCHEDULER_ENABLED="false")
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve1.log") as first:
            wait_for(lambda: _healthy(port), what="serve to start", timeout=180)
            victim.append(first.pid)
            response = httpx.post(f"http://127.0.0.1:{port}/webhooks/alertmanager",
                                  json=_alertmanager_payload(),
                                  headers={"Authorization": f"Bearer {TOKEN_RESTART}"})
            assert response.status_code == 202, response.text
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL and len(slack.roots()) == 1
        with process(["-m", "bot.cli", "serve"], env, tmp_path / "serve2.log"):
            wait_for(lambda: _healthy(port), what="serve to restart", timeout=180)
            engine = make_engine(db_url)

            def adopted() -> bool:
                with Session(engine) as session:
                    incident = session.exec(select(Incident)).one()
                    return incident.slack_ts is not None

            wait_for(adopted, what="the restarted process to find the root message")
            with Session(engine) as session:
                incident = session.exec(select(Incident)).one()
                assert not list(session.exec(select(Investigation)))
            engine.dispose()
    assert len(slack.roots()) == 1, "the root message was posted twice"
    assert incident.slack_ts == slack.roots()[0]["ts"]
    assert slack.of("conversations.list") and slack.of("conversations.history")



@pytest.mark.parametrize("content_type, body", [
    ("text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),  # no JSON at all
    ("text/plain", "upstream connect error or disconnect/reset before headers"),
    ("application/json", "<html>an error page that claims to be JSON</html>"),
])
async def test_a_proxy_error_page_instead_of_slack_json_is_retried_not_a_crash(
        rig: Rig, content_type: str, body: str) -> None:
    """A load balancer's page in place of Slack's answer: the pacer reads its status without
    assuming JSON, the call fails like any Slack error, and the outbox posts it later."""
    rig.slack.fail_with_page("chat.postMessage", status=502, content_type=content_type,
                             body=body, times=2)
    await rig.alert(ALERT)

    async def posted() -> bool:
        return (await rig.service.store.incident(1)).slack_ts is not None

    await until(rig, posted)
    assert len(rig.slack.roots()) == 1  # the page came instead of a post: nothing kept
    errors = rig.service.metrics.slack_errors.value(method="chat.postMessage", error="502")
    assert errors == 2


async def test_a_rate_limit_page_without_json_waits_its_retry_after(rig: Rig) -> None:
    rig.slack.fail_with_page("auth.test", status=429, content_type="text/plain",
                             body="Too Many Requests", times=1)
    pacer = rig.service.surface.pacer  # type: ignore[attr-defined]
    # Without the SDK's own retry handlers: the pacer is what retries here.
    client = AsyncWebClient(token="xoxb-outbox", base_url=f"{rig.slack.base_url}/api/")
    answer = await pacer.call("#ops", "auth.test", lambda: client.api_call("auth.test"))
    assert answer["ok"] is True
    assert len(rig.slack.of("auth.test")) == 2


async def test_an_investigation_message_slack_kept_but_answered_500_lands_once(
        rig: Rig) -> None:
    """The "Investigating…" post goes through the outbox like the rest: Slack keeps it but
    answers 500, and the retry finds it by its metadata; the result edits that message."""
    await rig.alert(ALERT)
    await rig.service.idle()
    rig.slack.accept_then_fail("chat.postMessage", status=500)
    run = await rig.service.store.start_investigation(1, "test")
    rig.service.dispatcher.notify(1, "#incidents")
    assert run.id is not None
    run_id = run.id

    async def posted() -> bool:
        return (await rig.service.store.investigation(run_id)).slack_ts is not None

    await until(rig, posted)
    await rig.service.investigate(1, trigger="test", started=run)

    async def shown() -> bool:
        return (await rig.service.store.investigation(run_id)).shown_final

    await until(rig, shown)
    messages = [m for m in rig.slack.replies() if (m.get("metadata") or {}).get(
        "event_type") == "nightowl_investigation"]
    assert len(messages) == 1, "the investigation's message was posted twice"
    row = await rig.service.store.investigation(run_id)
    assert row.slack_ts == messages[0]["ts"]
    final = [c for c in rig.slack.of("chat.update") if c.args.get("ts") == row.slack_ts]
    assert final and "Investigating" not in json.dumps(final[-1].args["blocks"])
