"""Traces as evidence: how a service's own spans changed since the split.

Per service, its spans before and after the split: the share that failed, and the self-time
of each operation (a span's duration minus its children's, where the children are known):
a code fault shows as the deepest spans that fail (or slow down) while the spans they call
stay healthy. The counts are compared as proportions (a binomial z against the baseline's
rate, with one pseudo-failure so that a clean baseline does not divide by zero).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from integrations.telemetry.base import Span

# The verdict's minimums (spans before and after the split) and the self-time growth that
# counts as slowed are fields of `agents.sre.rules.Thresholds` (`min_spans`,
# `min_spans_after`, `span_slower`); the toolbox passes them in.


@dataclass(slots=True)
class SpanVerdict:
    service: str
    before: int
    after: int
    failed_before: int
    failed_after: int
    error_z: float          # how far the failing share rose, in binomial sigmas
    self_z: float           # the largest rise in median self-time of an operation (robust z)
    slow_operation: str
    onset: float | None     # the first failing (or slowed) span after the split
    evidence_id: str = ""

    @property
    def failing(self) -> bool:
        return self.error_z >= 3.0

    @property
    def slowed(self) -> bool:
        return self.self_z >= 3.0

    def describe(self) -> str:
        parts = [f"{self.failed_after} of {self.after} spans failed since the split "
                 f"({self.failed_before} of {self.before} before, z={self.error_z:.1f})"]
        if self.slowed:
            parts.append(f"{self.slow_operation} self-time up (z={self.self_z:.1f})")
        return "; ".join(parts)


def self_times(spans: list[Span], children: list[Span]) -> dict[str, float]:
    """Each span's own time: its duration minus its children's (clipped at 0)."""
    below: dict[tuple[str, str], float] = defaultdict(float)
    for child in children:
        if child.parent_id:
            below[(child.trace_id, child.parent_id)] += child.duration_ms
    return {span.span_id + span.trace_id:
            max(span.duration_ms - below.get((span.trace_id, span.span_id), 0.0), 0.0)
            for span in spans}


def judge_spans(service: str, spans: list[Span], children: list[Span], *,
                split: float, min_spans: float = 5, min_spans_after: float = 3,
                slower: float = 1.5) -> SpanVerdict | None:
    own = [s for s in spans if s.service == service]
    before = [s for s in own if s.start < split]
    after = [s for s in own if s.start >= split]
    if len(before) < min_spans or len(after) < min_spans_after:
        return None
    failed_before = sum(s.status == "error" for s in before)
    failed_after = sum(s.status == "error" for s in after)
    rate = (failed_before + 1) / (len(before) + 2)
    error_z = (failed_after / len(after) - rate) / math.sqrt(rate * (1 - rate) / len(after))
    own_time = self_times(own, children)
    self_z, slow_op = 0.0, ""
    by_op: dict[str, tuple[list[float], list[float], list[float]]] = defaultdict(
        lambda: ([], [], []))
    for span in own:
        old, new, durations = by_op[span.operation]
        (new if span.start >= split else old).append(own_time[span.span_id + span.trace_id])
        durations.append(span.duration_ms)
    for operation, (old, new, durations) in by_op.items():
        if len(old) < min_spans or len(new) < min_spans_after:
            continue
        base = np.asarray(old)
        median, now = float(np.median(base)), float(np.median(new))
        # The noise floor: a tenth of the operation's typical duration, at least 1 ms (a
        # self-time that is 0 in most spans has no spread of its own to divide by).
        scale = max(1.4826 * float(np.median(np.abs(base - median))),
                    0.1 * float(np.median(durations)), 1.0)
        if now < slower * median + 1.0:
            continue  # a real slowdown of the service's own work is large, not a drift
        z = (now - median) / scale
        if z > self_z:
            self_z, slow_op = z, operation
    onset = None
    if error_z >= 3.0:
        # Spans are sampled, and only some requests fail: the first failure seen comes a
        # few spans after the fault began. Date it two mean span intervals earlier (never
        # before the split): on a quiet service that is minutes.
        first = min(s.start for s in after if s.status == "error")
        starts = sorted(s.start for s in after)
        interval = (starts[-1] - starts[0]) / max(len(starts) - 1, 1)
        onset = max(first - 2 * interval, split)
    elif self_z >= 3.0:
        onset = min(s.start for s in after)
    return SpanVerdict(service, len(before), len(after), failed_before, failed_after,
                       round(error_z, 2), round(self_z, 2), slow_op, onset)
