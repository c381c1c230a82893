"""The investigator's report as terminal text (`nightowl investigate`): the same RCA as the
Slack thread (bot/rca.py), then the hypothesis tree for those who want all of it."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from agents.sre.report import Hypothesis, Report
from bot.rca import Line, rca_view, utc_text

MARK = {"supported": "✔", "refuted": "✗", "inconclusive": "?", "pending": "…"}


def _line(line: Line, *, links: bool) -> str:
    marker = {"error": "⚠", "insufficient_data": "∅"}.get(line.status, "•")
    link = f"\n      {line.link}" if links and line.link else ""
    return f"  {marker} {line.text}{link}"


def render(report: Report, *, links: bool = True) -> str:
    rca = rca_view(report)
    alert = report.alert
    fired = alert.get("fired_at")
    lines = [f"Alert: {alert.get('name')} on {alert.get('service')} ({alert.get('signal')})"
             + (f", fired {fired} UTC" if fired else ""), ""]
    if rca.cause is None:
        lines.append(f"{rca.headline}.")
    else:
        lines.append(f"Likely root cause: {rca.cause} (confidence {rca.confidence:.0%})")
    if rca.lead is not None:
        lines.append(_line(rca.lead, links=links).strip())
    for caveat in rca.caveats:
        lines.append(f"⚠ {caveat}")
    if rca.next_step:
        lines.append(f"Next: {rca.next_step}")
    if rca.details:
        lines += ["", "── Details " + "─" * 40]
        for title, items in rca.details:
            lines.append(f"{title}:")
            lines.extend(_line(item, links=links) for item in items)
    lines += ["", "Hypotheses:"]
    by_id = {h.id: h for h in report.hypotheses}
    children = {c for h in report.hypotheses for c in h.children}
    for root in (h for h in report.hypotheses if h.id not in children):
        _tree(root, by_id, lines, 1)
    if len(report.next_steps) > 1:
        lines += ["", "Next steps:"]
        lines.extend(f"  {i}. {step}" for i, step in enumerate(report.next_steps, 1))
    lines += ["", rca.footer]
    return "\n".join(lines)


def print_report(report: Report, *, as_json: bool) -> None:
    """What `nightowl investigate` prints, offline or live: the JSON contract, or the text."""
    if as_json:
        # allow_nan=False: after finite() none is left, and none may be, as json would write
        # NaN or Infinity, which strict readers (jq, JSON.parse) refuse.
        json.dump(finite(report.contract()), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(render(report))


def finite(value: Any) -> Any:
    """The value with every NaN and infinity in it as None (null): a statistic that overflowed
    on input no reader caught says nothing, and must not make the output unreadable."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def _tree(h: Hypothesis, by_id: dict[str, Hypothesis], lines: list[str], depth: int) -> None:
    reason = f" — {utc_text(h.reason)}" if h.reason and h.status != "supported" else ""
    lines.append(f"{'  ' * depth}{MARK[h.status]} [{h.id}] {utc_text(h.statement)}{reason}")
    for child in h.children:
        if child in by_id:
            _tree(by_id[child], by_id, lines, depth + 1)
