"""An investigation whose step keeps failing ends, after its bounded attempts, with the reason
in the incident's thread: not retried forever, not "Investigating…" forever. The in-process
runner with the real dispatcher, outbox and Slack client against the fake Slack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
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
from tests.temporal_support import dev_server
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


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dev_server(log=tmp_path_factory.mktemp("temporal") / "server.log") as address:
        yield address


async def test_an_investigation_whose_telemetry_always_fails_ends_with_the_reason_in_the_thread(
        failing: tuple[Service, FakeSlack, list[int]]) -> None:
    service, slack, calls = failing
    await service.ingest([alert("f1")])
    await service.idle(30)
    await _ends_with_the_reason(service, slack, calls)


async def test_on_temporal_it_ends_the_same_way_after_the_same_bounded_attempts(
        failing: tuple[Service, FakeSlack, list[int]], temporal: str) -> None:
    from temporalio.client import WorkflowFailureError
    from temporalio.worker import Worker

    from scheduler.flows import workflow_id
    from scheduler.temporal.activities import StepActivities
    from scheduler.temporal.runner import TemporalRunner, connect
    from scheduler.temporal.types import Timeouts
    from scheduler.temporal.workflow import FlowWorkflow

    service, slack, calls = failing
    client = await connect(temporal, "default")
    runner = TemporalRunner(client, flows=service.flows,
                            store=FlowStore.beside(service.store), task_queue="q-inv-failing",
                            timeouts=Timeouts(retry_initial_s=0.1, retry_max_interval_s=0.5))
    service.use_runner(runner)
    async with Worker(client, task_queue="q-inv-failing", workflows=[FlowWorkflow],
                      activities=[StepActivities(service.flows).run_step]):
        await service.ingest([alert("f1")])
        await service.idle(30)  # the root posted, which starts the flow on Temporal
        handle = client.get_workflow_handle(workflow_id(
            "investigation", "incident-1-auto", queue="q-inv-failing",
            installation=await runner.store.installation_id()))
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 60)
    await service.idle(30)
    await _ends_with_the_reason(service, slack, calls, run_status="started")


async def _ends_with_the_reason(service: Service, slack: FakeSlack, calls: list[int], *,
                                run_status: str = "failed") -> None:
    attempts = service.investigations.flow().step("investigate").attempts
    assert len(calls) == attempts, "bounded: the step's attempts, then the flow ends"
    row = await service.store.latest_investigation(1)
    assert row is not None and row.status == "failed"
    assert f"ConnectionError: {REASON}" in (row.error or "")
    run = await FlowStore.beside(service.store).get("investigation", "incident-1-auto")
    assert run.status == run_status  # on Temporal, Temporal keeps the run's outcome
    if run_status == "failed":
        assert REASON in (run.error or "")
    # One investigation message in the thread, and it now says why, not "Investigating…".
    runs = [m for m in slack.replies()
            if (m.get("metadata") or {}).get("event_type") == "nightowl_investigation"]
    assert len(runs) == 1, [m["text"] for m in slack.replies()]
    shown = _shown(slack, runs[0]["ts"])
    assert "could not finish" in shown and REASON in shown, shown
    assert "Investigating" not in shown, shown
