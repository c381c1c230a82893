"""The Dev agent's whole stack for end-to-end tests and the benchmark: the wired service
(build(settings)) with the fake Slack, the fake Sentry and the fake GitHub (real git)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bot.background import Background, build_background
from bot.settings import (
    ApiSettings,
    ApiToken,
    DevSettings,
    ModelSettings,
    RoutingSettings,
    SentrySettings,
    Settings,
    SlackSettings,
    WebhookSettings,
)
from bot.wiring import Wiring, build
from integrations.error_sources.sentry import SentrySource
from integrations.github.events import ChainedEvents
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.composite import CompositeSource
from integrations.telemetry.scenario import ScenarioSource, load_case
from storage.models import Alert, AuditEvent, Incident
from tests.dev_support import REPO, TOKEN, World, github_world
from tests.fakes.sentry import FakeSentry
from tests.fakes.server import ServerThread
from tests.fakes.signing import action_body, slack_headers
from tests.fakes.slack import FakeSlack

SECRET = "slack-signing-secret"
HOOK = "hook-token"
# REST/MCP callers: one that may open pull requests, one that may only read.
WRITER = "writer-token-0123456789"
READER = "reader-token-0123456789"
DEMO = Path(__file__).parent.parent / "bot" / "demo" / "scenarios" / "frontend-errors"


@dataclass
class E2E:
    world: World
    slack: FakeSlack
    sentry: FakeSentry
    wiring: Wiring
    background: Background
    http: httpx.AsyncClient
    slack_url: str

    async def click(self, action_id: str, value: str, *, user: str, channel: str) -> None:
        body = action_body(action_id, value, user=user, channel=channel,
                           response_url=f"{self.slack_url}/api/respond")
        headers = slack_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
        response = await self.http.post("/slack/events", content=body, headers=headers)
        assert response.status_code == 200

    def thread_texts(self) -> list[str]:
        return [str(c.args.get("text", "")) for c in self.slack.of("chat.postMessage")
                if c.args.get("thread_ts")]

    def button(self, action_id: str) -> tuple[str, str]:
        """(value, channel) of the last posted button with this action id."""
        for call in reversed(self.slack.of("chat.postMessage")):
            for block in call.args.get("blocks") or []:
                for element in block.get("elements", []) if block.get("type") == "actions" \
                        else []:
                    if element.get("action_id") == action_id:
                        assert element.get("confirm"), "every Open PR button asks to confirm"
                        return str(element["value"]), self.slack.channel_id(
                            str(call.args["channel"]))
        raise AssertionError(f"no {action_id} button in {self.thread_texts()}")

    def audits(self) -> list[AuditEvent]:
        from sqlmodel import Session, col, select
        with Session(self.wiring.store.engine) as session:
            return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


async def until(condition: Any, *, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def sentry_issue(end: datetime, events: int = 40) -> dict[str, Any]:
    hour0 = int(end.timestamp()) // 3600 * 3600 - 23 * 3600
    hours = [0] * 23 + [events]
    return {"id": "42", "title": "KeyError: 'order_id'", "culprit": "orders.mapper in to_dto",
            "permalink": "https://sentry.example/issues/42/", "level": "error",
            "firstSeen": (end - timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
            "project": {"slug": "orders"},
            "stats": {"24h": [[hour0 + i * 3600, n] for i, n in enumerate(hours)]}}


SENTRY_EVENT = {"eventID": "e1", "entries": [{"type": "exception", "data": {"values": [{
    "type": "KeyError", "value": "'order_id'", "stacktrace": {"frames": [
        {"filename": "app/server.py", "lineNo": 10, "function": "handle", "inApp": False},
        {"filename": "orders/mapper.py", "lineNo": 2, "function": "to_dto", "inApp": True,
         "context": [[2, '    return {"id": order["order_id"], "total": order["total"]}']]},
    ]}}]}}]}


def scenario_copy(tmp: Path) -> Path:
    """The demo's frontend-errors scenario, minus its own deploy event: the deploy the
    investigation finds comes from GitHub instead."""
    target = tmp / "scenario"
    shutil.copytree(DEMO, target)
    events = [json.loads(line) for line in (target / "events.jsonl").read_text().splitlines()]
    (target / "events.jsonl").write_text("".join(
        json.dumps(e) + "\n" for e in events if e["service"] != "search"))
    return target


@asynccontextmanager
async def dev_stack(tmp_path: Path, slack: FakeSlack, slack_url: str, *,
                    write_interval: float = 0.0, model_url: str | None = None,
                    events: int = 40, deployments: bool = True,
                    test_command: str | None = None,
                    scenario: Path | None = None) -> AsyncIterator[E2E]:
    """`model_url`: a fake Anthropic server for the model's code fix; `events`: the Sentry
    issue's count in the last hour (≥ 30 makes it serious enough to open an incident);
    `deployments`: whether GitHub knows the deploys (without them there is no range);
    `scenario`: the telemetry the investigation reads (default: the demo's frontend-errors)."""
    slack.default_members = ["U42"]  # the responders; anyone else is refused
    end = datetime.now(UTC).replace(microsecond=0)
    sentry = FakeSentry(token="sntrys_test", org="acme", issues=[sentry_issue(end, events)],
                        events={"42": SENTRY_EVENT})
    with github_world(tmp_path) as world, ServerThread(sentry.app()) as sentry_server:
        fake = world.fake
        if deployments:
            fake.add_deployment(REPO, sha=world.repo.base,
                                created_at=_iso(end - timedelta(days=2)))
            fake.add_deployment(REPO, sha=world.repo.head,
                                created_at=_iso(end - timedelta(hours=1)))
        # The scenario's search deploy, as GitHub knows it.
        fake.add_deployment(REPO, sha=world.repo.base, created_at="2025-07-04T12:00:00Z")
        fake.add_deployment(REPO, sha=world.repo.head, created_at="2025-07-04T14:46:20Z")
        scenario = scenario or scenario_copy(tmp_path)
        settings = Settings(database_url=f"sqlite:///{tmp_path}/e2e.db").model_copy(update={
            "slack": SlackSettings(bot_token=SecretStr("xoxb-test"),
                                   signing_secret=SecretStr(SECRET), app_token=None,
                                   api_url=f"{slack_url}/api/", messages_per_second=50),
            "webhooks": WebhookSettings(token=SecretStr(HOOK), pagerduty_secret=None,
                                        sentry_secret=None, grafana_secret=None),
            "routing": RoutingSettings(default_channel="#incidents",
                                       routes={"service": {"orders": "#orders"}}),
            "sentry": SentrySettings(auth_token=SecretStr("sntrys_test"),
                                     api_url=sentry_server.url, org="acme"),
            "dev": DevSettings(github_token=SecretStr(TOKEN), github_api_url=world.url,
                               github_html_url="https://github.example",
                               repos={"orders": {"repo": REPO, "test_command": test_command}
                                      if test_command else REPO, "search": REPO},
                               workdir=str(tmp_path / "dev"),
                               github_write_interval=write_interval),
            "api": ApiSettings(tokens=[
                ApiToken(name="oncall-agent", token=SecretStr(WRITER), scopes=["read", "write"]),
                ApiToken(name="dashboard", token=SecretStr(READER), scopes=["read"])],
                public_url="http://nightowl.test")})
        if model_url is not None:
            settings = settings.model_copy(update={"models": ModelSettings(
                anthropic_api_key=SecretStr("sk-ant-test"), anthropic_base_url=model_url,
                planner="anthropic:claude-haiku-4-5", worker="anthropic:claude-haiku-4-5",
                summarizer="anthropic:claude-haiku-4-5")})
        holder: dict[str, Wiring] = {}

        def telemetry_for(incident: Incident, alerts: Sequence[Alert]) -> TelemetrySource:
            files = ScenarioSource(scenario)
            dev = holder["wiring"].dev
            assert dev is not None and dev.events is not None
            topology: dict[str, set[str]] = {}
            for edge in load_case(scenario).topology:
                topology.setdefault(edge[0], set()).add(edge[1])
            return CompositeSource(metrics=files, logs=files, traces=files,
                                   events=ChainedEvents(files, dev.events), topology=topology)

        wiring = build(settings, telemetry_for=telemetry_for)
        holder["wiring"] = wiring
        background = build_background(
            settings, wiring.service, dev=wiring.dev, clock=lambda: end,
            sources=[SentrySource(sentry_server.url, org="acme", token="sntrys_test")])
        await wiring.service.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wiring.app),
                                     base_url="http://nightowl") as http:
            yield E2E(world, slack, sentry, wiring, background, http, slack_url)
        await wiring.service.stop()
        wiring.store.close()


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


