"""The Dev agent end to end, every boundary real: the wired service (build(settings)), the Bolt
app driven by signed clicks, the fake Slack, the fake Sentry, the fake GitHub backed by real
git, and the real engine (blame, revert).

1. A Sentry issue with a stack trace → the error scan's finding → suspect commits in its
   thread → Open revert PR (authorized, audited) → a draft PR → the thread follows it.
2. An Alertmanager alert → the investigation blames a deploy GitHub knows → the deploy's
   commits as suspects → Open revert PR → a draft PR.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.background import Background, build_background
from bot.demo.run import alertmanager_payload
from bot.settings import (
    DevSettings,
    RoutingSettings,
    SentrySettings,
    Settings,
    SlackSettings,
    WebhookSettings,
)
from bot.wiring import Wiring, build
from integrations.error_sources.sentry import SentrySource
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
DEMO = Path(__file__).parent.parent / "bot" / "demo" / "scenarios" / "frontend-errors"


@dataclass
class E2E:
    world: World
    slack: FakeSlack
    sentry: FakeSentry
    wiring: Wiring
    background: Background
    http: httpx.AsyncClient

    async def click(self, action_id: str, value: str, *, user: str, channel: str) -> None:
        body = action_body(action_id, value, user=user, channel=channel)
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


def sentry_issue(end: datetime) -> dict[str, Any]:
    hour0 = int(end.timestamp()) // 3600 * 3600 - 23 * 3600
    hours = [0] * 23 + [40]
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


@pytest.fixture
async def e2e(tmp_path: Path, fake_slack: tuple[FakeSlack, str]) -> AsyncIterator[E2E]:
    slack, slack_url = fake_slack
    slack.default_members = ["U42"]  # the responders; anyone else is refused
    end = datetime.now(UTC).replace(microsecond=0)
    sentry = FakeSentry(token="sntrys_test", org="acme", issues=[sentry_issue(end)],
                        events={"42": SENTRY_EVENT})
    with github_world(tmp_path) as world, ServerThread(sentry.app()) as sentry_server:
        fake = world.fake
        fake.add_deployment(REPO, sha=world.repo.base,
                            created_at=_iso(end - timedelta(days=2)))
        fake.add_deployment(REPO, sha=world.repo.head, created_at=_iso(end - timedelta(hours=1)))
        # The scenario's search deploy, as GitHub knows it.
        fake.add_deployment(REPO, sha=world.repo.base, created_at="2025-07-04T12:00:00Z")
        fake.add_deployment(REPO, sha=world.repo.head, created_at="2025-07-04T14:46:20Z")
        scenario = scenario_copy(tmp_path)
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
                               repos={"orders": REPO, "search": REPO},
                               workdir=str(tmp_path / "dev"), github_write_interval=0)})
        holder: dict[str, Wiring] = {}

        def telemetry_for(incident: Incident, alerts: Sequence[Alert]) -> TelemetrySource:
            files = ScenarioSource(scenario)
            dev = holder["wiring"].dev
            assert dev is not None and dev.events is not None
            topology: dict[str, set[str]] = {}
            for edge in load_case(scenario).topology:
                topology.setdefault(edge[0], set()).add(edge[1])
            from integrations.github.events import ChainedEvents
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
            yield E2E(world, slack, sentry, wiring, background, http)
        await wiring.service.stop()
        wiring.store.close()


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_sentry_finding_to_a_draft_revert_pr_and_the_thread_follows_it(e2e: E2E) -> None:
    run = await e2e.background.runner.run("error_scan", trigger="manual")
    assert run is not None and run.outcome == "ok", run
    texts = e2e.thread_texts()
    assert any("Suspect commits in acme/orders" in t for t in texts), texts
    offer = next(c for c in e2e.slack.of("chat.postMessage")
                 if "Suspect commits" in str(c.args.get("text")))
    shown = json.dumps(offer.args["blocks"])
    assert e2e.world.repo.bad[:7] in shown and "Dave" in shown  # sha and author
    value, channel = e2e.button("dev_open_revert")
    # Someone outside the channel is refused, and the refusal is recorded.
    await e2e.click("dev_open_revert", value, user="U666", channel=channel)
    await until(lambda: any(a.action == "refused:open_pr" for a in e2e.audits()))
    assert e2e.world.fake.pulls[REPO] == []
    await e2e.click("dev_open_revert", value, user="U42", channel=channel)
    await until(lambda: any("Draft pull request opened" in t for t in e2e.thread_texts()))
    [pr] = e2e.world.fake.pulls[REPO]
    assert pr.draft and pr.head.startswith("nightowl/revert-") and pr.base == "main"
    assert pr.labels == ["nightowl", "revert"]
    assert pr.reviewers == ["carol"] and pr.team_reviewers == ["orders-team"]
    assert "@dave-gh" in pr.comments[0]["body"]
    for expected in ("KeyError", "orders/mapper.py:2 in to_dto", "sentry-42",
                     e2e.world.repo.bad[:10], "Risk and rollback", "slack.com/archives/"):
        assert expected in pr.body, expected
    actions = [a.action for a in e2e.audits()]
    assert "dev_click:revert" in actions and "pr_opened" in actions
    # The revert really reverts: the branch's mapper reads "id" again.
    assert e2e.world.fake.ref_sha(REPO, "main") == e2e.world.repo.head
    # The thread follows the pull request.
    e2e.world.fake.approve(REPO, pr.number, by="carol")
    await e2e.background.runner.run("pr_sync", trigger="manual")
    assert any("approved by carol" in t for t in e2e.thread_texts())
    e2e.world.fake.merge(REPO, pr.number)
    await e2e.background.runner.run("pr_sync", trigger="manual")
    assert any("was merged by a human" in t for t in e2e.thread_texts())
    # A second scan of the same issue opens nothing new.
    await e2e.background.runner.run("error_scan", trigger="manual")
    assert len(e2e.world.fake.pulls[REPO]) == 1


async def test_alertmanager_deploy_regression_to_a_draft_revert_pr(e2e: E2E) -> None:
    case = load_case(DEMO)
    payload = alertmanager_payload(case, status="firing", scenario="frontend-errors")
    response = await e2e.http.post("/webhooks/alertmanager", json=payload,
                                   headers={"Authorization": f"Bearer {HOOK}"})
    assert response.status_code == 202
    await until(lambda: any("Suspect commits" in str(c.args.get("text"))
                            for c in e2e.slack.of("chat.postMessage")), timeout=120)
    value, channel = e2e.button("dev_open_revert")
    await e2e.click("dev_open_revert", value, user="U42", channel=channel)
    await until(lambda: any("Draft pull request opened" in t for t in e2e.thread_texts()))
    [pr] = e2e.world.fake.pulls[REPO]
    assert pr.draft and "deploy regression" not in pr.title
    assert e2e.world.repo.bad[:10] in pr.body and "Chain of evidence" in pr.body
    assert "deploy" in pr.body.lower()


async def test_an_unconfigured_service_says_which_variable_to_set(e2e: E2E) -> None:
    e2e.sentry.issues[0]["project"]["slug"] = "billing"
    await e2e.background.runner.run("error_scan", trigger="manual")
    assert any("NIGHTOWL_REPOS" in t for t in e2e.thread_texts()), e2e.thread_texts()
    assert e2e.world.fake.pulls[REPO] == []
