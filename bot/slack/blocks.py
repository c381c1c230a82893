"""Block Kit for incidents and investigations: short, skimmable, evidence one click away."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.sre.report import InvestigationView, Report
from agents.untrusted import inert
from bot.rca import Line, rca_view
from bot.thread_text import who
from integrations.redaction import clip, redact
from storage.models import Alert, Incident, IncidentStatus, as_utc, utcnow

Block = dict[str, Any]

SEVERITY_ICON = {"critical": "🔴", "high": "🟠", "warning": "🟡", "info": "🔵"}
STATUS_LABEL = {
    IncidentStatus.OPEN: "🔥 Open",
    IncidentStatus.INVESTIGATING: "🔎 Investigating",
    IncidentStatus.DIAGNOSED: "🧭 Diagnosed",
    IncidentStatus.RESOLVED: "✅ Resolved",
}
SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    # Masked before it is cut: a cut secret no longer has the shape the redactor knows.
    return clip(text, limit)


esc = inert  # untrusted text in mrkdwn: `<!channel>` in an alert shows as written, pings no one


def link_target(url: str) -> str | None:
    """A URL safe inside `<url|label>`: http(s) only, and nothing that ends the link early."""
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return None
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


_who = who  # one rule for who is a mention (bot/thread_text.py)


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, 150), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text)}


def slack_date(when: Any) -> str:
    ts = int(as_utc(when).timestamp())
    fallback = as_utc(when).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{ts}^{{date_short_pretty}} {{time}}|{fallback}>"


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)}s"
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def incident_text(incident: Incident) -> str:
    """Notification fallback text (what a phone shows)."""
    prefix = "RESOLVED " if incident.status == IncidentStatus.RESOLVED else ""
    return (f"{prefix}[{incident.severity.upper()}] {esc(incident.title)} "
            f"({esc(incident.service)})")


def incident_blocks(incident: Incident, alerts: Sequence[Alert]) -> list[Block]:
    resolved = incident.status == IncidentStatus.RESOLVED
    icon = SEVERITY_ICON.get(str(incident.severity), "⚪")
    since = min((as_utc(a.started_at) for a in alerts), default=as_utc(incident.opened_at))
    if resolved and incident.resolved_at is not None:
        took = (as_utc(incident.resolved_at) - since).total_seconds()
        headline = f"✅ RESOLVED after {duration(took)}: {incident.title}"
    else:
        headline = f"{icon} {incident.title}"
    firing = sum(1 for a in alerts if a.status == "firing")
    fields = [
        _mrkdwn(f"*Status*\n{STATUS_LABEL.get(IncidentStatus(incident.status), incident.status)}"),
        _mrkdwn(f"*Severity*\n{icon} {incident.severity}"),
        _mrkdwn(f"*Service*\n`{esc(incident.service)}`"),
        _mrkdwn(f"*Since*\n{slack_date(since)}"),
        _mrkdwn(f"*Alerts*\n{firing} firing / {len(alerts)} total"),
        _mrkdwn(f"*Source*\n{esc(incident.source)}"),
    ]
    blocks: list[Block] = [
        {"type": "header", "text": _plain(headline)},
        {"type": "section", "fields": fields},
    ]
    context = [f"Incident #{incident.id}"]
    if incident.source_url and link_target(incident.source_url):
        context.append(f"<{link_target(incident.source_url)}|Open in {esc(incident.source)}>")
    if incident.acknowledged_by:
        context.append(f"👀 acknowledged by {_who(incident.acknowledged_by)}")
    if resolved and incident.resolved_by:
        who = incident.resolved_by
        context.append(f"resolved by {_who(who)}")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context))]})
    if not resolved:
        value = str(incident.id)
        buttons: list[Block] = []
        if not incident.acknowledged_by:
            buttons.append({"type": "button", "action_id": "incident_ack", "value": value,
                            "style": "primary", "text": _plain("Acknowledge")})
        buttons.append({
            "type": "button", "action_id": "incident_resolve", "value": value,
            "style": "danger", "text": _plain("Resolve"),
            "confirm": {"title": _plain("Resolve this incident?"),
                        "text": _mrkdwn("The alerts may still be firing."),
                        "confirm": _plain("Resolve"), "deny": _plain("Cancel")},
        })
        buttons.append({"type": "button", "action_id": "incident_reinvestigate",
                        "value": value, "text": _plain("Re-investigate")})
        blocks.append({"type": "actions", "block_id": f"incident:{incident.id}",
                       "elements": buttons})
    else:  # resolved by mistake, or the fix did not hold: one click brings it back
        blocks.append({"type": "actions", "block_id": f"incident:{incident.id}", "elements": [
            {"type": "button", "action_id": "incident_reopen", "value": str(incident.id),
             "text": _plain("Reopen")}]})
    return blocks


# ---- investigations --------------------------------------------------------------------------


def investigation_text(view: InvestigationView) -> str:
    """The notification line (what a phone shows first)."""
    if view.error:  # a failed run is finished: its notification must not still say so
        return "The investigation could not finish"
    report = view.report
    if report is None:
        return "Investigating…"
    rca = rca_view(report)
    if rca.cause is None:
        return rca.headline
    return f"Likely root cause: {rca.cause} ({rca.confidence:.0%})"


def _line(line: Line) -> str:
    # Findings quote telemetry (alert text, log lines): inert in mrkdwn, links http(s) only.
    marker = {"ok": "•", "error": "⚠️", "insufficient_data": "∅"}.get(line.status, "•")
    target = link_target(line.link) if line.link else None
    link = f" <{target}|query>" if target else ""
    return f"{marker} {esc(line.text)}{link}"


def investigation_blocks(view: InvestigationView, *, incident_id: int | None) -> list[Block]:
    if view.error:
        return [{"type": "section", "text": _mrkdwn(
            f"⚠️ The investigation could not finish: {esc(view.error)}")}]
    report = view.report
    if report is None:
        p = view.progress
        line = (f"🔎 *Investigating…* {p.tested} hypotheses tested "
                f"({p.supported} supported, {p.refuted} refuted), {p.queries} queries")
        if p.current:
            line += f"\n_now: {esc(p.current)}_"
        return [{"type": "section", "text": _mrkdwn(line)}]
    return _report_blocks(view, report, incident_id)


def _report_blocks(view: InvestigationView, report: Report, incident_id: int | None) -> list[Block]:
    """Phone-sized: the cause and one line of evidence, then the details."""
    rca = rca_view(report)
    if rca.cause is None:
        head = (f"{'⏳' if rca.young else '✅' if rca.recovered or rca.demand else '🤷'} "
                f"*{rca.headline}.*")
    else:
        service, _, kind = rca.cause.partition(" — ")
        head = (f"🧭 *Likely root cause:* `{esc(service)}` — {esc(kind)} "
                f"(confidence *{rca.confidence:.0%}*)")
    if rca.lead is not None:
        head += "\n" + _line(rca.lead).removeprefix("• ")
    blocks: list[Block] = [{"type": "section", "text": _mrkdwn(head)}]
    if rca.caveats:
        blocks.append({"type": "context", "elements": [
            _mrkdwn("⚠️ " + "; ".join(esc(c) for c in rca.caveats))]})
    if rca.next_step:
        blocks.append({"type": "section", "text": _mrkdwn(f"*Next:* {esc(rca.next_step)}")})
    if rca.details:
        blocks.append({"type": "divider"})
        text = "*Details*"
        for title, lines in rca.details:
            text += f"\n*{title}*\n" + "\n".join(_line(line) for line in lines)
        for chunk in split_text(text, SECTION_LIMIT):
            blocks.append({"type": "section", "text": _mrkdwn(chunk)})
    footer = rca.footer
    if view.note:
        footer += f" · {esc(view.note)}"
    model = report.model
    if model is not None and model.calls:
        footer += (f" · 🤖 {', '.join(model.models)}: {model.calls} "
                   f"{'call' if model.calls == 1 else 'calls'}, ${model.cost_usd:.3f}")
        if report.claims:
            footer += " (summary checked against the evidence)"
        if model.problems:
            footer += f", {len(model.problems)} problems set aside"
    if model is not None and model.unavailable:
        footer += f" · ⚠️ no model this time: {model.unavailable}"
    blocks.append({"type": "context", "elements": [_mrkdwn(footer)]})
    if view.investigation_id is not None:
        value = str(view.investigation_id)
        blocks.append({"type": "actions", "block_id": f"investigation:{value}", "elements": [
            {"type": "button", "action_id": "feedback_up", "value": value, "text": _plain("👍")},
            {"type": "button", "action_id": "feedback_down", "value": value,
             "text": _plain("👎")},
            {"type": "button", "action_id": "feedback_wrong_cause", "value": value,
             "text": _plain("Wrong cause…")},
            *([{"type": "button", "action_id": "incident_reinvestigate",
                "value": str(incident_id), "text": _plain("Re-investigate")}]
              if incident_id is not None else []),
        ]})
    return blocks[:50]


def wrong_cause_modal(investigation_id: int, candidates: Sequence[str]) -> dict[str, Any]:
    options = [{"text": _plain(c), "value": clip(c, 75, ellipsis="")}
               for c in list(dict.fromkeys(candidates))[:100]]
    blocks: list[Block] = []
    if options:
        blocks.append({"type": "input", "block_id": "service_pick", "optional": True,
                       "label": _plain("The right service"),
                       "element": {"type": "static_select", "action_id": "value",
                                   "options": options}})
    blocks.append({"type": "input", "block_id": "service_text", "optional": True,
                   "label": _plain("…or type it"),
                   "element": {"type": "plain_text_input", "action_id": "value"}})
    blocks.append({"type": "input", "block_id": "comment", "optional": True,
                   "label": _plain("What was it really?"),
                   "element": {"type": "plain_text_input", "action_id": "value",
                               "multiline": True}})
    return {"type": "modal", "callback_id": "wrong_cause", "private_metadata":
            str(investigation_id), "title": _plain("Wrong cause"), "submit": _plain("Send"),
            "close": _plain("Cancel"), "blocks": blocks}


def home_blocks(incidents: Sequence[Incident]) -> list[Block]:
    if not incidents:
        return [{"type": "section", "text": _mrkdwn("🦉 *No open incidents.* All quiet.")}]
    now = utcnow()
    blocks: list[Block] = [{"type": "header", "text": _plain(f"Open incidents ({len(incidents)})")}]
    for incident in incidents[:40]:
        age = duration((now - as_utc(incident.opened_at)).total_seconds())
        icon = SEVERITY_ICON.get(str(incident.severity), "⚪")
        status = STATUS_LABEL.get(IncidentStatus(incident.status), incident.status)
        blocks.append({"type": "section", "text": _mrkdwn(
            f"{icon} *#{incident.id} {esc(incident.title)}*\n`{esc(incident.service)}` · "
            f"{status} · open {age} · {esc(incident.channel)}")})
    return blocks


# ---- thread chat -----------------------------------------------------------------------------

SECTION_CHARS = 2900  # Block Kit allows 3,000 characters in a section's text
BLOCKS_PER_MESSAGE = 45  # of Block Kit's 50


def answer_messages(text: str, *, footer: str | None = None) -> list[tuple[str, list[Block]]]:
    """A chat answer as Slack messages: sections split on line boundaries within Block Kit's
    limits, as many messages as it takes; the footer (context) goes on the last one."""
    chunks = [c for c in split_text(redact(text), SECTION_CHARS) if c.strip()]
    sections: list[Block] = [{"type": "section", "text": _mrkdwn(c)} for c in chunks]
    messages: list[tuple[str, list[Block]]] = []
    for start in range(0, max(len(sections), 1), BLOCKS_PER_MESSAGE):
        fallback = " ".join(chunks[start:start + BLOCKS_PER_MESSAGE])[:300] or text[:300]
        messages.append((fallback, sections[start:start + BLOCKS_PER_MESSAGE]))
    if footer:
        messages[-1][1].append({"type": "context", "elements": [_mrkdwn(footer)]})
    return messages


def split_text(text: str, limit: int) -> list[str]:
    """Split on line boundaries so no message exceeds `limit` characters (masked first)."""
    text = redact(text)
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    return [c.rstrip("\n") for c in chunks]
