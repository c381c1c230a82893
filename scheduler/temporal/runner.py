"""`TemporalRunner`: starts flows as Temporal workflows and signals their approvals.

Every start is written to the `flowrun` table first (`pending`), then submitted with the
workflow id `nightowl/<queue>/<installation>/<flow>/<key>`: Temporal refuses a second
workflow with that id, so a start repeated by two replicas or a retried webhook runs once.
When Temporal does not answer the row stays `pending` and `drain` (a loop in `nightowl
serve`) submits it when Temporal is back: nothing a webhook accepted is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from scheduler.errors import TemporalUnavailable
from scheduler.flows import Approval, Flow, Flows, State, workflow_id
from scheduler.temporal.schedules import schedule_spec
from scheduler.temporal.types import (
    SIGNAL,
    WORKFLOW,
    Approve,
    FlowInput,
    PlannedStep,
    Timeouts,
)
from storage.flows import FlowStore
from storage.models import FlowRun

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# A start Temporal does not answer within this stays pending (drained later) instead of
# holding up the thread that started it.
RPC_TIMEOUT = timedelta(seconds=5)
DRAIN_EVERY_S = 2.0
JOB_FLOW = "job"  # the flow a Temporal Schedule starts: one step that runs a background job
# What a call raises when Temporal does not answer: an RPC status (unavailable, deadline), or
# the SDK's "Failed client connect" when the connection was never made (a lazy client).
UNREACHABLE = (RPCError, RuntimeError)


async def connect(address: str, namespace: str, *,
                  timeout_s: float = CONNECT_TIMEOUT_S) -> Client:
    """A client, or TemporalUnavailable naming TEMPORAL_ADDRESS (no traceback for the operator)."""
    try:
        # A plain TCP connection first: nothing listening is the common mistake, and the
        # SDK's native runtime is then never started (a process exiting right after a failed
        # native connect could crash in the interpreter's shutdown).
        host, _, port = address.rpartition(":")
        _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)),
                                           timeout=timeout_s)
        writer.close()
        return await asyncio.wait_for(Client.connect(address, namespace=namespace),
                                      timeout=timeout_s)
    except (RPCError, RuntimeError, OSError, TimeoutError, ValueError) as exc:
        text = str(exc)
        first = ("connection refused" if isinstance(exc, ConnectionRefusedError)
                 or "refused" in text.lower() else
                 (text.strip().splitlines() or [type(exc).__name__])[0][:160])
        raise TemporalUnavailable(
            f"Temporal is not reachable at TEMPORAL_ADDRESS={address} (namespace "
            f"{namespace}): {first or 'timed out'}. Start it, fix TEMPORAL_ADDRESS, or unset "
            "TEMPORAL_ADDRESS to run everything in this process.") from None


def plan_of(flow: Flow) -> list[PlannedStep]:
    return [PlannedStep(s.name, "approval", s.timeout.total_seconds())
            if isinstance(s, Approval) else
            PlannedStep(s.name, "step", s.timeout.total_seconds(), s.attempts)
            for s in flow.steps]


class TemporalRunner:
    remote = True

    def __init__(self, client: Client, *, flows: Flows, store: FlowStore, task_queue: str,
                 timeouts: Timeouts | None = None) -> None:
        self.client = client
        self.flows = flows
        self.store = store
        self.task_queue = task_queue
        self.timeouts = timeouts or Timeouts()
        self._drainer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._installation: str | None = None

    async def _id(self, flow: str, key: str) -> str:
        if self._installation is None:
            self._installation = await self.store.installation_id()
        return workflow_id(flow, key, queue=self.task_queue, installation=self._installation)

    async def start(self, flow: str, key: str, state: State) -> None:
        self.flows[flow]
        run, _ = await self.store.claim(flow, key, state=state, status="pending")
        if run.status != "pending":
            return  # Temporal has it already
        try:
            await self._submit(run)
        except UNREACHABLE as exc:
            log.warning("flow %s/%s: Temporal did not take it (%s); kept, and submitted when "
                        "Temporal answers again", flow, key, exc)
            self._wake.set()

    async def _submit(self, run: FlowRun) -> None:
        assert run.id is not None
        flow = self.flows[run.flow]
        # Already started (or finished) under this id: it ran or runs, exactly once.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                WORKFLOW, FlowInput(run.flow, run.key, dict(run.state), plan_of(flow),
                                    has_failure_handler=flow.on_failure is not None,
                                    timeouts=self.timeouts),
                id=await self._id(run.flow, run.key),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=RPC_TIMEOUT)
        await self.store.mark([run.id], "started")

    async def signal(self, flow: str, key: str, name: str, payload: State) -> None:
        run = await self.store.get(flow, key)
        if run.status == "pending":
            await self._submit(run)
        handle = self.client.get_workflow_handle(await self._id(flow, key))
        await handle.signal(SIGNAL, Approve(name, payload), rpc_timeout=RPC_TIMEOUT)

    async def drain(self) -> int:
        """Submit every start Temporal has not accepted yet; the number submitted."""
        submitted = 0
        for run in await self.store.with_status("pending"):
            await self._submit(run)
            submitted += 1
        return submitted

    async def recover(self) -> int:
        count = 0
        try:
            count = await self.drain()
        except UNREACHABLE as exc:
            log.warning("Temporal is not answering (%s); pending flows are submitted when it "
                        "does", exc)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain_loop(), name="temporal-drain")
        return count

    async def _drain_loop(self) -> None:
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DRAIN_EVERY_S)
            self._wake.clear()
            try:
                submitted = await self.drain()
            except asyncio.CancelledError:
                raise
            except UNREACHABLE as exc:
                if not failing:
                    log.warning("Temporal is not answering (%s); will keep trying", exc)
                failing = True
                continue
            except Exception:
                log.exception("submitting pending flows failed; will keep trying")
                continue
            if failing or submitted:
                log.info("Temporal answers again: submitted %d pending flow(s)", submitted)
            failing = False

    async def close(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
            self._drainer = None

    # ---- schedules -------------------------------------------------------------------------

    async def ensure_schedules(self, schedules: Mapping[str, str], *,
                               timezone: str = "UTC") -> None:
        """One Temporal Schedule per background job (`name` → `every 5m` / a crontab): the
        server fires each exactly once per tick whatever number of replicas run, so no
        leader lock is needed. An existing schedule is updated to the configured spec."""
        for name, text in schedules.items():
            spec = schedule_spec(text, timezone=timezone)
            ident = f"nightowl-{self.task_queue}-job-{name}"
            if spec is None:
                with contextlib.suppress(RPCError):
                    await self.client.get_schedule_handle(ident).delete()
                continue
            schedule = self._schedule(name, spec, await self._id(JOB_FLOW, name))
            try:
                await self.client.create_schedule(ident, schedule)
                log.info("Temporal schedule %s created (%s)", ident, text)
            except ScheduleAlreadyRunningError:
                def update(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                    return ScheduleUpdate(schedule=new)

                await self.client.get_schedule_handle(ident).update(update)

    def _schedule(self, job: str, spec: ScheduleSpec, ident: str) -> Schedule:
        flow = self.flows[JOB_FLOW]
        return Schedule(
            action=ScheduleActionStartWorkflow(
                WORKFLOW, FlowInput(JOB_FLOW, job, {"job": job}, plan_of(flow),
                                    has_failure_handler=flow.on_failure is not None,
                                    timeouts=self.timeouts),
                id=ident, task_queue=self.task_queue,
                execution_timeout=timedelta(hours=6)),
            spec=spec,
            # A run still going when the next tick comes: the tick is skipped.
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP,
                                  catchup_window=timedelta(hours=1)))
