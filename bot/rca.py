"""The RCA as a person reads it on a phone: the cause and one line of evidence first, the chain
and the candidates under "Details". Plain units, times in UTC, correct plurals.

`rca_view` decides what is said; `bot/slack/blocks.py` draws it as Block Kit and
`bot/report_text.py` as terminal text, so Slack, the console and `nightowl investigate` say
the same thing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from agents.sre.report import Evidence, Report

MAX_CHAIN = 5
MAX_OTHERS = 3
MAX_CHECKED = 6
_Z = re.compile(r",?\s*\(?z=-?[0-9.]+\)?")
_METRIC = re.compile(r' metric="([^"]+)"$')
_ONSET = re.compile(r"\bonset ([0-2]\d:[0-5]\d)")
_HHMM = re.compile(r"\b([0-2]\d:[0-5]\d)\b(?! UTC)")


def utc_text(text: str) -> str:
    """Drop z-scores (statisticians' shorthand) and say which clock the times are on."""
    return _HHMM.sub(r"\1 UTC", _Z.sub("", text)).strip()


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def words(kind: str) -> str:
    return {"cpu": "CPU saturation", "memory": "memory pressure", "disk": "disk pressure",
            "network_delay": "network delay", "network_loss": "packet loss",
            "deploy": "a deploy", "config": "a config change", "traffic": "a traffic surge",
            "code_error": "a code error", "dependency": "a failing dependency",
            "payload": "oversized payloads", "latency": "latency", "errors": "errors",
            "none": "no fault"}.get(kind, kind.replace("_", " "))


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
    """One line: what moved, from what to what, since when (UTC), and how that relates to
    the effect; no z-scores, metric names in words."""
    numbers = item.numbers
    baseline, peak = numbers.get("baseline"), numbers.get("peak")
    tail = _ONSET.split(item.finding, maxsplit=1)
    relation = tail[-1] if len(tail) == 3 else ""  # ", 30 s before cart latency"
    if item.label and isinstance(baseline, int | float) and isinstance(peak, int | float) \
            and item.id != "ev-alert":
        onset = numbers.get("onset")
        since = f" from {onset} UTC" if isinstance(onset, str) and onset != "?" else ""
        who = f" of {item.service}" if item.service else ""
        line = f"{item.label}{who}: {amount(baseline, item.unit)} → {amount(peak, item.unit)}"
        return line + since + relation
    text = item.finding
    metric = _METRIC.search(item.query)
    if metric and text.startswith(metric.group(1) + " "):
        text = metric.group(1).replace("_", " ") + text[len(metric.group(1)):]
    return utc_text(_ONSET.sub(r"from \1", text))


@dataclass(slots=True)
class Line:
    text: str
    link: str | None = None
    status: str = "ok"


@dataclass(slots=True)
class RcaView:
    headline: str
    cause: str | None          # "cart — CPU saturation", None when abstaining
    confidence: float | None
    lead: Line | None          # the one line of evidence under the headline
    caveats: list[str] = field(default_factory=list)
    next_step: str | None = None
    details: list[tuple[str, list[Line]]] = field(default_factory=list)
    footer: str = ""


def rca_view(report: Report) -> RcaView:
    by_id = report.evidence_by_id()
    abstained = report.abstained or not report.root_causes
    caveats = list(report.caveats)
    details: list[tuple[str, list[Line]]] = []
    lead: Line | None
    if abstained:
        lead = _abstention_lead(report)
        view = RcaView(headline="No confident root cause", cause=None, confidence=None,
                       lead=lead)
    else:
        top = report.root_causes[0]
        chain = [by_id[e] for e in top.evidence if e in by_id]
        strongest = next((e for e in reversed(chain) if e.status == "ok"), None)
        lead = Line(evidence_text(strongest), strongest.link) if strongest else None
        view = RcaView(headline="Likely root cause",
                       cause=f"{top.service} — {words(top.kind)}",
                       confidence=top.confidence, lead=lead)
        alert = by_id.get("ev-alert")
        lines = ([Line(evidence_text(alert), alert.link, alert.status)] if alert else [])
        lines += [Line(evidence_text(e), e.link, e.status) for e in chain[:MAX_CHAIN]
                  if e.id != "ev-alert"]
        if lines:
            details.append(("Evidence chain", lines))
    others = report.root_causes[1:1 + MAX_OTHERS] if not abstained \
        else report.root_causes[:MAX_OTHERS]
    if others:
        details.append(("Other candidates", [
            Line(f"{c.service} — {words(c.kind)} ({c.confidence:.0%})") for c in others]))
    if abstained:
        details.append(("What I checked", _checked(report)))
    elif report.coverage:
        details.append(("Not checked", [Line(c) for c in report.coverage]))
    failed = [e for e in report.evidence if e.status == "error"]
    if failed:
        details.append(("Queries that failed", [Line(evidence_text(e), e.link, "error")
                                                for e in failed[:5]]))
    if report.summary and report.claims:  # a model's cited narrative: worth keeping
        details.insert(0, ("Summary", [Line(report.summary)]))
    view.caveats = caveats
    view.next_step = report.next_steps[0] if report.next_steps else None
    view.details = details
    s = report.stats
    view.footer = " · ".join([plural(len(report.hypotheses), "hypothesis", "hypotheses"),
                              plural(s.queries, "query", "queries"),
                              f"{s.elapsed_s:.1f} s",
                              plural(len(report.evidence), "piece of evidence",
                                     "pieces of evidence")])
    return view


def _abstention_lead(report: Report) -> Line:
    """Why there is no answer, in one line: the first honest reason found."""
    by_id = report.evidence_by_id()
    if "ev-noseries" in by_id:
        return Line(by_id["ev-noseries"].finding.split(": nothing")[0] + ".")
    symptom = next((h for h in report.hypotheses if h.kind == "symptom"), None)
    if symptom is not None and symptom.status != "supported" and symptom.reason:
        return Line(f"The alerting signal: {utc_text(symptom.reason)}.")
    if report.root_causes:
        top = report.root_causes[0]
        return Line(f"The strongest lead, {top.service} — {words(top.kind)} "
                    f"({top.confidence:.0%}), is too weak to call.")
    tested = [h for h in report.hypotheses if h.kind != "symptom"]
    return Line(f"Nothing I tested ({plural(len(tested), 'hypothesis', 'hypotheses')}) "
                "explains the alert.")


def _checked(report: Report) -> list[Line]:
    """Each check and why it was inconclusive or ruled out: inconclusive is not refuted."""
    lines: list[Line] = []
    order = {"inconclusive": 0, "supported": 1, "refuted": 2, "pending": 3}
    for h in sorted(report.hypotheses, key=lambda h: (order[h.status], -h.score)):
        if len(lines) >= MAX_CHECKED:
            break
        verdict = {"inconclusive": "inconclusive", "refuted": "ruled out",
                   "supported": "supported", "pending": "not tested"}[h.status]
        reason = f": {utc_text(h.reason)}" if h.reason else ""
        lines.append(Line(f"{h.statement} — {verdict}{reason}",
                          status="insufficient_data" if h.status == "inconclusive" else "ok"))
    rest = len(report.hypotheses) - len(lines)
    if rest > 0:
        lines.append(Line(f"… and {plural(rest, 'more hypothesis', 'more hypotheses')}"))
    lines += [Line(c, status="insufficient_data") for c in report.coverage]
    return lines
