"""Ranking root-cause candidates, calibrating their confidence, and deciding to abstain.

A candidate's strength is its anomaly score squashed to [0, 1); it is discounted when it is
explained by something deeper, when it is off the alert's call path, or when it is only a
degraded leaf with no visible cause of its own. Confidence is that strength shared among the
competitors (a clear winner is more certain than one of three equals), mapped through a
logistic curve over features of the ranking (strength, margin over the runner-up,
independent modalities, on a path or not, a call graph at all or not) fitted on the pooled
development suites (`python -m evals.calibrate`), never on test data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import pairwise

from agents.sre.context import AlertContext
from agents.sre.report import Evidence, RootCause
from agents.sre.rules.thresholds import DEFAULT, Thresholds
from agents.sre.stats import squash
from agents.sre.verdicts import FamilyVerdict, hhmm, persistence

# Every weight and the calibration live in `agents.sre.rules.Thresholds` (evals sweep them).


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
    # Off the call graph, but its anomaly began before the alert's and lasts (a noisy
    # neighbour, a hog the topology does not show): a cause whose connection is unknown.
    # `node` is the node or host it shares with a degraded service, when the telemetry says.
    unknown_link: bool = False
    node: str | None = None
    # The alerting service looked normal, and this is the loud, clean, lasting step that
    # began before the alert which the search ranked first (`search.unknown_links`).
    quiet_pick: bool = False
    fallback: bool = False
    # Listed because nothing stood out anywhere: a lead by how much it moved, never an answer.
    residual: bool = False
    # When the service's own degradation began, where it differs from the cause's onset (a
    # change found off the path: the deploy is at `onset`, the damage it did from here).
    degraded_at: float | None = None
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
    # Failing on its caller's word alone: the service whose error lines name it, when it
    # showed nothing of its own (no new errors, failing spans or saturation).
    named_by: str | None = None
    # A failing callee with no telemetry of its own (a third-party API): reported at this
    # caller, where the failure shows and a responder can act, the callee named right behind
    # (`rank`). `failing_dependency` is set on the caller's entry, naming the callee.
    reported_at: str | None = None
    failing_dependency: str | None = None
    # Its error lines say its name lookups fail: its resolver (DNS), not its code.
    name_lookups: bool = False
    weight: float = 0.0
    confidence: float = 0.0
    basis: Basis | None = None

    def anomaly(self, th: Thresholds = DEFAULT) -> float:
        """Its anomaly alone, before any discount for where it sits. Logarithmic in z: a
        500-sigma move outranks a 10-sigma one without either saturating, and noise (z of 3
        to 5) stays well below a real fault."""
        return min(1.0, math.log1p(max(self.score, 0.0)) / math.log1p(th.strong_z))

    def strength(self, th: Thresholds = DEFAULT) -> float:
        value = self.anomaly(th)
        if self.explained:
            value *= th.explained_factor
        if not self.reachable:
            if self.connected:
                value *= th.unconfirmed_path_factor
            elif self.unknown_link:
                value *= th.shared_node_factor if self.node else th.unknown_link_factor
            else:
                value *= th.off_path_factor
        if self.fallback:
            value *= th.fallback_factor
        # A blip that is already over is a weak explanation of an incident still going on.
        value *= min(1.0, self.persistence / th.persistent)
        value *= 1.0 + th.corroboration * min(self.corroboration, 5)
        value *= 1.0 - th.uncoupled + th.uncoupled * min(max(self.coupling, 0.0), 1.0)
        if self.twin_of:
            value *= th.twin_factor
        # Deeper supported nodes win ties: they explain more of the chain.
        return value * (1.0 + 0.01 * self.depth)

    def as_root_cause(self) -> RootCause:
        return RootCause(service=self.service, kind=self.kind,
                         confidence=round(self.confidence, 3), summary=self.describe(),
                         evidence=self.evidence,
                         what=self.what(),
                         where=self.where())

    def what(self) -> str:
        """What names it better than its kind, where the kind would mislead ('' if none)."""
        if self.residual:  # a lead by how far it moved: no fault of that kind was found
            moved = {"dependency": "latency", "code_error": "errors", "traffic": "requests",
                     "cpu": "CPU"}.get(self.kind, self.kind.replace("_", " "))
            return f"its {moved} moved a little; nothing stood out"
        return "failed name lookups (DNS)" if self.name_lookups else ""

    def where(self) -> str:
        """How it reaches the alert when not along the call path the walk confirmed, in
        words; empty on that path."""
        if self.reachable:
            return ""
        if self.residual:
            return "connection to the alert unknown"
        if self.connected:
            return "downstream of the alert, through services that did not confirm it"
        if self.node:
            return (f"shares {self.node} with a degraded service; how it reaches the alert is "
                    "not in the telemetry")
        if self.unknown_link:
            return "began before the alert; connection unknown (not on the alert's call path)"
        return "not on the alert's call path"

    def describe(self) -> str:
        if self.residual:
            return f"{self.service}: {self.what()}"
        words = {
            "cpu": "CPU saturated", "memory": "memory pressure", "disk": "disk saturated",
            "network_delay": "network delay", "network_loss": "packet loss",
            "payload": "abnormally large payloads", "traffic": "traffic surge",
            "deploy": "a deploy", "config": "a config change",
            "code_error": "a surge of errors", "dependency": "degraded with no visible "
            "resource cause",
        }.get(self.kind, self.kind)
        if self.name_lookups:
            words = "its name lookups failing (DNS), as its error lines report,"
        if self.named_by:
            words = f"failing, as {self.named_by}'s error lines report,"
        if self.failing_dependency:
            words = (f"its dependency {self.failing_dependency} failing (no telemetry of its "
                     f"own), as its error lines report,")
        place = self.where()
        where = f" — {place}" if place else ""
        if self.twin_of:
            where += f" (fails in lockstep with {self.twin_of}: probably a view of it)"
        return f"{self.service}: {words} from {hhmm(self.onset)}{where}"


MODALITIES = ("metrics", "logs", "traces", "change")


def modality(signal: str | None) -> str:
    """Which independent kind of telemetry a piece of evidence comes from."""
    if signal in ("logs", "traces"):
        return signal
    return "change" if signal in ("deploy", "config", "restart", "k8s") else "metrics"


@dataclass(frozen=True, slots=True)
class Basis:
    """What a candidate's confidence rests on: its strength, its margin over the strongest
    competitor ((own − best other) / own: 1 alone, 0 tied, negative when behind), how many
    independent modalities (metrics, logs, traces, a change event) support it at its own
    service, and whether a call path connects it to the alert."""

    strength: float
    margin: float
    modalities: int
    on_path: bool
    # Whether the run had a call graph at all: without one, "on the path" means only the
    # alerting service itself, and time alone orders cause and victim.
    charted: bool = True
    # Whether it is also the most anomalous candidate before any discount (path, time,
    # explanation): two rankings, by reasoning and by magnitude, agree.
    loudest: bool = True
    # A lead listed only because nothing stood out (`residual_confidence` caps it, not the
    # curve): the calibration's fit leaves it out.
    residual: bool = False

    def features(self) -> tuple[float, float, float, float, float, float]:
        # Without a call graph, whether the order read from time agrees with the plain
        # magnitude ranking is what tells a cause from a victim: a feature of its own there.
        return (self.strength, self.margin, float(min(self.modalities, 3) - 1),
                1.0 if self.on_path else 0.0, 1.0 if self.charted else 0.0,
                0.0 if self.charted or not self.loudest else 1.0)

    def as_dict(self) -> dict[str, float]:
        return {"strength": round(self.strength, 4), "margin": round(self.margin, 4),
                "modalities": float(self.modalities), "on_path": float(self.on_path),
                "charted": float(self.charted), "loudest": float(self.loudest),
                "residual": float(self.residual)}


def calibrate(basis: Basis, th: Thresholds = DEFAULT) -> float:
    """Platt scaling over the basis: a logistic curve of six features, fitted on the pooled
    development suites (`python -m evals.calibrate`, which also cross-checks it across
    suites). The constants live in `Thresholds`."""
    a = (th.calibration_strength, th.calibration_margin, th.calibration_modalities,
         th.calibration_path, th.calibration_graph, th.calibration_loudest_uncharted)
    logit = th.calibration_bias + sum(w * x for w, x in zip(a, basis.features(), strict=True))
    # Never certain: a root cause read from telemetry is an inference (a responder reading
    # "100%" stops checking), and no development suite is right every time either.
    return min(1.0 / (1.0 + math.exp(-max(min(logit, 40.0), -40.0))), th.max_confidence)


def basis_of(candidate: Candidate, ranked: list[Candidate],
             evidence: dict[str, Evidence] | None, charted: bool = True) -> Basis:
    # A silent dependency and the caller it is reported at are one answer, not rivals.
    pair = {candidate.reported_at, candidate.failing_dependency} - {None}
    others = [c.weight for c in ranked if c is not candidate and c.service not in pair]
    best_other = max(others, default=0.0)
    margin = (candidate.weight - best_other) / max(candidate.weight, best_other, 1e-9)
    kinds = {modality(e.signal) for i in candidate.evidence
             if evidence is not None and (e := evidence.get(i)) is not None
             and e.service == candidate.service and e.status == "ok"}
    loudest = all(candidate.score >= c.score for c in ranked if c.service != candidate.service)
    # A quiet alert's pick was ranked by its anomaly alone: whatever call graph the run had
    # did not place it, so its confidence is read as a graph-less run's.
    return Basis(strength=candidate.weight, margin=margin, modalities=max(len(kinds), 1),
                 on_path=candidate.reachable or candidate.connected or bool(candidate.node),
                 charted=charted and not candidate.quiet_pick, loudest=loudest,
                 residual=candidate.residual)


def rank(candidates: list[Candidate], *, symptom_anomalous: bool, th: Thresholds = DEFAULT,
         evidence: dict[str, Evidence] | None = None, charted: bool = True,
         blip: str | None = None) -> tuple[list[Candidate], bool, str | None]:
    """Best candidate per service, ranked; whether to abstain; a note on why, if abstaining.
    `blip` says why the alert's own excursion is a blip, or cannot yet be told from one: the
    candidates are leads, not an answer."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        candidate.weight = candidate.strength(th)
        current = best.get(candidate.service)
        if current is None or candidate.weight > current.weight:
            best[candidate.service] = candidate
    # Equal weights (both saturated): the louder anomaly first; onsets a sample apart are
    # noise, not an order.
    ranked = at_callers(sorted(best.values(),
                               key=lambda c: (-c.weight, -c.score, c.onset or 0.0, c.service)))
    if not ranked:
        return [], True, None
    for candidate in ranked:
        candidate.basis = basis_of(candidate, ranked, evidence, charted)
        candidate.confidence = calibrate(candidate.basis, th)
    # The calibration was fitted on top answers only; a runner-up is never surer than what
    # ranks above it (a ranked list whose percentages rise down the page reads as a mistake).
    for above, below in pairwise(ranked):
        below.confidence = min(below.confidence, above.confidence)
    top = ranked[0]
    note = None
    # A cause off the path that passed the search's own bar (strong against its own
    # baseline, before the alert, lasting) is reported with its doubt, not withheld.
    abstain = top.weight < th.abstain_strength and not (top.unknown_link and symptom_anomalous)
    if top.residual:
        abstain, note = True, ("nothing stood out: the services whose signals moved most are "
                               "listed as leads")
    elif abstain:
        note = (f"strongest candidate {top.service} is weak "
                f"(strength {top.weight:.2f} < {th.abstain_strength})")
    elif blip:
        abstain, note = True, blip
    elif not symptom_anomalous and not top.reachable and not top.quiet_pick:
        abstain, note = True, "the alerting signal itself looks normal"
    elif not symptom_anomalous and not top.reachable:
        note = ("the alerting signal itself looks normal: the strongest lasting anomaly that "
                "began before the alert is reported, its connection to the alert unknown")
    if abstain:
        for candidate in ranked:
            candidate.confidence = min(candidate.confidence, th.residual_confidence
                                       if candidate.residual else th.abstained_confidence)
    # An answer without a connection weighs less (`off_path_factor`), which narrows its
    # margin and so its confidence; the calibration's `path` feature, fitted on how often
    # such answers were right, adds nothing to that on the pooled suites (its slope is 0).
    return ranked, abstain, note


