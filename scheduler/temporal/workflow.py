"""The one workflow: runs a flow's plan, step by step, as activities.

Workflow code is replayed, so it must be deterministic: no I/O, no clock but Temporal's, no
nightowl imports beyond the wire types (passed through the sandbox). Every decision that
touches the world happens in the `nightowl.step` activity (scheduler/temporal/activities.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from scheduler.temporal.types import (
        ACTIVITY,
        FAILURE_STEP,
        SIGNAL,
        WORKFLOW,
        Approve,
        FlowInput,
        StepCall,
    )

STOP = "stop"  # scheduler.flows.STOP, repeated here to keep the sandbox's imports light
NON_RETRYABLE = ["StepFailed"]


@workflow.defn(name=WORKFLOW)
class FlowWorkflow:
    def __init__(self) -> None:
        self._approvals: dict[str, dict[str, Any]] = {}

    @workflow.signal(name=SIGNAL)
    def approve(self, approval: Approve) -> None:
        # Kept even before the flow reaches the approval: a click is never lost.
        self._approvals.setdefault(approval.name, approval.payload)

    @workflow.run
    async def run(self, job: FlowInput) -> dict[str, Any]:
        state = dict(job.state)
        t = job.timeouts
        for planned in job.plan:
            if planned.kind == "approval":
                try:
                    await workflow.wait_condition(
                        lambda name=planned.name: name in self._approvals,  # type: ignore[misc]
                        timeout=timedelta(seconds=planned.timeout_s))
                except TimeoutError:
                    state["timed_out"] = planned.name
                    return state
                state.update(self._approvals[planned.name])
                continue
            try:
                out = await workflow.execute_activity(
                    ACTIVITY, StepCall(job.flow, job.key, planned.name, state),
                    result_type=dict,
                    start_to_close_timeout=timedelta(seconds=planned.timeout_s),
                    heartbeat_timeout=timedelta(seconds=t.heartbeat_s),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=t.retry_initial_s),
                        maximum_interval=timedelta(seconds=t.retry_max_interval_s),
                        maximum_attempts=planned.attempts,
                        non_retryable_error_types=NON_RETRYABLE))
            except ActivityError as exc:
                reason = _reason(exc)
                if job.has_failure_handler:
                    await workflow.execute_activity(
                        ACTIVITY, StepCall(job.flow, job.key, FAILURE_STEP, {
                            **state, "failed_step": planned.name, "error": reason}),
                        result_type=dict, start_to_close_timeout=timedelta(minutes=2),
                        heartbeat_timeout=timedelta(seconds=t.heartbeat_s),
                        retry_policy=RetryPolicy(maximum_attempts=5,
                                                 maximum_interval=timedelta(seconds=30)))
                raise ApplicationError(f"step {planned.name} failed: {reason}",
                                       non_retryable=True) from exc
            state.update(out or {})
            if state.get(STOP):
                break
        return state


def _reason(exc: ActivityError) -> str:
    cause: BaseException | None = exc.cause
    while isinstance(cause, ActivityError | ApplicationError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type and cause.type not in NON_RETRYABLE:
        # As the in-process runner says it: the exception's type, then its message.
        return f"{cause.type}: {cause.message}"[:1000]
    return str(cause or exc)[:1000]

