"""The questions thread chat answers without a model, recognised by their wording."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

IntentKind = Literal["changed", "logs", "why_not", "summary", "help"]

_MENTION = re.compile(r"<@[A-Z0-9]+>")
_SERVICE = r"(?:the\s+)?[`'\"]?(?P<service>[\w.-]+)[`'\"]?"
_CHANGED = re.compile(
    r"what(?:'s|\s+has|\s+have|\s+is)?\s+changed\s+(?:in|on|for|with|at)\s+" + _SERVICE
    + r"(?:\s+(?:in|over|during|for)\s+the\s+(?:last|past)\s+(?:(?P<n>\d+)\s*)?"
    r"(?P<unit>minutes?|mins?|m|hours?|hrs?|h)\b)?", re.I)
_LOGS = re.compile(
    r"(?P<errors>error\s+)?logs?\s+(?:of|for|from|in)\s+" + _SERVICE
    + r"(?:\s+(?:since|after|from)\s+(?P<hh>\d{1,2}):(?P<mm>\d{2}))?", re.I)
_WHY_NOT = re.compile(r"why\s+not\s+(?:the\s+)?[`'\"]?(?P<target>[\w .-]+?)[`'\"]?\s*\??\s*$",
                      re.I)
_SUMMARY = re.compile(r"^\s*(summary|status|root cause|what(?:'s| is) the (?:root )?cause)"
                      r"\s*\??\s*$", re.I)
_HELP = re.compile(r"^\s*(help|\?|what can you do\??)\s*$", re.I)


@dataclass(frozen=True, slots=True)
class Intent:
    kind: IntentKind
    target: str = ""
    minutes: int = 60
    since: tuple[int, int] | None = None  # hh, mm (UTC)
    errors_only: bool = True


def strip_mentions(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text).split())


def parse(text: str) -> Intent | None:
    """The intent of a question, or None for a free-form question (a model's job)."""
    question = strip_mentions(text)
    if _HELP.match(question):
        return Intent("help")
    if _SUMMARY.match(question):
        return Intent("summary")
    if match := _CHANGED.search(question):
        n = int(match["n"]) if match["n"] else 1
        unit = (match["unit"] or "h").lower()
        minutes = n * 60 if unit.startswith("h") else n
        return Intent("changed", target=match["service"], minutes=max(1, min(minutes, 24 * 60)))
    if match := _LOGS.search(question):
        since = None
        if match["hh"] is not None:
            hh, mm = int(match["hh"]), int(match["mm"])
            if hh > 23 or mm > 59:
                return None
            since = (hh, mm)
        return Intent("logs", target=match["service"], since=since,
                      errors_only=bool(match["errors"]))
    if match := _WHY_NOT.search(question):
        return Intent("why_not", target=match["target"].strip())
    return None


COMMANDS = (
    "`what changed in <service> in the last 30 minutes?`",
    "`show me the error logs of <service> since 21:30` (UTC)",
    "`why not <service>?`",
    "`summary`",
)
