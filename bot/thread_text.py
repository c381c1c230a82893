"""How an incident thread's events read: the words of every reply the outbox posts.

Storage keeps what happened as typed events (storage.thread_events); this module words them
in Slack mrkdwn, which both surfaces speak (the console turns mrkdwn into plain text, see
bot/console.py). Outside text (alert titles, services, notes, a named service) is made inert
here, the one place it enters a reply; user ids become mentions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import assert_never

from agents.untrusted import inert
from storage.thread_events import (
    Acknowledged,
    AlertChanged,
    FeedbackGiven,
    InvestigationFinished,
    InvestigationProgress,
    InvestigationStarted,
    Legacy,
    Note,
    Reopened,
    Resolved,
    ThreadEvent,
)

MAX_LINES_PER_REPLY = 10  # a storm's updates are summed up, not listed one by one


def who(user: str) -> str:
    """A Slack user id becomes a mention; anything else (a source's name) is shown as text."""
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]{2,20}", user) else inert(user)


def duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def event_line(event: ThreadEvent) -> str:
    """One event as one line of a thread reply."""
    if isinstance(event, AlertChanged):
        icon = "🔥" if event.kind == "alert_added" else "✅"
        return (f"{icon} {inert(event.status)}: *{inert(event.title)}* "
                f"({inert(event.service)}, {inert(event.severity)})")
    if isinstance(event, Acknowledged):
        return f"👀 Acknowledged by {who(event.user)}."
    if isinstance(event, Resolved):
        if event.user is not None:
            return f"✅ Resolved by {who(event.user)} after {duration(event.after_s)}."
        return (f"✅ Resolved by {inert(event.source or 'its source')}: every alert of this "
                f"incident has cleared (after {duration(event.after_s)}).")
    if isinstance(event, Reopened):
        return f"↩️ Reopened by {who(event.user)}."
    if isinstance(event, FeedbackGiven):
        if event.verdict == "up":
            return f"👍 {who(event.user)} confirmed the diagnosis."
        if event.verdict == "down":
            return f"👎 {who(event.user)} says the diagnosis is wrong."
        return f"✏️ {who(event.user)} says the cause was `{inert(event.correct_service or '?')}`."
    if isinstance(event, Note):
        return f"📝 Note from {inert(event.author)}: {inert(event.text)}"
    if isinstance(event, Legacy):
        return event.text
    if isinstance(event, InvestigationStarted | InvestigationProgress | InvestigationFinished):
        # An investigation is its own message, edited in place (bot/dispatcher.py).
        raise ValueError(f"{event.kind} is shown as the investigation's message, not a line")
    assert_never(event)


def reply_text(events: Sequence[ThreadEvent], *, more: int = 0) -> str:
    """The reply that carries `events` (and says `more` others happened): one line each,
    the tail summed up past the cap."""
    lines = [event_line(e) for e in events[:MAX_LINES_PER_REPLY]]
    extra = more + max(0, len(events) - MAX_LINES_PER_REPLY)
    if extra:
        lines.append(f"…and {extra} more update(s).")
    return "\n".join(lines)