def at_callers(ranked: list[Candidate]) -> list[Candidate]:
    """A silent dependency's failure is reported at the caller whose lines name it, in its
    place, the dependency itself right behind; the caller's own weaker entry gives way."""
    out: list[Candidate] = []
    for candidate in ranked:
        caller = candidate.reported_at
        if caller and all(c.service != caller for c in out):
            out.append(replace(candidate, service=caller, reported_at=None, named_by=None,
                               failing_dependency=candidate.service))
        if all(c.service != candidate.service for c in out):
            out.append(candidate)
    return out


@dataclass(slots=True)
class Explanation:
    """A supported local explanation at one node."""

    kind: str
    score: float
    onset: float | None
    evidence: list[str]
    persistence: float = 1.0
    name_lookups: bool = False  # error lines saying its name lookups fail (DNS)


def explains(below: list[tuple[float, float]], onset: float | None, score: float,
             th: Thresholds = DEFAULT) -> bool:
    """Does a cause found deeper explain this node? Only one that began no later than this
    node's own explanation and is of comparable strength: a faint wobble downstream does not
    explain a twenty-fold latency jump here (however early it began, while a strong cause
    beside it did)."""
    # Compared on the squashed scale: z-scores of different metrics are not commensurable
    # (an error rate rising from ~0 reaches z in the hundreds), their saturation is.
    return any((onset is None or below_onset <= onset)
               and squash(below_score) >= th.explains * squash(score)
               for below_onset, below_score in below)


