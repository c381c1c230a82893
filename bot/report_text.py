"""The investigator's report as readable terminal text (`nightowl investigate DIR`)."""

from __future__ import annotations

from agents.sre.report import Hypothesis, Report

MARK = {"supported": "✔", "refuted": "✗", "inconclusive": "?", "pending": "…"}


def render(report: Report) -> str:
    lines: list[str] = []
    alert = report.alert
    lines.append(f"Alert: {alert.get('name')} on {alert.get('service')} "
                 f"({alert.get('signal')}), fired {alert.get('fired_at')} UTC")
    lines.append("")
    if report.abstained or not report.root_causes:
        lines.append("Verdict: no confident root cause")
    else:
        top = report.root_causes[0]
        lines.append(f"Verdict: {top.service} — {top.kind} (confidence {top.confidence:.0%})")
    lines.append("")
    lines.append(report.summary)
    evidence = report.evidence_by_id()
    if report.root_causes and not report.abstained:
        lines.append("")
        lines.append("Evidence chain:")
        for evidence_id in report.root_causes[0].evidence:
            item = evidence.get(evidence_id)
            if item:
                lines.append(f"  [{item.id}] {item.finding}")
    if report.root_causes:
        lines.append("")
        lines.append("Ranked candidates:")
        for rank, cause in enumerate(report.root_causes, 1):
            lines.append(f"  {rank}. {cause.service:<28} {cause.kind:<14} "
                         f"{cause.confidence:>5.0%}  {cause.summary}")
    lines.append("")
    lines.append("Hypotheses:")
    by_id = {h.id: h for h in report.hypotheses}
    children = {c for h in report.hypotheses for c in h.children}
    for root in (h for h in report.hypotheses if h.id not in children):
        _tree(root, by_id, lines, 1)
    if report.next_steps:
        lines.append("")
        lines.append("Next steps:")
        lines.extend(f"  {i}. {step}" for i, step in enumerate(report.next_steps, 1))
    failed = [e for e in report.evidence if e.status == "error"]
    if failed:
        lines.append("")
        lines.append("Queries that failed:")
        lines.extend(f"  [{e.id}] {e.finding}" for e in failed)
    s = report.stats
    lines.append("")
    lines.append(f"{len(report.hypotheses)} hypotheses, {len(report.evidence)} pieces of "
                 f"evidence, {s.queries} queries, {s.services_seen} services, {s.elapsed_s:.2f}s")
    return "\n".join(lines)


def _tree(h: Hypothesis, by_id: dict[str, Hypothesis], lines: list[str], depth: int) -> None:
    reason = f" — {h.reason}" if h.reason and h.status != "supported" else ""
    lines.append(f"{'  ' * depth}{MARK[h.status]} [{h.id}] {h.statement}{reason}")
    for child in h.children:
        if child in by_id:
            _tree(by_id[child], by_id, lines, depth + 1)
