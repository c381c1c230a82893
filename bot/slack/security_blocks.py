"""Block Kit for security cases: a one-line root, the checklist as run, containment to approve.

Everything that came from an event (names, addresses, rule titles from a webhook, the
engine's findings that quote them) is untrusted: it is redacted first, then Slack's control
characters are escaped (`&`, `<`, `>`), so it can neither mention anyone, link anywhere nor
break out of the code span it is quoted in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from integrations.redaction import redact
from storage.models import ContainmentApproval, SecurityCase, SecurityCaseEvent

Block = dict[str, Any]
SECTION_LIMIT = 2900

VERDICTS: dict[str, tuple[str, str]] = {
    "true_positive": ("🚨", "True positive"),
    "benign_true_positive": ("🟢", "Benign (explained)"),
    "false_positive": ("⚪", "False positive"),
    "escalate": ("🙋", "Needs a human"),
}
DECISIONS = {"true_positive": "confirmed a true positive",
             "benign": "marked it benign", "false_positive": "marked it a false positive"}
# Button action ids (bot/slack/security_actions.py handles them).
CONFIRM, BENIGN, FALSE_POSITIVE = "seccase_confirm", "seccase_benign", "seccase_false_positive"
ESCALATE, APPROVE, RAW_EVENT = "seccase_escalate", "seccase_approve", "seccase_raw_event"
RAW_MODAL = "seccase_raw"


def untrusted(value: object, limit: int = 300) -> str:
    """Event-derived text, safe to put in mrkdwn: redacted before it is cut, escaped, one
    line, and without backticks (so a code span it sits in stays closed)."""
    text = redact(str(value))
    # One line, and no control or format characters (terminal escapes, bidi overrides).
    text = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("`", "ʼ"))


def code(value: object, limit: int = 120) -> str:
    return f"`{untrusted(value, limit) or '–'}`"


_AWS_KEY_ID = re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{12})([0-9A-Z]{4})\b")


def target(value: object) -> str:
    """A containment target as code. An AWS access key id is shown as AWS's console shows
    it, by its last four characters (the redactor would mask the whole id otherwise)."""
    return code(_AWS_KEY_ID.sub(lambda m: f"{m.group(1)[:4]}…{m.group(2)}", str(value)))


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text)}


def short_principal(principal: str) -> str:
    """An ARN as people say it: `arn:aws:iam::1234:user/mallory` is mallory, an assumed role
    `Role/session`. The full ARN stays in the checklist."""
    if principal.startswith("arn:") and "/" in principal:
        return principal.split("/", 1)[1]
    return principal


def verdict_label(verdict: str | None) -> tuple[str, str]:
    if verdict is None:
        return "🔎", "Triaging"
    return VERDICTS.get(verdict, ("❔", verdict))


def headline(case: SecurityCase) -> str:
    """The one line that says what happened and what nightowl thinks of it."""
    icon, label = verdict_label(case.verdict)
    if case.step_error and case.verdict is None:
        icon, label = "⚠️", "Needs a human (triage failed)"
    confidence = f" ({case.confidence:.0%})" if case.confidence is not None else ""
    who = f" by {code(short_principal(case.principal), 80)}" if case.principal else ""
    entities = case.signal.get("entities") or {}
    where = f" from {code(entities['ip'], 60)}" if entities.get("ip") else ""
    return f"{icon} *{label}*{confidence} · {code(case.rule, 120)}{who}{where}"


def case_text(case: SecurityCase) -> str:
    """Notification fallback (what a phone shows): plain, short, still escaped."""
    _, label = verdict_label(case.verdict)
    who = f" by {untrusted(short_principal(case.principal), 60)}" if case.principal else ""
    return f"[security] {label}: {untrusted(case.rule, 100)}{who}"


def case_blocks(case: SecurityCase) -> list[Block]:
    closed = case.status == "closed"
    context = [f"Case #{case.id}", untrusted(case.source, 40), untrusted(case.log_type, 40),
               untrusted(case.severity, 16)]
    if case.fires > 1:
        context.append(f"fired {case.fires}×")
    if case.decision and case.decided_by:
        context.append(f"<@{case.decided_by}> {DECISIONS.get(case.decision, case.decision)}")
    if case.incident_id is not None:
        context.append(f"escalated to incident #{case.incident_id}")
    if closed:
        context.append("closed")
    blocks: list[Block] = [
        {"type": "section", "text": _mrkdwn(headline(case))},
        {"type": "context", "elements": [_mrkdwn(" · ".join(context))]},
    ]
    if closed:
        return blocks
    value = str(case.id)
    buttons: list[Block] = []
    if case.decision != "true_positive":
        buttons.append({"type": "button", "action_id": CONFIRM, "value": value,
                        "style": "danger", "text": _plain("Confirm true positive")})
    buttons += [{"type": "button", "action_id": BENIGN, "value": value,
                 "text": _plain("Benign")},
                {"type": "button", "action_id": FALSE_POSITIVE, "value": value,
                 "text": _plain("False positive")}]
    if case.incident_id is None:
        buttons.append({"type": "button", "action_id": ESCALATE, "value": value,
                        "style": "primary", "text": _plain("Escalate"),
                        "confirm": {"title": _plain("Open an incident?"),
                                    "text": _mrkdwn("This opens an incident in the incident "
                                                    "channel for this case."),
                                    "confirm": _plain("Escalate"), "deny": _plain("Cancel")}})
    blocks.append({"type": "actions", "block_id": f"seccase:{case.id}", "elements": buttons})
    return blocks


# ---- the triage reply ----------------------------------------------------------------------


def technique_line(technique: Mapping[str, Any]) -> str:
    tid = str(technique.get("id", ""))
    path = tid.replace(".", "/")
    name = untrusted(technique.get("name", ""), 80)
    tactic = untrusted(technique.get("tactic", ""), 40)
    ok = tid and all(c.isalnum() or c == "." for c in tid)
    label = f"{untrusted(tid, 16)} {name}".strip()
    link = f"<https://attack.mitre.org/techniques/{path}/|{label}>" if ok else label
    return f"{link} ({tactic})" if tactic else link


def _event_options(case_id: int, event_ids: Sequence[str],
                   rows: Mapping[str, int]) -> list[Block]:
    options: list[Block] = []
    for event_id in event_ids:
        row = rows.get(event_id)
        if row is not None and len(options) < 5:
            options.append({"text": _plain(f"Raw event {event_id}", 75),
                            "value": f"{case_id}:{row}"})
    return options


def triage_text(case: SecurityCase) -> str:
    _, label = verdict_label(case.verdict)
    steps = len(case.triage.get("checklist") or [])
    return f"Triage: {label}, {steps} checks"


def triage_blocks(case: SecurityCase, events: Sequence[SecurityCaseEvent],
                  approvals: Sequence[ContainmentApproval], *,
                  executor_names: Sequence[str] = ()) -> list[Block]:
    """The checklist as run (each step with its result and one click to its raw events),
    the ATT&CK techniques, and each proposed containment with its Approve button."""
    assert case.id is not None
    triage = case.triage
    if case.step_error and not triage:
        return [{"type": "section", "text": _mrkdwn(
            f"⚠️ Triage could not run: {untrusted(case.step_error, 400)}. A person needs to "
            "look at this case; the raw events are kept.")}]
    rows = {e.event_id: e.id for e in events if e.id is not None}
    evidence = {str(e.get("id")): [str(x) for x in e.get("events") or []]
                for e in triage.get("evidence") or []}
    blocks: list[Block] = []
    if triage.get("summary"):
        blocks.append({"type": "section",
                       "text": _mrkdwn(f"> {untrusted(triage['summary'], 900)}")})
    lines: list[Block] = []
    for step in (triage.get("checklist") or [])[:20]:
        cited = [str(x) for x in step.get("evidence") or []]
        event_ids = list(dict.fromkeys(e for c in cited for e in evidence.get(c, [c])))
        ids = " ".join(code(e, 40) for e in event_ids[:6])
        text = (f"• *{untrusted(step.get('step', ''), 120)}*: "
                f"{untrusted(step.get('result', ''), 400)}")
        if ids:
            text += f"  {ids}"
        block: Block = {"type": "section", "text": _mrkdwn(text)}
        options = _event_options(case.id, event_ids, rows)
        if len(options) == 1:  # an overflow menu needs two options: one event is a button
            block["accessory"] = {"type": "button", "action_id": RAW_EVENT,
                                  "text": _plain("Raw event"), "value": options[0]["value"]}
        elif options:
            block["accessory"] = {"type": "overflow", "action_id": RAW_EVENT,
                                  "options": options}
        lines.append(block)
    if lines:
        blocks.append({"type": "section", "text": _mrkdwn("*Checklist*")})
        blocks += lines
    techniques = triage.get("techniques") or []
    if techniques:
        blocks.append({"type": "context", "elements": [_mrkdwn(
            "ATT&CK: " + " · ".join(technique_line(t) for t in techniques[:6]))]})
    actions = [a for a in triage.get("proposed_actions") or []][:8]
    if actions:
        approved = {a.action_index: a for a in approvals}
        runner = (f"approved actions run through {', '.join(executor_names)}"
                  if executor_names else "no action integration is configured: an approval "
                  "is recorded and the steps are spelled out")
        blocks.append({"type": "section", "text": _mrkdwn(
            f"*Proposed containment* (nothing runs until a person approves; {runner})")})
        for index, action in enumerate(actions):
            text = f"• {untrusted(action.get('action', ''), 80)} {target(action.get('target', ''))}"
            row = approved.get(index)
            block = {"type": "section", "text": _mrkdwn(text)}
            if row is not None:
                block["text"] = _mrkdwn(f"{text}\n   ✅ approved by <@{row.approved_by}>: "
                                        f"{_outcome(row)}")
            elif case.status == "open":
                block["accessory"] = {
                    "type": "button", "action_id": APPROVE, "value": f"{case.id}:{index}",
                    "text": _plain("Approve"), "style": "danger",
                    "confirm": {"title": _plain("Approve this containment?"),
                                "text": _mrkdwn(f"{text}\nYour name is recorded with it."),
                                "confirm": _plain("Approve"), "deny": _plain("Cancel")}}
            blocks.append(block)
    stats = triage.get("stats") or {}
    footer = [f"{len(events)} events kept", f"{stats.get('elapsed_s', 0):.1f}s"]
    if stats.get("llm_calls"):
        footer.append(f"{stats['llm_calls']} model calls")
    footer.append("event text is quoted as data, never followed")
    if case.step_error:  # a source that could not be read: triage ran on less
        footer.append(f"⚠️ {untrusted(case.step_error, 300)}")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(footer))]})
    return blocks[:50]


def _outcome(row: ContainmentApproval) -> str:
    if row.outcome == "executed":
        return f"done by {untrusted(row.executor or '', 40)}"
    if row.outcome == "failed":
        return f"⚠️ {untrusted(row.executor or '', 40)} failed: {untrusted(row.detail, 200)}"
    return "recorded; nothing was executed (steps in the thread)"


# ---- the raw event ------------------------------------------------------------------------


def raw_event_modal(case: SecurityCase, event: SecurityCaseEvent) -> dict[str, Any]:
    """The event as the source emitted it, redacted, in a code block (escaped: it is data)."""
    body = redact(json.dumps(event.raw, indent=2, sort_keys=True, default=str))
    body = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = body.replace("```", "ʼʼʼ")
    chunks = [body[i:i + 2800] for i in range(0, min(len(body), 2800 * 12), 2800)] or ["{}"]
    blocks: list[Block] = [{"type": "context", "elements": [_mrkdwn(
        f"Case #{case.id} · {code(event.event_id, 60)} · {untrusted(event.log_type, 40)} · "
        f"{event.ts:%Y-%m-%d %H:%M:%S} UTC · {event.role} · redacted; untrusted data")]}]
    blocks += [{"type": "section", "text": _mrkdwn(f"```{chunk}```")} for chunk in chunks]
    if len(body) > 2800 * 12:
        blocks.append({"type": "context", "elements": [_mrkdwn("…cut here (too long for "
                                                               "Slack).")]})
    return {"type": "modal", "callback_id": RAW_MODAL, "title": _plain("Raw event", 24),
            "close": _plain("Close", 24), "blocks": blocks}
