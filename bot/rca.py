"""The RCA as a person reads it on a phone: the cause and one line of evidence first, the chain
and the candidates under "Details". Plain units, times in UTC, correct plurals.

`rca_view` decides what is said; `bot/slack/blocks.py` draws it as Block Kit and
`bot/report_text.py` as terminal text, so Slack, the console and `nightowl investigate` say
the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.sre.report import Report
from agents.sre.wording import amount, cause_words, evidence_text, plural, utc_text, words

__all__ = ["MAX_CHAIN", "Line", "RcaView", "amount", "evidence_text", "plural", "rca_view",
           "utc_text", "words"]

MAX_CHAIN = 5
MAX_OTHERS = 3
MAX_CHECKED = 6


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
    young: bool = False        # abstained because the alert is too young to call
    recovered: bool = False    # abstained because the alert recovered by itself
    demand: bool = False       # abstained because more requests did no harm


def rca_view(report: Report) -> RcaView:
    by_id = report.evidence_by_id()
    abstained = report.abstained or not report.root_causes
    caveats = list(report.caveats)
    details: list[tuple[str, list[Line]]] = []
    lead: Line | None
    if abstained:
        lead = _abstention_lead(report)
        young, recovered, demand = report.too_early(), report.recovered(), report.demand()
        view = RcaView(headline="Too early to call" if young else "Recovered by itself"
                       if recovered else "More requests, no harm" if demand
                       else "No confident root cause",
                       cause=None, confidence=None, lead=lead, young=young,
                       recovered=recovered, demand=demand)
    else:
        top = report.root_causes[0]
        chain = [by_id[e] for e in top.evidence if e in by_id]
        strongest = next((e for e in reversed(chain) if e.status == "ok"), None)
        lead = Line(evidence_text(strongest), strongest.link) if strongest else None
        view = RcaView(headline="Likely root cause",
                       cause=f"{top.service} — {cause_words(top)}",
                       confidence=top.confidence, lead=lead)
        if top.where:  # off the confirmed path: said beside the answer, not under Details
            caveats.insert(0, f"{top.service}: {top.where}")
        alert = by_id.get("ev-alert")
        lines = ([Line(evidence_text(alert), alert.link, alert.status)] if alert else [])
        lines += [Line(evidence_text(e), e.link, e.status) for e in chain[:MAX_CHAIN]
                  if e.id != "ev-alert"]
        if lines:
            details.append(("Evidence chain", lines))
    others = report.root_causes[1:1 + MAX_OTHERS]  # the first is the cause, or the lead
    if others:
        details.append(("Other candidates", [
            Line(f"{c.service} — {cause_words(c)}"
                 + ("" if abstained else f" ({c.confidence:.0%})")) for c in others]))
    if abstained:
        # The alert's own expression first: what fired, over the incident window.
        alert = by_id.get("ev-alert")
        checked = [Line(evidence_text(alert), alert.link, alert.status)] if alert else []
        details.append(("What I checked", checked + _checked(report)))
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
        text = f"The alerting signal: {utc_text(symptom.reason)}."
        young, demand = report.too_early(), report.demand()
        if report.root_causes and (young or demand or report.recovered()):
            # Not weak leads: a young alert, one over, or load taken. Worth a glance.
            top = report.root_causes[0]
            text += (f" {'What moved most with the load' if demand else 'Strongest lead'}"
                     f"{' so far' if young else '' if demand else ' while it lasted'}"
                     f": {top.service} — {cause_words(top)}.")
        elif report.root_causes:  # weak leads, named (the rest are under "Other candidates")
            top = report.root_causes[0]
            text += f" Strongest lead, too weak to call: {top.service} — {cause_words(top)}."
        return Line(text)
    if report.root_causes:
        # No percentage: a number beside "too weak to call" reads as a verdict. What the
        # lead rests on is said instead, in words.
        top = report.root_causes[0]
        behind = next((by_id[e] for e in reversed(top.evidence) if e in by_id
                       and by_id[e].status == "ok"), None)
        text = f"The strongest lead, {top.service} — {cause_words(top)}, is too weak to call"
        if behind is None:
            return Line(text + ".")
        return Line(f"{text}: {evidence_text(behind)}.", behind.link)
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
        lines.append(Line(f"{utc_text(h.statement)} — {verdict}{reason}",
                          status="insufficient_data" if h.status == "inconclusive" else "ok"))
    rest = len(report.hypotheses) - len(lines)
    if rest > 0:
        lines.append(Line(f"… and {plural(rest, 'more hypothesis', 'more hypotheses')}"))
    lines += [Line(c, status="insufficient_data") for c in report.coverage]
    return lines
