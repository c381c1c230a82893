"""An investigation whose step keeps failing ends, after its bounded attempts, with the reason
in the incident's thread: not retried forever, not "Investigating…" forever. The in-process
runner with the real dispatcher, outbox and Slack client against the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

import bot.dispatcher
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.pacing import ChannelPacer
from bot.slack.retry import retry_handlers
from bot.slack.surface import SlackSurface
from scheduler.inprocess import InProcessRunner
from storage.flows import FlowStore
from storage.models import Alert, Incident
from storage.repository import Store
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack
from tests.test_storage import alert

REASON = "Prometheus at http://prom:9090 refused the connection"


@pytest.fixture
async def failing(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
                  ) -> AsyncIterator[tuple[Service, FakeSlack, list[int]]]:
    monkeypatch.setattr(bot.dispatcher, "RETRY_BASE_S", 0.05)
    slack = FakeSlack(clock_ts=True)
    calls: list[int] = []
    with ServerThread(slack.app()) as server:
        slack.base_url = server.url
        metrics = Metrics()
        client = AsyncWebClient(token="xoxb-failing", base_url=f"{server.url}/api/",
                                retry_handlers=retry_handlers())

        def telemetry(incident: Incident, alerts: list[Alert]) -> Any:
            # The telemetry behind the investigate step is down for good.
            calls.append(1)
            raise ConnectionError(REASON)

        service = Service(store=sqlite_store, surface=SlackSurface(
                              client, ChannelPacer(per_second=100, metrics=metrics)),
                          metrics=metrics, router=Router({}, "#incidents"),
                          telemetry_for=telemetry)
        runner = service.runner
        assert isinstance(runner, InProcessRunner)
        runner.retry_base_s = 0.01  # the attempts' backoff, short: the bound is what counts
        yield service, slack, calls
        await service.stop()


def _shown(slack: FakeSlack, ts: str) -> str:
    """What the message `ts` shows now: its last edit, else its post."""
    edits = [c.args for c in slack.of("chat.update") if c.args.get("ts") == ts]
    posted = next(m for m in slack.replies() if m["ts"] == ts)
    return str((edits[-1] if edits else posted).get("text", "")) + " " + str(
        (edits[-1] if edits else {}).get("blocks", ""))


async def test_an_investigation_whose_telemetry_always_fails_ends_with_the_reason_in_the_thread(
        failing: tuple[Service, FakeSlack, list[int]]) -> None:
    service, slack, calls = failing
    await service.ingest([alert("f1")])
    await service.idle(30)
    attempts = service.investigations.flow().step("investigate").attempts
    assert len(calls) == attempts, "bounded: the step's attempts, then the flow ends"
    row = await service.store.latest_investigation(1)
    assert row is not None and row.status == "failed"
    assert f"ConnectionError: {REASON}" in (row.error or "")
    run = await FlowStore.beside(service.store).get("investigation", "incident-1-auto")
    assert run.status == "failed" and REASON in (run.error or "")
    # One investigation message in the thread, and it now says why, not "Investigating…".
    runs = [m for m in slack.replies()
            if (m.get("metadata") or {}).get("event_type") == "nightowl_investigation"]
    assert len(runs) == 1, [m["text"] for m in slack.replies()]
    shown = _shown(slack, runs[0]["ts"])
    assert "could not finish" in shown and REASON in shown, shown
    assert "Investigating" not in shown, shown
