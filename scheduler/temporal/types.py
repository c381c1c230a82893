"""What crosses Temporal's wire: plain dataclasses the default data converter serialises.
Kept free of nightowl's imports so the workflow sandbox loads it cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW = "nightowl.flow"
ACTIVITY = "nightowl.step"
SIGNAL = "approve"
FAILURE_STEP = "on_failure"  # the activity name of a flow's failure handler


@dataclass
class PlannedStep:
    """One entry of a flow's plan: a step (an activity) or an approval (a signal)."""

    name: str
    kind: str  # step | approval
    timeout_s: float
    attempts: int = 1


@dataclass
class Timeouts:
    """The activity timeouts every step gets (docs/scaling-out.md explains each)."""

    # A worker that stops heartbeating for this long is presumed dead: its step is retried
    # on another worker. Kill-and-resume takes about this long plus the step itself.
    heartbeat_s: float = 10.0
    # First retry delay, doubled per attempt up to `max_interval_s`.
    retry_initial_s: float = 1.0
    retry_max_interval_s: float = 30.0


@dataclass
class FlowInput:
    flow: str
    key: str
    state: dict[str, Any]
    plan: list[PlannedStep]
    has_failure_handler: bool = False
    timeouts: Timeouts = field(default_factory=lambda: Timeouts())


@dataclass
class StepCall:
    flow: str
    key: str
    step: str
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Approve:
    name: str
    payload: dict[str, Any] = field(default_factory=dict)
