"""The triage result, in the shape of DESIGN.md's `nightowl triage DIR --json` contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["true_positive", "benign_true_positive", "false_positive", "escalate"]
VERDICTS: tuple[Verdict, ...] = ("true_positive", "benign_true_positive", "false_positive",
                                 "escalate")
# How a step's outcome leans: toward an attack, toward an explanation, toward a rule that
# fired on the wrong thing, or neither.
Lean = Literal["suspicious", "benign", "not_applicable", "neutral", "unknown"]


@dataclass(slots=True)
class Finding:
    """One piece of evidence: the events it rests on and what they show."""

    id: str
    events: list[str]
    finding: str

    def contract(self) -> dict[str, Any]:
        return {"id": self.id, "events": list(self.events), "finding": self.finding}


@dataclass(slots=True)
class Step:
    step: str
    result: str
    evidence: list[str] = field(default_factory=list)
    lean: Lean = "neutral"
    weight: float = 0.0  # how strongly it leans (the verdict adds these up)

    def contract(self) -> dict[str, Any]:
        return {"step": self.step, "result": self.result, "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Action:
    action: str
    target: str
    why: str = ""

    def contract(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "requires_approval": True}


@dataclass(slots=True)
class Stats:
    elapsed_s: float = 0.0
    llm_calls: int = 0
    llm_input_tokens: int = 0
    events_read: int = 0


@dataclass(slots=True)
class TriageReport:
    verdict: Verdict
    confidence: float
    summary: str
    techniques: list[dict[str, str]]
    checklist: list[Step]
    evidence: list[Finding]
    proposed_actions: list[Action]
    stats: Stats = field(default_factory=Stats)
    risk: float = 0.5  # 0 = surely harmless, 1 = surely an attack: what evals sweep
    problems: list[str] = field(default_factory=list)
    engine_verdict: Verdict | None = None  # before a model weighed in, when one did
    model_notes: list[str] = field(default_factory=list)

    def contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "confidence": round(self.confidence, 2),
            "summary": self.summary,
            "techniques": list(self.techniques),
            "checklist": [s.contract() for s in self.checklist],
            "evidence": [e.contract() for e in self.evidence],
            "proposed_actions": [a.contract() for a in self.proposed_actions],
            "stats": {"elapsed_s": round(self.stats.elapsed_s, 3),
                      "llm_calls": self.stats.llm_calls,
                      "llm_input_tokens": self.stats.llm_input_tokens},
        }
        return out
