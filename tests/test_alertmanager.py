"""A real Alertmanager (Debian package) notifies nightowl; the fake Slack shows the thread,
and the investigation's root-cause analysis arrives in it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.run import SCENARIOS
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.scenario import ScenarioSource, load_case
from storage.models import Alert, Incident
from storage.repository import Store
from tests.conftest import require_binary
from tests.fakes.process import free_port, ready_process
from tests.fakes.service import serving
from tests.fakes.slack import FakeSlack

TOKEN = "am-token"
SCENARIO = "frontend-latency"


def telemetry(incident: Incident, alerts: Sequence[Alert]) -> TelemetrySource:
    return ScenarioSource(SCENARIOS / alerts[0].labels["scenario"])


@pytest.fixture
async def nightowl(sqlite_store: Store, fake_slack: tuple[FakeSlack, str]
                   ) -> AsyncIterator[tuple[str, Service]]:
    _slack, url = fake_slack
    metrics = Metrics()
    surface = SlackSurface(AsyncWebClient(token="xoxb-t", base_url=f"{url}/api/"),
                           ChannelPacer(per_second=20, metrics=metrics))
    service = Service(store=sqlite_store, surface=surface, metrics=metrics,
                      router=Router({}, "#incidents"), telemetry_for=telemetry)
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN))
    async with serving(app) as base:
        yield base, service


@pytest.fixture
def alertmanager(tmp_path: Path, nightowl: tuple[str, Service]) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    base, _ = nightowl
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "route": {"receiver": "nightowl", "group_by": ["alertname", "service"],
                  "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "nightowl", "webhook_configs": [{
            "url": f"{base}/webhooks/alertmanager", "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}}}]}],
    }))
    command = [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
               "--log.level=warn"]
    with ready_process(command, f"http://127.0.0.1:{port}") as url:
        yield url


async def wait_for(condition: object, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.1)


async def test_real_alertmanager_to_rca_in_slack(alertmanager: str,
                                                 nightowl: tuple[str, Service],
                                                 fake_slack: tuple[FakeSlack, str]) -> None:
    slack, _ = fake_slack
    _, service = nightowl
    case = load_case(SCENARIOS / SCENARIO)
    starts = case.alert.fired_at
    alert = {"labels": {"alertname": case.alert.name, "service": case.alert.service,
                        "severity": "critical", "scenario": SCENARIO},
             "annotations": {"summary": case.alert.summary},
             "startsAt": starts.isoformat().replace("+00:00", "Z"),
             "generatorURL": "http://prometheus.example/graph"}
    async with httpx.AsyncClient(base_url=alertmanager) as am:
        assert (await am.post("/api/v2/alerts", json=[alert])).status_code == 200

        def root_posted() -> bool:
            return any(not c.args.get("thread_ts") for c in slack.of("chat.postMessage"))

        await wait_for(root_posted)
        (root,) = [c for c in slack.of("chat.postMessage") if not c.args.get("thread_ts")]
        assert case.alert.summary in root.args["blocks"][0]["text"]["text"]

        # The investigation's result lands in the thread: the cause, with its evidence.
        def diagnosed() -> bool:
            return any("Likely root cause" in json.dumps(c.args.get("blocks", []))
                       for c in slack.of("chat.update") + slack.of("chat.postMessage"))

        await wait_for(diagnosed)
        rca = [c for c in slack.of("chat.update") + slack.of("chat.postMessage")
               if "Likely root cause" in json.dumps(c.args.get("blocks", []))][-1]
        text = json.dumps(rca.args["blocks"])
        assert "`cart`" in text and "cpu" in text.lower() and "Evidence chain" in text

        # Resolving in Alertmanager edits the root message and says so in the thread.
        ended = datetime.now(UTC) - timedelta(seconds=1)
        resolved = alert | {"endsAt": ended.isoformat().replace("+00:00", "Z")}
        assert (await am.post("/api/v2/alerts", json=[resolved])).status_code == 200

        def resolved_shown() -> bool:
            return any("RESOLVED" in json.dumps(c.args.get("blocks", []))
                       for c in slack.of("chat.update"))

        await wait_for(resolved_shown)
    await service.idle()
    replies = [c.args["text"] for c in slack.of("chat.postMessage") if c.args.get("thread_ts")]
    assert any("every alert of this incident has cleared" in r for r in replies)
    roots = [c for c in slack.of("chat.postMessage") if not c.args.get("thread_ts")]
    assert len(roots) == 1  # one message per incident, however often Alertmanager repeats
