"""The state of one investigation, shared by the catalogue, the search and the model's lab."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agents.sre.candidates import Candidate
from agents.sre.context import AlertContext
from agents.sre.report import Hypothesis, Progress
from agents.sre.rules import Link, Refutation, Role, Rule, Thresholds, Timing, judge
from agents.sre.rules.link import Cause
from agents.sre.toolbox import Toolbox
from agents.sre.traces import SpanVerdict
from agents.sre.verdicts import FamilyVerdict
from integrations.telemetry.base import ChangeEvent

ProgressHook = Callable[[Progress], Awaitable[None]]

# The families an alert of each signal is about, in order of preference.
SYMPTOM_FAMILIES: dict[str, tuple[str, ...]] = {
    "latency": ("latency",),
    "errors": ("errors", "availability"),
    "availability": ("availability", "errors"),
    "saturation": ("other", "cpu", "memory", "disk", "network_delay", "network_loss"),
    "throughput": ("throughput",),
    "other": ("latency", "errors", "availability", "other", "throughput", "cpu", "memory"),
}
# Degradation that propagates from a callee to its callers.
DEGRADATION = ("latency", "errors", "availability")
RESOURCE_KINDS = ("cpu", "memory", "disk", "network_delay", "network_loss", "payload")
CHANGE_KINDS = {"deploy": "deploy", "config": "config"}
# The kernel killing a container for its memory (Kubernetes' `OOMKilled`), as a restart or
# Kubernetes event says it: memory exhaustion at that service, as plain as a deploy is a change.
_OOM_KILL = re.compile(r"\boom[ _-]?kill|\bout of memory\b", re.IGNORECASE)


def event_cause(event: ChangeEvent) -> str | None:
    """The cause kind an event is evidence of: its change (deploy, config), memory for an OOM
    kill, else None (a scale-out or a routine restart explains nothing by itself)."""
    if event.kind in CHANGE_KINDS:
        return CHANGE_KINDS[event.kind]
    if event.kind in ("restart", "k8s", "other") and _OOM_KILL.search(event.summary):
        return "memory"
    return None


def event_name(event: ChangeEvent) -> str:
    return "OOM kill" if event_cause(event) == "memory" else event.kind


@dataclass(frozen=True, slots=True)
class Budget:
    max_queries: int = 400
    max_depth: int = 6


@dataclass(slots=True)
class Run:
    ctx: AlertContext
    tools: Toolbox
    graph: dict[str, set[str]]
    callers: dict[str, set[str]]
    tolerance: float
    lag: float  # how long a synchronous caller may take to show its callee's degradation
    thresholds: Thresholds
    rules: tuple[Rule, ...]
    budget: Budget
    hypotheses: list[Hypothesis] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)
    # What exploring a service found (every cause at or below it, as (onset, score)), for
    # other branches that reach it too.
    explored: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # Services whose own catalogue was tested (not only their degradation as a dependency).
    catalogued: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    on_progress: ProgressHook | None = None
    # Every service that calls a service, directly or through others (`calls`, memoised).
    above: dict[str, set[str]] = field(default_factory=dict)

    def new(self, *, statement: str, kind: str, service: str, depth: int,
            parent: Hypothesis | None) -> Hypothesis:
        h = Hypothesis(id=f"h{len(self.hypotheses) + 1}", statement=statement, kind=kind,
                       service=service, depth=depth)
        self.hypotheses.append(h)
        if parent is not None:
            parent.children.append(h.id)
        return h

    def judge(self, *, kind: str, role: Role, cause: Cause, effect: FamilyVerdict | None,
              effect_onset: float | None, effect_service: str = "", effect_label: str = "",
              damage_at: float | None = None, upstream_surge: FamilyVerdict | None = None,
              share: bool = False, children: tuple[SpanVerdict, ...] = (),
              callees: tuple[str, ...] = ()) -> Refutation | None:
        """Every hypothesis, whatever proposed it, is judged here by the same rules."""
        link = Link(kind=kind, role=role, cause=cause, effect=effect, effect_onset=effect_onset,
                    series=self.tools.view, timing=self.timing(), thresholds=self.thresholds,
                    effect_service=effect_service, effect_label=effect_label,
                    damage_at=damage_at, upstream_surge=upstream_surge, share=share,
                    children=children, callees=callees,
                    charted=any(self.graph.values()),
                    upstream=self.calls(getattr(cause, "service", ""), effect_service))
        return judge(link, self.rules)

    def calls(self, caller: str, service: str) -> bool:
        """Whether `caller` reaches `service` through the call graph (one hop or more)."""
        if not caller or not service or caller == service:
            return False
        above = self.above.get(service)
        if above is None:  # every judged link asks: walk the callers once per service
            above, frontier = set(), [service]
            while frontier:
                for up in self.callers.get(frontier.pop(), ()):
                    if up not in above:
                        above.add(up)
                        frontier.append(up)
            self.above[service] = above
        return caller in above

    def timing(self) -> Timing:
        return Timing(fired_at=self.ctx.fired_at_s, split=self.tools.split,
                      tolerance=self.tolerance, lag=self.lag)

    async def progress(self, current: str) -> None:
        if self.on_progress is None:
            return
        done = [h for h in self.hypotheses if h.status != "pending"]
        await self.on_progress(Progress(
            tested=len(done), supported=sum(h.status == "supported" for h in done),
            refuted=sum(h.status == "refuted" for h in done), current=current,
            queries=self.tools.queries))
