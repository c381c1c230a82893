"""The secrets corpus (tests/secrets_corpus.py) through every sink: the redactor itself and
its cuts, intake, every Slack surface (root, edits, thread, investigation, App Home, the
slash command, the modal), model prompts, and logs. 100% must be masked everywhere."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from agents.sre.assist import brief
from agents.sre.report import Evidence, Hypothesis, InvestigationView, Report, RootCause
from bot.logs import RedactingFormatter
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from bot.web.app import build_http_app
from integrations import redaction
from integrations.alerts.auth import WebhookAuth
from integrations.llm.anthropic_provider import AnthropicProvider
from integrations.llm.base import Request
from integrations.llm.gateway import Gateway, user
from integrations.llm.prices import PriceTable
from integrations.redaction import SHAPES, clip, redact
from storage.ledger import Ledger
from storage.models import Incident
from storage.repository import Store
from tests.fakes.llm import FakeModelServer
from tests.fakes.server import ServerThread
from tests.fakes.signing import action_body, slack_headers
from tests.fakes.slack import FakeSlack
from tests.secrets_corpus import CORPUS

SECRET = "slack-signing-secret"
TOKEN = "hook-token"
CUSTOM = ("customer ACME-123456 called", "ACME-123456")


def leaks(text: str, corpus: list[tuple[str, str]] = CORPUS) -> list[str]:
    return [secret for _, secret in corpus if secret in text]


def test_the_corpus_covers_fifty_shapes() -> None:
    kinds = {kind for line, _ in CORPUS for kind in re.findall(r"REDACTED:([\w-]+)",
                                                                redact(line))}
    assert len(CORPUS) >= 50 and len(kinds) >= 50, sorted(kinds)
    assert len(SHAPES) >= 50


@pytest.mark.parametrize(("line", "secret"), CORPUS, ids=[s[:14] for _, s in CORPUS])
def test_each_shape_is_masked(line: str, secret: str) -> None:
    masked = redact(line)
    assert secret not in masked and "[REDACTED:" in masked, masked
    assert redact(masked) == masked  # masking twice changes nothing


def test_cutting_never_leaves_part_of_a_secret() -> None:
    for line, secret in CORPUS:
        pieces = {secret[i:i + 10] for i in range(0, max(1, len(secret) - 9))}
        for limit in range(10, len(line) + 1, 3):
            cut = clip(line, limit)
            assert len(cut) <= limit
            assert not [p for p in pieces if p in cut], (line, limit, cut)


def test_logs_are_masked_with_their_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.secrets")
    logger.addHandler(handler)
    try:
        for line, _ in CORPUS:
            logger.warning("remote said: %s", line)
            try:
                raise RuntimeError(line)
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().count("RuntimeError: ") == len(CORPUS)
    assert leaks(stream.getvalue()) == []


def test_the_model_brief_is_masked_before_it_is_cut() -> None:
    evidence = [Evidence(id=f"ev-{i}", query="q", finding="x" * (180 - len(line) // 2) + line)
                for i, (line, _) in enumerate(CORPUS)]
    hypotheses = [Hypothesis(id=f"h{i}", statement=f"{line} " * 3, kind="cpu",
                             service="checkout", status="supported", evidence=[f"ev-{i}"])
                  for i, (line, _) in enumerate(CORPUS)]
    text = brief(alert="HighLatency", hypotheses=hypotheses, evidence=evidence,
                 services_total=3)
    pieces = [secret[:12] for _, secret in CORPUS]
    assert [p for p in pieces if p in text] == []


async def test_model_prompts_are_masked(store: Store) -> None:
    server = FakeModelServer()
    with ServerThread(server.app()) as running:
        provider = AnthropicProvider(api_key="sk-ant-test", base_url=running.url,
                                     max_retries=0)
        gateway = Gateway(providers={"anthropic": provider}, ledger=Ledger.beside(store),
                          prices=PriceTable.load(),
                          tiers={"worker": ["anthropic:claude-sonnet-4-6"]})
        text = "\n".join(line for line, _ in CORPUS)
        await gateway.complete("worker", Request(system=f"Evidence:\n{text}",
                                                 messages=(user(text),)), agent="sre")
    assert leaks(json.dumps(server.requests, ensure_ascii=False)) == []


# ---- Slack ----------------------------------------------------------------------------------


@dataclass
class Rig:
    slack: FakeSlack
    http: httpx.AsyncClient
    service: Service
    surface: SlackSurface
    url: str

    async def signed(self, body: str, content_type: str) -> httpx.Response:
        headers = slack_headers(SECRET, body, content_type=content_type)
        return await self.http.post("/slack/events", content=body, headers=headers)

    def sent(self) -> str:
        return json.dumps([c.args for c in self.slack.calls], ensure_ascii=False)


@pytest.fixture
async def rig(sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> AsyncIterator[Rig]:
    slack, url = fake_slack
    slack.default_members = ["U1"]
    metrics = Metrics()
    client = AsyncWebClient(token="xoxb-test-token", base_url=f"{url}/api/")
    surface = SlackSurface(client, ChannelPacer(per_second=1000, metrics=metrics))
    service = Service(store=sqlite_store, surface=surface, metrics=metrics,
                      router=Router({}, "#incidents"))
    bolt = build_bolt_app(service, client=client, signing_secret=SECRET)
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN), bolt=bolt,
                         slack_signing_secret=SECRET, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as http:
        yield Rig(slack, http, service, surface, url)
    await service.stop()


async def _wait_for(slack: FakeSlack, method: str, count: int) -> None:
    for _ in range(200):
        if len(slack.of(method)) >= count:
            return
        await asyncio.sleep(0.02)


async def test_every_slack_surface_is_masked(rig: Rig) -> None:
    # Intake → root messages, their edits and thread replies; App Home and /nightowl list.
    for start in range(0, len(CORPUS), 25):
        batch = CORPUS[start:start + 25]
        alerts = [{"status": "firing", "labels": {"alertname": f"Leak{start + i}",
                                                  "service": "checkout"},
                   "annotations": {"summary": line, "description": line},
                   "startsAt": "2026-11-22T21:00:00Z", "fingerprint": f"fp{start + i}"}
                  for i, (line, _) in enumerate(batch)]
        response = await rig.http.post("/webhooks/alertmanager", headers={
            "Authorization": f"Bearer {TOKEN}"}, json={"version": "4", "status": "firing",
                                                       "groupKey": f"g{start}",
                                                       "alerts": alerts})
        assert response.status_code == 202
        await rig.service.idle()
        event = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                 "event_id": f"EvHome{start}", "event_time": 1,
                 "event": {"type": "app_home_opened", "user": "U1", "channel": "D1"}}
        await rig.signed(json.dumps(event), "application/json")
        await _wait_for(rig.slack, "views.publish", start // 25 + 1)
        command = urlencode({"command": "/nightowl", "text": "", "user_id": "U1",
                             "team_id": "T1", "channel_id": "C1", "trigger_id": "t",
                             "response_url": f"{rig.url}/api/respond"})
        await rig.signed(command, "application/x-www-form-urlencoded")
        await _wait_for(rig.slack, "respond", start // 25 + 1)
        for incident in await rig.service.store.open_incidents():
            await rig.service.resolve(incident.id or 0, "U1")
        await rig.service.idle()
    assert rig.slack.of("views.publish") and rig.slack.of("respond")

    # The surface itself, given unmasked text (what an agent or a note could hand it).
    incident = Incident(id=999, title=" ".join(line for line, _ in CORPUS[:5]),
                        service="checkout", channel="#incidents", source="generic",
                        group_key="x", severity="high")
    ref = await rig.surface.show_incident(incident, [])
    incident.slack_channel, incident.slack_ts = ref.channel, ref.ts
    everything = "\n".join(line for line, _ in CORPUS)
    await rig.surface.reply(incident, everything)
    await rig.surface.reply(incident, everything, blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": line}} for line, _ in CORPUS])
    evidence = [Evidence(id=f"ev-{i}", query=line, finding=line, service="checkout",
                         link="https://grafana.example/x")
                for i, (line, _) in enumerate(CORPUS)]
    report = Report(summary=everything, evidence=evidence, next_steps=[everything[:2000]],
                    root_causes=[RootCause(service="checkout", kind="cpu", confidence=0.9,
                                           summary=everything[:400],
                                           evidence=[e.id for e in evidence[:8]])])
    await rig.surface.show_investigation(incident, InvestigationView(
        investigation_id=1, report=report), message=None)
    await rig.surface.post("#ops", everything, [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": everything[:2900]}]}])

    # The modal: the services to pick from come from a stored investigation's result.
    row = await rig.service.store.start_investigation(1, "auto")
    row.status, row.result = "done", {"root_causes": [{"service": line} for line, _ in CORPUS]}
    await rig.service.store.save_investigation(row)
    await rig.signed(action_body("feedback_wrong_cause", str(row.id), user="U1",
                                 response_url=f"{rig.url}/api/respond"),
                     "application/x-www-form-urlencoded")
    await _wait_for(rig.slack, "views.open", 1)
    assert rig.slack.of("views.open")
    assert leaks(rig.sent()) == []


@pytest.fixture
def custom_pattern() -> Iterator[None]:
    redaction.configure(extra=[r"ACME-\d{6}"])
    yield
    redaction.configure()


@pytest.mark.usefixtures("custom_pattern")
async def test_custom_patterns_reach_every_sink(rig: Rig, store: Store) -> None:
    line, secret = CUSTOM
    assert secret not in redact(line) and secret not in clip(line, 16)
    await rig.surface.post("#ops", line, [
        {"type": "section", "text": {"type": "mrkdwn", "text": line}}])
    assert secret not in rig.sent() and "[REDACTED:custom-1]" in rig.sent()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s"))
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, line, None, None))
    assert secret not in stream.getvalue()
    server = FakeModelServer()
    with ServerThread(server.app()) as running:
        gateway = Gateway(providers={"anthropic": AnthropicProvider(
            api_key="sk-ant-test", base_url=running.url, max_retries=0)},
            ledger=Ledger.beside(store), prices=PriceTable.load(),
            tiers={"worker": ["anthropic:claude-sonnet-4-6"]})
        await gateway.complete("worker", Request(system="s", messages=(user(line),)),
                               agent="sre")
    assert secret not in json.dumps(server.requests)
