"""The in-process runner on a real database: progress survives a restart (a new runner over
the same rows resumes at the step that was cut off), retries are bounded and end with the
reason, approvals wait in the database, and starting the same work twice runs it once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from scheduler.flows import (
    FAILED_REASON,
    FAILED_STEP,
    STOP,
    Approval,
    Flow,
    Flows,
    State,
    Step,
    StepFailed,
)
from scheduler.inprocess import InProcessRunner
from storage.flows import FlowStore
from storage.repository import Store
from tests.fakes.slack import FakeSlack


class Recorder:
    """Step functions that count their calls; `gate` holds the second step until set."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.gate = asyncio.Event()
        self.failures: list[State] = []

    def flow(self) -> Flow:
        async def first(state: State) -> State:
            self.calls["first"] += 1
            return {"a": state["n"] + 1}

        async def second(state: State) -> State:
            self.calls["second"] += 1
            await self.gate.wait()
            return {"b": state["a"] * 10}

        async def third(state: State) -> State:
            self.calls["third"] += 1
            return {"c": state["b"] + state.get("extra", 0)}

        async def failed(state: State) -> State:
            self.failures.append(state)
            return {}

        return Flow("demo", (Step("first", first), Step("second", second),
                             Approval("go", timeout=timedelta(days=1)), Step("third", third)),
                    on_failure=failed)


def runner(store: Store, recorder: Recorder) -> InProcessRunner:
    return InProcessRunner(Flows({"demo": recorder.flow()}), FlowStore.beside(store),
                           retry_base_s=0.01)


async def test_a_restart_resumes_at_the_cut_off_step_and_an_approval_continues_it(
        store: Store) -> None:
    rec = Recorder()
    first = runner(store, rec)
    await first.start("demo", "k1", {"n": 1})
    await first.start("demo", "k1", {"n": 1})  # the same work twice: one run
    while rec.calls["second"] == 0:
        await asyncio.sleep(0.01)
    await first.close()  # the process dies inside `second`
    run = await FlowStore.beside(store).get("demo", "k1")
    assert (run.status, run.step, run.state["a"]) == ("running", 1, 2)

    rec.gate.set()
    second = runner(store, rec)
    assert await second.recover() == 1
    await second.idle(10)
    run = await FlowStore.beside(store).get("demo", "k1")
    assert run.status == "waiting" and run.state["b"] == 20
    assert rec.calls == Counter(first=1, second=2)  # the cut-off step ran again, nothing else

    await second.signal("demo", "k1", "go", {"extra": 5})
    await second.idle(10)
    run = await FlowStore.beside(store).get("demo", "k1")
    assert run.status == "done" and run.state["c"] == 25
    assert rec.calls["third"] == 1


async def test_an_approval_given_before_the_flow_waits_is_kept(store: Store) -> None:
    rec = Recorder()
    r = runner(store, rec)
    await r.start("demo", "early", {"n": 0})
    await r.signal("demo", "early", "go", {"extra": 1})  # clicked while `second` runs
    rec.gate.set()
    await r.idle(10)
    run = await FlowStore.beside(store).get("demo", "early")
    assert run.status == "done" and run.state["c"] == 11


async def test_a_step_that_keeps_failing_ends_the_flow_with_its_reason_once(
        sqlite_store: Store) -> None:
    calls = Counter[str]()
    reported: list[State] = []

    async def broken(state: State) -> State:
        calls["broken"] += 1
        raise ConnectionError("telemetry at http://prom:9090 refused the connection")

    async def refused(state: State) -> State:
        calls["refused"] += 1
        raise StepFailed("no repository is configured for orders")

    async def report(state: State) -> State:
        reported.append(state)
        return {}

    flows = Flows({"broken": Flow("broken", (Step("query", broken, attempts=3),),
                                  on_failure=report),
                   "refused": Flow("refused", (Step("open", refused, attempts=5),),
                                   on_failure=report)})
    r = InProcessRunner(flows, FlowStore.beside(sqlite_store), retry_base_s=0.01)
    await r.start("broken", "k", {"incident_id": 7})
    await r.start("refused", "k", {})
    await r.idle(10)
    assert calls == Counter(broken=3, refused=1)  # bounded; a refusal is not retried
    assert sorted((s[FAILED_STEP], s[FAILED_REASON]) for s in reported) == [
        ("open", "no repository is configured for orders"),
        ("query", "ConnectionError: telemetry at http://prom:9090 refused the connection")]
    run = await FlowStore.beside(sqlite_store).get("broken", "k")
    assert run.status == "failed" and "refused the connection" in (run.error or "")


async def test_a_step_can_end_its_flow_early(sqlite_store: Store) -> None:
    async def nothing(state: State) -> State:
        return {STOP: True}

    async def never(state: State) -> State:
        raise AssertionError("a stopped flow runs no further step")

    r = InProcessRunner(Flows({"f": Flow("f", (Step("a", nothing), Step("b", never)))}),
                        FlowStore.beside(sqlite_store))
    await r.start("f", "k", {})
    await r.idle(10)
    assert (await FlowStore.beside(sqlite_store).get("f", "k")).status == "done"


async def test_a_containment_waits_for_its_approval_then_runs_once(
        sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    """The security case layer on the service's (in-process) runner, as bot/wiring.py wires
    it: each proposed action waits in a flow; Approve signals it; two clicks run it once."""
    from bot.flows import CONTAINMENT, containment_key, register
    from tests.security_cases import (
        KEY,
        RecordingExecutor,
        attack_story,
        slack_service,
        stop_logging_signal,
    )

    _, url = fake_slack
    executor = RecordingExecutor()
    service, security, _ = slack_service(sqlite_store, url, executors=[executor])
    register(service.flows, dev=None, security=security)
    security.runner = lambda: service.runner
    case_id, _ = await security.receive(stop_logging_signal(attack_story()))
    await security.idle()
    case = await security.store.case(case_id)
    index = next(i for i, a in enumerate(case.triage["proposed_actions"])
                 if a["action"] == "disable access key")
    flows = FlowStore.beside(sqlite_store)
    assert (await flows.get(CONTAINMENT, containment_key(case_id, index))).status == "waiting"
    assert executor.calls == []  # triaged: nothing runs before a person approves
    await security.approve(case_id, index, "U2")
    await security.approve(case_id, index, "U3")  # a second click runs nothing twice
    await security.idle()
    assert executor.calls == [("disable access key", KEY)]
    [row] = [a for a in await security.store.approvals(case_id) if a.action_index == index]
    assert row.outcome == "executed" and row.approved_by == "U2"
    assert (await flows.get(CONTAINMENT, containment_key(case_id, index))).status == "done"
    await service.stop()
