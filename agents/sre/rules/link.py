"""The value a causal rule judges, what it returns, and the one function that judges.

A `Link` is a proposed cause-and-effect: the cause's verdict (a metric family, an error-log
surge or a change event), the effect's verdict, read-only access to the series behind them
and the run's timing. Every origin of a hypothesis (the catalogue at a service, a dependency
down the call graph, a widened candidate, a traffic surge's origin upstream, a model's
proposal) builds one and asks `judge(link, rules)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from agents.sre.rules.thresholds import Thresholds
from agents.sre.series import SeriesView
from agents.sre.traces import SpanVerdict
from agents.sre.verdicts import FamilyVerdict, LogVerdict
from integrations.telemetry.base import ChangeEvent

# Where the hypothesis came from: the catalogue at the service under examination ("local"),
# a callee down the call graph ("dependency"), any other service when the call path found
# nothing decisive ("widened"), a caller a surge came through ("origin"), a model ("model").
Role = Literal["local", "dependency", "widened", "origin", "model"]
ROLES: frozenset[Role] = frozenset({"local", "dependency", "widened", "origin", "model"})
Cause = FamilyVerdict | LogVerdict | ChangeEvent | SpanVerdict


@dataclass(frozen=True, slots=True)
class Timing:
    fired_at: float   # when the alert fired
    split: float      # where the baseline ends and the episode begins
    tolerance: float  # how late a cause may show after its effect (s)
    lag: float        # how long a caller may take to show its callee's degradation (s)


@dataclass(frozen=True, slots=True)
class Link:
    kind: str                  # the cause kind under test: cpu, traffic, dependency, deploy...
    role: Role
    cause: Cause
    effect: FamilyVerdict | None
    effect_onset: float | None
    series: SeriesView
    timing: Timing
    thresholds: Thresholds
    effect_service: str = ""
    effect_label: str = ""     # "cart latency": how reasons name the effect
    # When the damage a load must have caused arrived (the bulk of the effect's rise).
    damage_at: float | None = None
    # A surge already found to explain a caller upstream, and whether this cause is a share
    # of it (then it need only stand out of its own noise, and is as strong as the surge).
    upstream_surge: FamilyVerdict | None = None
    share: bool = False
    # For a cause read from traces: how the spans it calls changed (healthy children are
    # what place a fault in the service's own code).
    children: tuple[SpanVerdict, ...] = ()
    callees: tuple[str, ...] = ()  # the services this cause's service calls
    # Whether the run knows a call graph at all (topology or traces linking services); with
    # none, how many hops lie between a widened cause and the alert is unknown.
    charted: bool = True
    # Whether the cause's service calls the effect's, directly or through others (from the
    # call graph): what it suffers then follows from the effect, not the reverse.
    upstream: bool = False


@dataclass(frozen=True, slots=True)
class Refutation:
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A named causal rule: it refutes a link (returns why) or lets it stand (returns '')."""

    name: str
    family: str
    kinds: frozenset[str] | None  # None: every kind
    roles: frozenset[Role]
    test: Callable[[Link], str]
    doc: str = ""

    def applies(self, link: Link) -> bool:
        return link.role in self.roles and (self.kinds is None or link.kind in self.kinds)

    def check(self, link: Link) -> Refutation | None:
        if not self.applies(link):
            return None
        reason = self.test(link)
        return Refutation(self.name, reason) if reason else None

    def __reduce__(self) -> tuple[Callable[[str], Rule], tuple[str]]:
        # A rule's module attribute is the Rule, not its test function, so pickle (eval's
        # worker processes) cannot find the function by name: send the rule's name instead.
        return _rule_named, (self.name,)


def _rule_named(name: str) -> Rule:
    from agents.sre.rules import BY_NAME  # the registry imports this module
    return BY_NAME[name]


def rule(name: str, *, family: str, kinds: Iterable[str] | None = None,
         roles: Iterable[Role] = ROLES) -> Callable[[Callable[[Link], str]], Rule]:
    def make(test: Callable[[Link], str]) -> Rule:
        return Rule(name=name, family=family, kinds=frozenset(kinds) if kinds else None,
                    roles=frozenset(roles), test=test,
                    doc=(test.__doc__ or "").strip().split("\n\n")[0])
    return make


def judge(link: Link, rules: Iterable[Rule]) -> Refutation | None:
    """The first rule (in the given order) that refutes the link, or None: it stands."""
    for item in rules:
        refutation = item.check(link)
        if refutation is not None:
            return refutation
    return None
