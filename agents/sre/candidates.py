"""Ranking root-cause candidates, calibrating their confidence, and deciding to abstain.

A candidate's strength is its anomaly score squashed to [0, 1); it is discounted when it is
explained by something deeper, when it is off the alert's call path, or when it is only a
degraded leaf with no visible cause of its own. Confidence is that strength shared among the
competitors (a clear winner is more certain than one of three equals), mapped through a
logistic curve whose two parameters were fitted on the synthetic suite's development seed
(`python -m evals.calibrate`: synthetic seed 3 plus PetShop train), never on test data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agents.sre.context import AlertContext
from agents.sre.report import Evidence, RootCause
from agents.sre.toolbox import hhmm

EXPLAINED_FACTOR = 0.35   # a node whose degradation is explained by a dependency below it
OFF_PATH_FACTOR = 0.3     # anomalous, but not connected to the alert by the call graph
# Downstream of the alert in the call graph, but a service between them too noisy (or too
# sparse) to confirm the link: connected, yet less certain than a confirmed path.
UNCONFIRMED_PATH_FACTOR = 0.6
FALLBACK_FACTOR = 0.75    # degraded with no local cause found
ABSTAIN_STRENGTH = 0.4    # below this weighted strength nothing is decisive
STRONG_Z = 100.0          # an anomaly this strong counts as full strength
UNCOUPLED = 0.5           # share of the strength that hangs on the path's co-movement
CORROBORATION = 0.1       # per other degraded service the candidate also explains
TWIN_FACTOR = 0.5         # a leaf that is probably another view of a sibling service
PERSISTENT = 0.5          # abnormal in at least half the samples since onset: not a blip
# Logistic calibration: confidence = 1 / (1 + exp(-(A * raw + B))).
CALIBRATION_A = 10.71
CALIBRATION_B = -1.51


@dataclass(slots=True)
class Candidate:
    service: str
    kind: str
    score: float
    onset: float | None
    evidence: list[str] = field(default_factory=list)
    hypothesis_id: str | None = None
    explained: bool = False
    reachable: bool = True
    connected: bool = False  # off the confirmed path, yet downstream of the alert
    fallback: bool = False
    depth: int = 0
    persistence: float = 1.0
    # Other degraded services this candidate would also explain (its degraded callers, or
    # for a traffic surge its degraded callees), the alerting one aside: a real fault hurts
    # everything that calls it, a mere view of it does not.
    corroboration: int = 0
    # The weakest correlation along the call path from the alert down to this candidate:
    # a dependency whose series does not move with its caller's is a bystander.
    coupling: float = 1.0
    # A leaf failing in lockstep with a sibling service: probably a second view of it.
    twin_of: str | None = None
    weight: float = 0.0
    confidence: float = 0.0

    def strength(self) -> float:
        # Logarithmic in z: a 500-sigma move outranks a 10-sigma one without either
        # saturating, and noise (z of 3 to 5) stays well below a real fault.
        value = min(1.0, math.log1p(max(self.score, 0.0)) / math.log1p(STRONG_Z))
        if self.explained:
            value *= EXPLAINED_FACTOR
        if not self.reachable:
            value *= UNCONFIRMED_PATH_FACTOR if self.connected else OFF_PATH_FACTOR
        if self.fallback:
            value *= FALLBACK_FACTOR
        # A blip that is already over is a weak explanation of an incident still going on.
        value *= min(1.0, self.persistence / PERSISTENT)
        value *= 1.0 + CORROBORATION * min(self.corroboration, 5)
        value *= 1.0 - UNCOUPLED + UNCOUPLED * min(max(self.coupling, 0.0), 1.0)
        if self.twin_of:
            value *= TWIN_FACTOR
        # Deeper supported nodes win ties: they explain more of the chain.
        return value * (1.0 + 0.01 * self.depth)

    def as_root_cause(self) -> RootCause:
        return RootCause(service=self.service, kind=self.kind,
                         confidence=round(self.confidence, 3), summary=self.describe(),
                         evidence=self.evidence)

    def describe(self) -> str:
        words = {
            "cpu": "CPU saturated", "memory": "memory pressure", "disk": "disk saturated",
            "network_delay": "network delay", "network_loss": "packet loss",
            "payload": "abnormally large payloads", "traffic": "traffic surge",
            "deploy": "a deploy", "config": "a config change",
            "code_error": "a surge of errors", "dependency": "degraded with no visible "
            "resource cause",
        }.get(self.kind, self.kind)
        where = "" if self.reachable else (
            " (downstream of the alert, through services that did not confirm it)"
            if self.connected else " (not on the alert's call path)")
        if self.twin_of:
            where += f" (fails in lockstep with {self.twin_of}: probably a view of it)"
        return f"{self.service}: {words} from {hhmm(self.onset)}{where}"


def calibrate(raw: float) -> float:
    return 1.0 / (1.0 + math.exp(-(CALIBRATION_A * raw + CALIBRATION_B)))


def rank(candidates: list[Candidate], *, symptom_anomalous: bool
         ) -> tuple[list[Candidate], bool, str | None]:
    """Best candidate per service, ranked; whether to abstain; a note on why, if abstaining."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        candidate.weight = candidate.strength()
        current = best.get(candidate.service)
        if current is None or candidate.weight > current.weight:
            best[candidate.service] = candidate
    ranked = sorted(best.values(), key=lambda c: (-c.weight, c.onset or 0.0, c.service))
    if not ranked:
        return [], True, None
    total = sum(c.weight for c in ranked[:3]) or 1.0
    for candidate in ranked:
        share = candidate.weight / total
        candidate.confidence = calibrate(candidate.weight * (0.5 + 0.5 * share))
    top = ranked[0]
    note = None
    abstain = top.weight < ABSTAIN_STRENGTH
    if abstain:
        note = (f"strongest candidate {top.service} is weak "
                f"(strength {top.weight:.2f} < {ABSTAIN_STRENGTH})")
    elif not symptom_anomalous and not top.reachable:
        abstain, note = True, "the alerting signal itself looks normal"
    if abstain:
        for candidate in ranked:
            candidate.confidence = min(candidate.confidence, 0.3)
    return ranked, abstain, note