def _judged_at(pick: Explanation, degraded: FamilyVerdict | None, th: Thresholds
               ) -> float | None:
    """When a deeper cause must have begun to explain this node: its explanation's onset, or
    when the explanation ran quietly for a while before the damage began (a routine deploy
    ten minutes or more before an unrelated fault, a CPU a little busier for twenty), when
    the damage began. A change or a busier resource that hurts does so within minutes; one
    that ran clean until a deeper failure began is a bystander. Not what accumulates: a leak
    fills, and a load grows, for a long while before it outgrows what it fills."""
    if pick.kind not in ("memory", "traffic") and pick.onset is not None and \
            degraded is not None and degraded.onset is not None and \
            degraded.onset - pick.onset > th.change_settled_s:
        return degraded.onset
    return pick.onset


def fallback_kind(family: str) -> str:
    # A degraded leaf with no visible resource or change behind it: a failing dependency for
    # slowness and unavailability, a code error when it is failing requests (and requests
    # that moved, where a lead is read off them, are traffic).
    return {"errors": "code_error", "throughput": "traffic"}.get(family, "dependency")


def candidate_at(service: str, degraded: FamilyVerdict | None, local: list[Explanation],
                 path: list[str], *, below: list[tuple[float, float]], depth: int,
                 hypothesis_id: str, bulk: float | None = None,
                 th: Thresholds = DEFAULT) -> Candidate | None:
    """The candidate at a node, if any. A cause found below that explains this node's
    degradation makes it a discounted candidate rather than none at all."""
    if local:
        top = max(item.score for item in local)
        # Among the strong local explanations, the earliest is the cause of the others
        # (payloads before memory, a deploy before the errors, traffic before CPU).
        strong = [item for item in local if item.score >= 0.5 * top] or \
            [max(local, key=lambda item: item.score)]  # scores below 0 (a rule left out)
        pick = min(strong, key=lambda i: (i.onset if i.onset is not None else float("inf"),
                                          -i.score))
        score = max(top, degraded.score if degraded is not None else 0.0)
        supporting = [e for item in local for e in item.evidence]
        # Compare like with like: the deeper cause's strength against this node's own
        # degradation (both metric z-scores), not against a log-surge or event score.
        explained = explains(below, _judged_at(pick, degraded, th),
                             degraded.score if degraded is not None else score, th)
        return Candidate(service=service, kind=pick.kind, score=score, onset=pick.onset,
                         evidence=list(dict.fromkeys([*path, *pick.evidence, *supporting])),
                         hypothesis_id=hypothesis_id, explained=explained, depth=depth,
                         persistence=max(item.persistence for item in strong),
                         name_lookups=pick.name_lookups,
                         degraded_at=degraded.onset if degraded is not None and pick.kind
                         in ("deploy", "config") else None)
    if degraded is not None and degraded.anomalous:
        return Candidate(service=service, kind=fallback_kind(degraded.family),
                         score=degraded.score, onset=degraded.onset,
                         evidence=list(dict.fromkeys([*path, degraded.evidence_id])),
                         hypothesis_id=hypothesis_id, depth=depth, fallback=True,
                         explained=explains(below, bulk or degraded.onset, degraded.score, th),
                         persistence=persistence(degraded))
    return None


