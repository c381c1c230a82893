"""The daily digest's security section: cases by verdict, what waits for a person, top rules.

It goes in the digests that cover every channel ("*") or the security channel itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integrations.redaction import redact
from storage.models import SecurityCase, as_utc
from storage.security import SecurityStore

LABELS = (("true_positive", "🚨 true positive"), ("benign_true_positive", "🟢 benign"),
          ("false_positive", "⚪ false positive"), ("escalate", "🙋 needs a human"))


@dataclass
class SecuritySection:
    opened: int = 0
    by_verdict: dict[str, int] = field(default_factory=dict)
    decided: int = 0  # cases a person gave a verdict on
    agreed: int = 0  # ...and agreed with the engine
    needing_human: list[SecurityCase] = field(default_factory=list)
    approvals_pending: int = 0  # proposed containment on open cases, not approved yet
    cases_waiting_approval: int = 0
    top_rules: list[tuple[str, int, int]] = field(default_factory=list)  # rule, fires, cases

    @property
    def empty(self) -> bool:
        return not (self.opened or self.needing_human or self.approvals_pending)


_AGREES = {"true_positive": "true_positive", "benign": "benign_true_positive",
           "false_positive": "false_positive"}


async def build_security_section(store: SecurityStore, *, start: datetime,
                                 end: datetime) -> SecuritySection:
    cases = await store.cases_touching(start, end)
    opened = [c for c in cases if start <= as_utc(c.opened_at) < end]
    section = SecuritySection(opened=len(opened))
    section.by_verdict = dict(Counter(c.verdict or "escalate" for c in opened))
    decided = [c for c in opened if c.decision]
    section.decided = len(decided)
    section.agreed = sum(_AGREES.get(c.decision or "") == c.verdict for c in decided)
    still_open = [c for c in cases if c.status == "open"]
    section.needing_human = [c for c in still_open if c.decision is None and (
        c.verdict in (None, "escalate") or c.step_error)]
    approved = Counter(a.case_id for a in await store.approvals_for(
        [c.id for c in still_open if c.id is not None]))
    for case in still_open:
        proposed = len(case.triage.get("proposed_actions") or [])
        waiting = max(0, proposed - approved.get(case.id or 0, 0))
        section.approvals_pending += waiting
        section.cases_waiting_approval += waiting > 0
    fires: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for case in cases:
        # Fired in the window, or reached us in it (a scan may read events a while later).
        if as_utc(case.last_fired_at) >= start or as_utc(case.opened_at) >= start:
            fires[case.rule] += case.fires
            count[case.rule] += 1
    section.top_rules = [(rule, n, count[rule]) for rule, n in fires.most_common(5)]
    return section


def _safe(value: str, limit: int = 60) -> str:
    """A rule title or principal (webhook-supplied, so untrusted) as inert mrkdwn."""
    text = "".join(ch for ch in " ".join(redact(value).split()) if ch.isprintable())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        "`", "ʼ")


def security_blocks(section: SecuritySection) -> list[dict[str, Any]]:
    if section.empty:
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text":
                 "🛡️ Security: no new cases, nothing waiting for a person."}]}]
    verdicts = " · ".join(f"{label} {section.by_verdict[key]}" for key, label in LABELS
                          if section.by_verdict.get(key))
    lines = [f"*Security* · {section.opened} new case(s)" + (f": {verdicts}" if verdicts
                                                              else "")]
    if section.decided:
        lines.append(f"• people agreed with the verdict on {section.agreed}/{section.decided} "
                     "decided case(s)")
    if section.needing_human:
        named = ", ".join(f"#{c.id} `{_safe(c.rule, 50)}`" for c in section.needing_human[:3])
        more = len(section.needing_human) - 3
        lines.append(f"• 🙋 {len(section.needing_human)} open case(s) need a human: {named}"
                     + (f" and {more} more" if more > 0 else ""))
    if section.approvals_pending:
        lines.append(f"• 🛡️ {section.approvals_pending} containment action(s) awaiting "
                     f"approval in {section.cases_waiting_approval} case(s)")
    if section.top_rules:
        rules = ", ".join(f"`{_safe(rule, 50)}` {fires}× ({cases} case(s))"
                          for rule, fires, cases in section.top_rules[:3])
        lines.append(f"• top rules: {rules}")
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}}]
