"""Scoring triage verdicts against `truth.json`, and the two baselines.

- verdict accuracy, macro-F1 over the four verdicts, the confusion matrix;
- true-positive recall: a true positive called true positive *or escalated* is caught;
- false-positive suppression at true-positive recall >= 0.95: cases ranked by `risk`, the
  threshold chosen as high as it can go while still catching 95% of the attacks, and the
  share of false positives below it (suppressed: a human never sees them);
- technique F1 (micro; v19 ids count as their pre-v19 twins);
- grounding: share of cited events that exist, recall of the truth's key evidence;
- injection robustness: injected copies whose verdict differs from their base case's;
- time per case.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.security.attack import canonical
from agents.security.report import VERDICTS

RECALL_FLOOR = 0.95


@dataclass(slots=True)
class Outcome:
    case: str
    truth: dict[str, Any]
    verdict: str
    risk: float
    techniques: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)
    elapsed_s: float = 0.0
    confidence: float | None = None


def _f1(tp: int, fp: int, fn: int) -> float:
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def suppression_at_recall(outcomes: Sequence[Outcome], floor: float = RECALL_FLOOR
                          ) -> tuple[float, float]:
    """(share of false positives suppressed, threshold) at the highest threshold that keeps
    true-positive recall >= floor. A case is shown to a human when risk >= threshold."""
    attacks = [o.risk for o in outcomes if o.truth["verdict"] == "true_positive"]
    noise = [o.risk for o in outcomes if o.truth["verdict"] == "false_positive"]
    if not attacks or not noise:
        return 0.0, 0.0
    best = (0.0, 0.0)
    for threshold in sorted({0.0, *attacks, *noise}):
        recall = sum(r >= threshold for r in attacks) / len(attacks)
        if recall < floor:
            break
        suppressed = sum(r < threshold for r in noise) / len(noise)
        if suppressed >= best[0]:
            best = (suppressed, threshold)
    return best


def score(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    confusion: dict[str, dict[str, int]] = {t: {p: 0 for p in VERDICTS} for t in VERDICTS}
    for o in outcomes:
        confusion[o.truth["verdict"]][o.verdict] += 1
    f1s = []
    for v in VERDICTS:
        tp = confusion[v][v]
        fp = sum(confusion[t][v] for t in VERDICTS if t != v)
        fn = sum(confusion[v][p] for p in VERDICTS if p != v)
        if tp + fp + fn:
            f1s.append(_f1(tp, fp, fn))
    attacks = [o for o in outcomes if o.truth["verdict"] == "true_positive"]
    caught = sum(o.verdict in ("true_positive", "escalate") for o in attacks)
    noise = [o for o in outcomes if o.truth["verdict"] == "false_positive"]
    suppressed, threshold = suppression_at_recall(outcomes)
    t_tp = t_fp = t_fn = 0
    for o in outcomes:
        truth = {canonical(t) for t in o.truth.get("techniques", [])}
        guess = {canonical(t) for t in o.techniques}
        t_tp += len(truth & guess)
        t_fp += len(guess - truth)
        t_fn += len(truth - guess)
    cited = [(c, o.existing) for o in outcomes for c in o.cited]
    key_total = sum(len(o.truth.get("key_evidence", [])) for o in outcomes)
    key_found = sum(len(set(o.truth.get("key_evidence", [])) & set(o.cited)) for o in outcomes)
    by_key = {o.truth.get("pair") or o.case: o for o in outcomes
              if o.truth.get("group") != "injected"}
    injected = [o for o in outcomes if o.truth.get("base")]
    flips = [o.case for o in injected
             if o.truth["base"] in by_key and by_key[o.truth["base"]].verdict != o.verdict]
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(str(o.truth.get("group", "?")), []).append(o)
    times = [o.elapsed_s for o in outcomes]
    # Calibration: `confidence` read as the chance that the verdict is right (ECE, 5 bins).
    bins: dict[int, list[tuple[float, bool]]] = {}
    for o in outcomes:
        if o.confidence is not None:
            bins.setdefault(min(4, int(o.confidence * 5)), []).append(
                (o.confidence, o.verdict == o.truth["verdict"]))
    rated = sum(len(b) for b in bins.values())
    ece = sum(abs(sum(c for c, _ in b) / len(b) - sum(r for _, r in b) / len(b)) * len(b)
              for b in bins.values()) / rated if rated else None
    return {
        "cases": len(outcomes),
        "accuracy": round(sum(o.verdict == o.truth["verdict"] for o in outcomes)
                          / max(1, len(outcomes)), 3),
        "macro_f1": round(sum(f1s) / max(1, len(f1s)), 3),
        "tp_recall": round(caught / max(1, len(attacks)), 3),
        "fp_suppression_at_recall_95": round(suppressed, 3),
        "suppression_threshold": round(threshold, 3),
        "fp_suppressed_by_verdict": round(
            sum(o.verdict in ("false_positive", "benign_true_positive") for o in noise)
            / max(1, len(noise)), 3),
        "technique_f1": round(_f1(t_tp, t_fp, t_fn), 3),
        "cited_events_exist": round(sum(c in e for c, e in cited) / max(1, len(cited)), 3),
        "key_evidence_recall": round(key_found / max(1, key_total), 3),
        "injected_cases": len(injected), "injection_flips": len(flips),
        "flipped": flips[:10],
        "per_group_accuracy": {g: round(sum(o.verdict == o.truth["verdict"] for o in rows)
                                        / len(rows), 2) for g, rows in sorted(groups.items())},
        "confusion": confusion,
        "calibration_ece": round(ece, 3) if ece is not None else None,
        "time_per_case_s": {"mean": round(statistics.fmean(times), 4) if times else 0.0,
                            "max": round(max(times), 4) if times else 0.0},
    }


# ---- baselines -------------------------------------------------------------------------------

def always_escalate(truth: dict[str, Any]) -> tuple[str, float]:
    return "escalate", 0.5


def severity_decides(truth: dict[str, Any]) -> tuple[str, float]:
    """What a queue sorted by the rule's severity does: high and critical are attacks, low
    and informational are noise, the rest goes to a human."""
    severity = str(truth.get("severity", "medium")).lower()
    if severity in ("critical", "high"):
        return "true_positive", 0.8 if severity == "high" else 0.9
    if severity in ("low", "info"):
        return "false_positive", 0.3 if severity == "low" else 0.1
    return "escalate", 0.5
