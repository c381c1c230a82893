"""The investigator's typed results: what `nightowl investigate --json` prints and chat renders.

The JSON shape is the output contract in DESIGN.md; fields beyond it (kind, status, links,
next steps) are additions that scripts can ignore.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

HypothesisStatus = Literal["pending", "supported", "refuted", "inconclusive"]
EvidenceStatus = Literal["ok", "error", "insufficient_data"]


class Evidence(BaseModel):
    id: str
    query: str
    finding: str
    status: EvidenceStatus = "ok"
    service: str | None = None
    signal: str | None = None
    link: str | None = None
    # The few numbers behind the finding (baseline, peak, robust z, onset), never raw series.
    numbers: dict[str, float | str | None] = Field(default_factory=dict)
    # Where the source knows them: what the series is in words, and its unit ("share",
    # "bytes", "seconds", ...), so a reader sees "CPU busy 20% → 90%", not a metric name.
    label: str | None = None
    unit: str | None = None


class Hypothesis(BaseModel):
    id: str
    statement: str
    kind: str
    service: str
    status: HypothesisStatus = "pending"
    score: float = 0.0
    children: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    depth: int = 0
    reason: str = ""
    origin: Literal["catalogue", "model"] = "catalogue"


class RootCause(BaseModel):
    service: str
    kind: str
    confidence: float
    summary: str
    evidence: list[str] = Field(default_factory=list)
    # How a person names the cause where its kind's words would mislead (failed name
    # lookups are kind `network_loss`, not "packet loss"); empty: the kind says it.
    what: str = ""
    # How it reaches the alert when not along the call path the walk confirmed ("began
    # before the alert; connection unknown: ..."); empty on that path.
    where: str = ""


class Claim(BaseModel):
    """One sentence of a model-written summary and the evidence it rests on."""

    text: str
    evidence: list[str] = Field(default_factory=list)


class ModelUse(BaseModel):
    """What a model contributed to a run, and what went wrong with it."""

    models: list[str] = Field(default_factory=list)
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    proposed: int = 0          # hypotheses the model proposed and the tools tested
    unavailable: str | None = None  # why the run went on without a model, if it did
    problems: list[str] = Field(default_factory=list)


class Stats(BaseModel):
    elapsed_s: float = 0.0
    queries: int = 0
    llm_calls: int = 0
    llm_input_tokens: int = 0
    services_seen: int = 0
    # The alerting service's samples before the episode began: what its baseline rests on.
    baseline_samples: int | None = None


# How the investigator words an alert too young to call (`Report.too_early` reads it back).
TOO_EARLY = "too early to tell"
# ...and an alert whose signal recovered by itself before the data ended (`Report.recovered`).
RECOVERED = "back to normal"
# ...and a throughput alert whose rise did no harm: more requests, taken (`Report.demand`).
DEMAND = "demand, not a fault"


class Report(BaseModel):
    root_causes: list[RootCause] = Field(default_factory=list)
    abstained: bool = False
    summary: str = ""
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    stats: Stats = Field(default_factory=Stats)
    next_steps: list[str] = Field(default_factory=list)
    alert: dict[str, Any] = Field(default_factory=dict)
    # With a model: its summary as cited claims, and what it cost. Absent without one.
    claims: list[Claim] = Field(default_factory=list)
    model: ModelUse | None = None
    # What could not be checked and why ("logs: not configured (LOKI_URL)"), and notes on how
    # far the verdict can be trusted ("confidence capped at 83%: only 10 samples before").
    coverage: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    # What the top cause's confidence was computed from (strength, margin over the runner-up,
    # independent modalities, on a path or not): `python -m evals.calibrate` refits on it.
    confidence_basis: dict[str, float] = Field(default_factory=dict)

    def evidence_by_id(self) -> dict[str, Evidence]:
        return {e.id: e for e in self.evidence}

    def too_early(self) -> bool:
        """Abstained because the alert has not yet lasted long enough to call (its leads are
        not weak, only young): the symptom's reason says so in `TOO_EARLY`'s words."""
        return self._abstained_for(TOO_EARLY)

    def recovered(self) -> bool:
        """Abstained because the alert's signal recovered by itself before the data ended:
        the symptom's reason says so in `RECOVERED`'s words."""
        return self._abstained_for(RECOVERED)

    def demand(self) -> bool:
        """Abstained because the alert was on more requests, which did no harm: the
        symptom's reason says so in `DEMAND`'s words."""
        return self._abstained_for(DEMAND)

    def _abstained_for(self, words: str) -> bool:
        symptom = next((h for h in self.hypotheses if h.kind == "symptom"), None)
        return self.abstained and symptom is not None and words in (symptom.reason or "")

    def supported_services(self) -> set[str]:
        """The services a model's claim may blame: a test supported them, or they rank among
        the top causes of a run that did not abstain."""
        supported = {h.service for h in self.hypotheses
                     if h.status == "supported" and h.kind != "symptom"}
        if not self.abstained:
            supported |= {c.service for c in self.root_causes[:3]}
        return supported

    def contract(self) -> dict[str, Any]:
        """Exactly the documented output contract (plus additive fields)."""
        return self.model_dump(mode="json")


class Progress(BaseModel):
    """What the thread shows while an investigation runs."""

    tested: int = 0
    supported: int = 0
    refuted: int = 0
    current: str = ""
    queries: int = 0


class InvestigationView(BaseModel):
    investigation_id: int | None = None
    progress: Progress = Field(default_factory=Progress)
    report: Report | None = None
    error: str | None = None
    note: str | None = None
