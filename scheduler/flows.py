"""The execution seam: a flow is a named sequence of steps; a runner executes flows.

A step is a plain async function of the agents and integrations: it receives the flow's
state (JSON: the start input, what earlier steps returned, approvals' payloads) and returns
what to add to it. Steps are idempotent or keyed, because both runners may run a step again:
the in-process runner after a restart cut it off, Temporal after a worker died mid-step.
An `Approval` waits for a person (a signal); its payload joins the state.

    Flow("investigation", (Step("open", ...), Step("investigate", ...), Step("show", ...)))

Runners (the same flows, the same step functions):
- `scheduler.inprocess.InProcessRunner`: asyncio tasks in this process, progress in the
  `flowrun` table, resumed on start (one replica, `make demo`);
- `scheduler.temporal.runner.TemporalRunner`: a Temporal workflow per run, each step an
  activity executed by any `nightowl worker`, approvals signals, waits durable timers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from scheduler.errors import SchedulerError

State = dict[str, Any]
StepFn = Callable[[State], Awaitable[State | None]]

# A step that returns {STOP: True} ends its flow there (nothing left to do: a resolved
# incident, an offer with no pull request to open).
STOP = "stop"
# The state keys a failure handler receives.
FAILED_STEP, FAILED_REASON = "failed_step", "error"


class StepFailed(SchedulerError):
    """A step failed in a way another attempt cannot fix (bad input, a refusal): the flow ends
    at once with this reason instead of being retried."""


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: StepFn
    # One attempt's limit, and how many attempts before the flow ends with the reason. The
    # bound keeps a step that always fails from being retried forever.
    timeout: timedelta = timedelta(minutes=10)
    attempts: int = 4


@dataclass(frozen=True, slots=True)
class Approval:
    """Wait for the signal `name` (a person's click) for at most `timeout`; its payload is
    merged into the state. On timeout the flow ends with {"timed_out": name} in its state."""

    name: str
    timeout: timedelta = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    steps: tuple[Step | Approval, ...]
    # Called once with {FAILED_STEP, FAILED_REASON} added to the state when a step has used
    # its attempts: says so where people look (the thread). Must itself be idempotent.
    on_failure: StepFn | None = None

    def step(self, name: str) -> Step:
        for step in self.steps:
            if isinstance(step, Step) and step.name == name:
                return step
        raise KeyError(f"flow {self.name} has no step {name!r}")


class Flows:
    """The flows a process knows, by name (serve and every worker build the same set)."""

    def __init__(self, flows: Mapping[str, Flow] | None = None) -> None:
        self._flows: dict[str, Flow] = dict(flows or {})

    def add(self, flow: Flow) -> None:
        if flow.name in self._flows:
            raise ValueError(f"flow {flow.name} is registered twice")
        self._flows[flow.name] = flow

    def __getitem__(self, name: str) -> Flow:
        try:
            return self._flows[name]
        except KeyError:
            raise KeyError(f"no flow named {name!r}; known: {', '.join(self._flows)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._flows

    def names(self) -> list[str]:
        return sorted(self._flows)


class Runner(Protocol):
    """Where flows run. `start` is idempotent on (flow, key): starting the same work twice
    (two clicks, a retried webhook, two replicas) runs it once."""

    # True when the work runs in other processes (Temporal workers): the caller then must
    # not resume anything itself on start.
    remote: bool

    async def start(self, flow: str, key: str, state: State) -> None: ...

    async def signal(self, flow: str, key: str, name: str, payload: State) -> None:
        """Deliver a person's approval to the run of (flow, key)."""
        ...

    async def recover(self) -> int:
        """On start: resume (in-process) or submit (Temporal) what a previous process left."""
        ...

    async def close(self) -> None: ...


def workflow_id(flow: str, key: str, *, queue: str, installation: str) -> str:
    """Temporal's id for the run of (flow, key) of the installation whose task queue is
    `queue` and whose database is `installation` (its random id, storage/flows.py): two
    installations sharing a namespace never take each other's runs for their own, and a fresh
    database on the same queue (incident 1 again) is not refused as a duplicate of the old
    database's incident 1."""
    return f"nightowl/{queue}/{installation}/{flow}/{key}"
