"""Evidence as people read it: one renderer for the RCA (bot/rca.py, Slack, the console,
`nightowl investigate`) and for thread chat (agents/chat), so both say "p99 latency of
checkout: 140 ms → 840 ms (6× its usual) from 21:36 UTC" and never a metric name with a
z-score.

A finding keeps its exact numbers (`Evidence.numbers`, `finding` for models and audits);
these functions only decide how a person sees them.
"""

from __future__ import annotations

import math
import re

from agents.sre.report import Evidence, RootCause
from integrations.telemetry.promql import metric_words

_Z = re.compile(r"\s*\(z=-?[0-9.]+\)|,?\s*(?:at\s+)?z=-?[0-9.]+")
_METRIC = re.compile(r' metric="([^"]+)"$')
_ONSET = re.compile(r"\bonset ([0-2]\d:[0-5]\d)")
_HHMM = re.compile(r"\b([0-2]\d:[0-5]\d)\b(?! UTC)")


# A metric's name inside a sentence (rules' reasons say "latency_p99_ms against error_rate"):
# snake_case naming one of the families the investigator reads, so service names stay as
# they are.
_METRIC_NAME = re.compile(
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_FAMILY_WORD = re.compile(
    r"(?:^|_)(?:latency|lat|duration|cpu|mem|memory|disk|net|network|socket|errors?|5xx|"
    r"requests?|throughput|qps|availability|rate|bytes|seconds|ms|total|p\d{2,3})(?:_|$)")


def _metric_in_words(match: re.Match[str]) -> str:
    name = match.group(0)
    return metric_words(name)[0] if _FAMILY_WORD.search(name) else name


def utc_text(text: str) -> str:
    """A reason or finding as a person reads it: no z-scores (statisticians' shorthand),
    metric names in words, and which clock the times are on."""
    text = _METRIC_NAME.sub(_metric_in_words, _Z.sub("", text))
    return _HHMM.sub(r"\1 UTC", text).strip()


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def words(kind: str) -> str:
    return {"cpu": "CPU saturation", "memory": "memory pressure", "disk": "disk pressure",
            "network_delay": "network delay", "network_loss": "packet loss",
            "deploy": "a deploy", "config": "a config change", "traffic": "a traffic surge",
            "code_error": "a code error", "dependency": "a failing dependency",
            "payload": "oversized payloads", "latency": "latency", "errors": "errors",
            "none": "no fault"}.get(kind, kind.replace("_", " "))


def cause_words(cause: RootCause) -> str:
    """A root cause's kind in words, or what names it better where the kind would mislead."""
    return cause.what or words(cause.kind)


def amount(value: float | str | None, unit: str | None) -> str:
    """A number as a person says it: 0.93 share → 93%, 734003200 bytes → 700 MiB."""
    if value is None or isinstance(value, str):
        return str(value) if value is not None else "?"
    if not math.isfinite(value):
        return "no value"
    if unit == "share":
        return f"{value * 100:.0f}%"
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "bytes":
        size = abs(value)
        for name, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if size >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:.0f} B"
    if unit == "bytes per second":
        return amount(value, "bytes") + "/s"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "ms":
        return f"{value:.3g} ms" if abs(value) < 1000 else f"{value / 1000:.3g} s"
    if unit == "cores":
        return f"{value:.2g} " + ("core" if value == 1 else "cores")
    if unit == "per second":
        return f"{value:.3g}/s"
    if unit:
        return f"{value:.3g} {unit}"
    return f"{value:.3g}"


def evidence_text(item: Evidence) -> str:
    """One line: what moved, from what to what (and how many times its usual), since when
    (UTC), and how that relates to the effect; metric names in words, no z-scores."""
    numbers = item.numbers
    baseline, peak = numbers.get("baseline"), numbers.get("peak")
    tail = _ONSET.split(item.finding, maxsplit=1)
    relation = tail[-1] if len(tail) == 3 else ""  # ", 30 s before cart latency"
    metric = _METRIC.search(item.query)
    label, unit = item.label, item.unit
    if not label and metric:
        label, guessed = metric_words(metric.group(1))
        unit = unit or guessed
    if label and isinstance(baseline, int | float) and isinstance(peak, int | float) \
            and item.id != "ev-alert":
        onset = numbers.get("onset")
        moved = isinstance(onset, str) and onset != "?"
        who = f" of {item.service}" if item.service else ""
        if not moved:
            return (f"{label}{who}: {amount(peak, unit)}, within its normal range (usual "
                    f"{amount(baseline, unit)})")
        line = f"{label}{who}: {amount(baseline, unit)} → {amount(peak, unit)}"
        if baseline > 0 and peak / baseline >= 2:
            ratio = peak / baseline
            line += f" ({ratio:.2g}× its usual)" if ratio < 10 else f" ({ratio:,.0f}× its usual)"
        return line + f" from {onset} UTC" + relation
    text = item.finding
    if metric and text.startswith(metric.group(1) + " "):
        text = (label or metric.group(1)) + text[len(metric.group(1)):]
    return utc_text(_ONSET.sub(r"from \1", text))