def decisive(candidates: list[Candidate]) -> bool:
    return any(not c.fallback and c.score >= 5.0 for c in candidates)


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
                   evidence: list[Evidence], notes: list[str], *, young: bool = False,
                   over: bool = False, demand: bool = False) -> tuple[str, list[str]]:
    """The summary and next steps. `young`: the alert's signal has been abnormal too briefly
    to call; `over`: it recovered by itself before the data ended; `demand`: more requests
    that did no harm (the run abstained for that, not for weak leads)."""
    by_id = {e.id: e for e in evidence}
    errors = [e for e in evidence if e.status == "error"]
    opening = (f"{ctx.service} {ctx.signal} alert \"{ctx.name}\" fired at "
               f"{hhmm(ctx.fired_at_s)} UTC.")
    if abstained or not ranked:
        checked = len({e.service for e in evidence if e.service})
        text = (f"{opening} No root cause yet: the alert is too young to call." if young
                else f"{opening} It recovered by itself: nothing is failing now." if over
                else f"{opening} More requests, no harm: {ctx.service} took them with its "
                f"latency and its share of failed requests normal." if demand
                else f"{opening} No confident root cause: I checked {checked} "
                f"{'service' if checked == 1 else 'services'} and {len(evidence)} "
                f"{'signal' if len(evidence) == 1 else 'signals'} and nothing was decisive.")
        if ranked and young:
            text += f" The strongest lead so far: {ranked[0].describe()}."
        elif ranked and over:
            text += f" The strongest lead while it lasted: {ranked[0].describe()}."
        elif ranked and demand and (ranked[0].service, ranked[0].kind) != (ctx.service,
                                                                             "traffic"):
            text += f" What moved most with them: {ranked[0].describe()}."
        elif ranked:
            text += f" The strongest lead, {ranked[0].describe()}, is too weak to call."
        steps = ["Re-investigate in a few minutes, once the alert has lasted long enough "
                 "to tell a fault from a blip."] if young else \
            ["Nothing to mend now. If it recurs, re-investigate: the leads below are where "
             "to start."] if over else \
            ["Nothing is failing. If the load keeps growing, check headroom (replicas, "
             "autoscaling limits, rate limits) before it starts to hurt."] if demand else \
            ["Check whether the alert is noise (thresholds, a single spike) before "
             "digging further."]
    else:
        top = ranked[0]
        chain = [by_id[e].finding for e in top.evidence if e in by_id][-3:]
        text = (f"{opening} Most likely cause: {top.describe()} "
                f"(confidence {top.confidence:.0%}). " + " ".join(f"{c}." for c in chain))
        if top.failing_dependency:
            step = (f"{top.failing_dependency} is failing {top.service}'s calls and has no "
                    f"telemetry of its own here: check its status page or provider, and have "
                    f"{top.service} time out, retry with backoff or degrade gracefully.")
        elif top.name_lookups:
            step = (f"Check name resolution from {top.service}: CoreDNS (or the resolver it "
                    f"uses) is up and answering, its resolv.conf and search domains, and that "
                    f"the names in its lines still resolve.")
        elif top.named_by:
            step = (f"Look inside {top.service}: {top.named_by}'s error lines name it failing, "
                    f"and it showed nothing of its own here; read its logs and traces from "
                    f"{hhmm(top.onset)}.")
        else:
            step = NEXT_STEPS.get(top.kind, "Look at {s}.").format(s=top.service)
        steps = [step]
        if len(ranked) > 1 and ranked[1].service == top.failing_dependency:
            ranked = [top, *ranked[2:]]  # the dependency is already named above
        if len(ranked) > 1:
            steps.append(f"If that is not it, the next candidate is {ranked[1].describe()}.")
    if errors:
        text += f" {len(errors)} queries failed and are listed as evidence."
    for note in notes:
        text += f" ({note})"
    return text, steps
