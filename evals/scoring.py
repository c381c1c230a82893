"""Figures for one method on one suite: accuracy at k, kind accuracy, abstention, calibration,
time and cost per case. A crash or an invalid output scores as a miss and is listed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from evals.cases import Truth


@dataclass
class Outcome:
    """One method's answer on one case."""

    case: str
    group: str
    truth: Truth
    ranking: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    confidence: float | None = None
    abstained: bool = False
    seconds: float = 0.0
    queries: int = 0
    llm_input_tokens: int = 0
    error: str | None = None
    # nightowl's: what its top confidence was computed from (evals.calibrate refits on it).
    basis: dict[str, float] = field(default_factory=dict)

    def rank_of_truth(self) -> int | None:
        for position, service in enumerate(self.ranking, 1):
            if self.truth.matches(service):
                return position
        return None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def expected_calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float | None:
    if not pairs:
        return None
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            confidence = sum(c for c, _ in members) / len(members)
            accuracy = sum(ok for _, ok in members) / len(members)
            total += len(members) / len(pairs) * abs(confidence - accuracy)
    return total


def reliability(pairs: list[tuple[float, bool]], bins: int = 10) -> list[dict[str, float]]:
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            rows.append({"bin": round(lo, 2), "count": len(members),
                         "confidence": sum(c for c, _ in members) / len(members),
                         "accuracy": sum(ok for _, ok in members) / len(members)})
    return rows


def score(outcomes: list[Outcome]) -> dict[str, Any]:
    faults = [o for o in outcomes if not o.truth.control]
    controls = [o for o in outcomes if o.truth.control]

    def acc(k: int, subset: list[Outcome]) -> float | None:
        if not subset:
            return None
        hits = sum(1 for o in subset if (r := o.rank_of_truth()) is not None and r <= k)
        return hits / len(subset)

    figures: dict[str, Any] = {"cases": len(outcomes), "fault_cases": len(faults),
                               "control_cases": len(controls)}
    for k in (1, 3, 5):
        figures[f"acc@{k}"] = acc(k, faults)
    at = [acc(k, faults) for k in range(1, 6)]
    figures["avg@5"] = sum(a for a in at if a is not None) / 5 if faults else None
    with_kinds = [o for o in faults if o.kinds]
    figures["kind_acc@1"] = (sum(o.kinds[0] == o.truth.kind for o in with_kinds) / len(with_kinds)
                             if with_kinds else None)
    abstained = [o for o in outcomes if o.abstained]
    figures["abstention_recall"] = (sum(o.abstained for o in controls) / len(controls)
                                    if controls else None)
    figures["abstention_precision"] = (sum(o.truth.control for o in abstained) / len(abstained)
                                       if abstained else None)
    figures["false_abstentions"] = sum(o.abstained for o in faults)
    pairs = [(o.confidence, o.rank_of_truth() == 1) for o in faults
             if o.confidence is not None]
    figures["ece"] = expected_calibration_error(pairs)
    figures["reliability"] = reliability(pairs)
    seconds = [o.seconds for o in outcomes]
    figures["median_s"] = _percentile(seconds, 50)
    figures["p95_s"] = _percentile(seconds, 95)
    figures["queries_per_case"] = sum(o.queries for o in outcomes) / max(1, len(outcomes))
    figures["llm_input_tokens_per_case"] = (sum(o.llm_input_tokens for o in outcomes)
                                            / max(1, len(outcomes)))
    figures["failures"] = [{"case": o.case, "error": o.error} for o in outcomes if o.error]
    groups: dict[str, list[Outcome]] = {}
    for o in faults:
        groups.setdefault(o.group, []).append(o)
    figures["by_group"] = {g: {"cases": len(v), "acc@1": acc(1, v), "acc@3": acc(3, v)}
                           for g, v in sorted(groups.items())}
    return figures
