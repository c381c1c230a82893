"""The flows besides the investigation (bot/investigations.py), built from the services
whose steps they run, and registered on the service's `Flows` (serve and every worker build
the same set):

- `fix_pr`: wait for a person's click on an offered remediation (an approval), then open the
  draft pull request (`DevFlow.confirm`, which finds an existing PR by branch and marker);
- `security_triage`: a security case's collect → triage → finish steps;
- `containment`: a proposed containment action waits for a person's Approve, then runs once;
- `job`: one background job run (what a Temporal Schedule starts; in-process, APScheduler
  calls the same `JobRunner`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from scheduler.flows import Approval, Flow, Flows, State, Step, StepFailed

if TYPE_CHECKING:
    from bot.dev import DevService
    from bot.security.service import SecurityService
    from scheduler.runner import JobRunner

FIX_PR = "fix_pr"
OPEN_PR = "open_pr"  # the approval: a person clicked "open a pull request"
SECURITY_TRIAGE = "security_triage"
CONTAINMENT = "containment"  # a proposed containment action: approved, then executed
APPROVE = "approve"  # the approval: a person pressed Approve on the action
JOB = "job"


def fix_pr_key(proposal_id: int) -> str:
    return f"proposal-{proposal_id}"


def fix_pr_flow(dev: DevService) -> Flow:
    async def open_pr(state: State) -> State:
        proposal_id = int(state["proposal_id"])
        # Its reply keyed by this run and step: an attempt retried after the reply landed
        # finds it (by its message metadata) instead of posting a second line.
        opened = await dev.flow.confirm(proposal_id, str(state["action"]),
                                        user=str(state.get("user") or "nightowl"),
                                        say_key=f"{FIX_PR}/{fix_pr_key(proposal_id)}/{OPEN_PR}")
        return {"outcome": opened.outcome, "number": opened.number, "url": opened.url,
                "reason": opened.reason}

    return Flow(FIX_PR, (Approval(OPEN_PR, timeout=timedelta(days=14)),
                         Step(OPEN_PR, open_pr, timeout=timedelta(minutes=15))))


def security_flow(security: SecurityService) -> Flow:
    def step(expected: str) -> Callable[[State], Awaitable[State]]:
        async def run(state: State) -> State:
            # A case records its own step: a step run again after it advanced does nothing.
            await security.run_step(int(state["case_id"]), expected)
            return {}
        return run

    return Flow(SECURITY_TRIAGE, (Step("collect", step("received")),
                                  Step("triage", step("collected")),
                                  Step("finish", step("triaged"))))


def containment_flow(security: SecurityService) -> Flow:
    async def contain(state: State) -> State:
        await security.contain(int(state["case_id"]), int(state["index"]))
        return {}

    # One attempt: an action integration that failed halfway is reported, not run again
    # (the same rule as before flows: "Nothing else was tried").
    return Flow(CONTAINMENT, (Approval(APPROVE, timeout=timedelta(days=14)),
                              Step("contain", contain, attempts=1)))


def containment_key(case_id: int, index: int) -> str:
    return f"case-{case_id}-action-{index}"


def job_flow(runner: JobRunner) -> Flow:
    async def run(state: State) -> State:
        name = str(state["job"])
        if name not in runner.jobs:
            raise StepFailed(f"no job named {name!r} is configured in this worker")
        # The job's own lock and run history still apply (a `nightowl jobs run` at the same
        # time is skipped); its failures are reported by JobRunner, not retried here.
        result = await runner.run(name, trigger="schedule")
        return {"outcome": result.outcome if result is not None else "skipped"}

    return Flow(JOB, (Step("run", run, timeout=timedelta(hours=2), attempts=1),))


def register(flows: Flows, *, dev: DevService | None, security: SecurityService | None) -> None:
    if dev is not None:
        flows.add(fix_pr_flow(dev))
    if security is not None:
        flows.add(security_flow(security))
        flows.add(containment_flow(security))