NEXT_STEPS = {
    "cpu": "Find what is burning CPU on {s} (profiles, hot endpoints, noisy neighbours); "
           "scale out or shed load to mitigate.",
    "memory": "Check {s} for a leak or an oversized cache (heap profile, GC logs); "
              "restart or roll back to mitigate.",
    "disk": "Check disk I/O and free space on {s} (slow volume, compaction, log growth).",
    "network_delay": "Check the network path to {s} (latency between zones, DNS, "
                     "overloaded proxies or sidecars).",
    "network_loss": "Check packet loss and retransmits around {s} (NICs, security groups, "
                    "sidecar proxies).",
    "payload": "Find which clients send abnormally large payloads to {s}; add a size limit "
               "or reject them at the edge.",
    "traffic": "Identify the source of the traffic surge at {s} (bots, retries, a campaign); "
               "rate-limit or scale out.",
    "deploy": "Roll back the recent deploy of {s}, then diff the release.",
    "config": "Revert the recent config change of {s}.",
    "code_error": "Read the new error pattern in {s}'s logs and the stack traces behind it.",
    "dependency": "Look inside {s} (its own dependencies, slow queries, saturation) and "
                  "consider failing over.",
}


def render_summary(ctx: AlertContext, ranked: list[Candidate], abstained: bool,
                   evidence: list[Evidence], notes: list[str]) -> tuple[str, list[str]]:
    by_id = {e.id: e for e in evidence}
    errors = [e for e in evidence if e.status == "error"]
    opening = f"{ctx.service} {ctx.signal} alert \"{ctx.name}\" fired at {hhmm(ctx.fired_at_s)}."
    if abstained or not ranked:
        checked = len({e.service for e in evidence if e.service})
        text = (f"{opening} No confident root cause: I checked {checked} services and "
                f"{len(evidence)} signals and nothing was decisive.")
        if ranked:
            text += f" The strongest lead, {ranked[0].describe()}, is too weak to call."
        steps = ["Check whether the alert is noise (thresholds, a single spike) before "
                 "digging further."]
    else:
        top = ranked[0]
        chain = [by_id[e].finding for e in top.evidence if e in by_id][-3:]
        text = (f"{opening} Most likely cause: {top.describe()} "
                f"(confidence {top.confidence:.0%}). " + " ".join(f"{c}." for c in chain))
        steps = [NEXT_STEPS.get(top.kind, "Look at {s}.").format(s=top.service)]
        if len(ranked) > 1:
            steps.append(f"If that is not it, the next candidate is {ranked[1].describe()}.")
    if errors:
        text += f" {len(errors)} queries failed and are listed as evidence."
    for note in notes:
        text += f" ({note})"
    return text, steps
