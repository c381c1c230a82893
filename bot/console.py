"""The console chat surface: the same thread as Slack, drawn in a terminal (demo, no keys)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from agents.sre.report import InvestigationView
from bot.slack.blocks import incident_blocks, investigation_blocks
from bot.surface import MessageRef, Tag
from bot.thread_text import reply_text
from storage.models import Alert, Incident
from storage.thread_events import ThreadEvent

_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_DATE = re.compile(r"<!date\^\d+\^[^|]+\|([^>]+)>")
_USER = re.compile(r"<@([^>]+)>")
# Paired emphasis only, opened and closed by the same mark, not inside a word: the
# underscores of `cpu_busy_share` stay, and a lone backtick is left as it is.
_EMPHASIS = re.compile(r"(?<![\w*`])([*_`])(?=\S)([^\n]*?\S)\1(?![\w*`])")


def mrkdwn_to_text(text: str) -> str:
    text = _DATE.sub(r"\1", text)
    text = _LINK.sub(r"\2 (\1)", text)
    text = _USER.sub(r"@\1", text)
    return _EMPHASIS.sub(r"\2", text)


def blocks_to_lines(blocks: Sequence[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(block["text"]["text"])
        elif kind == "section":
            if "text" in block:
                lines.extend(mrkdwn_to_text(block["text"]["text"]).splitlines())
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":
                lines[-1:] = [f"{lines[-1] if lines else ''}  [ {accessory['text']['text']} ]"]
            elif accessory.get("type") == "overflow":
                lines[-1:] = [f"{lines[-1] if lines else ''}  [ ⋯ ]"]
            fields = [mrkdwn_to_text(f["text"]).replace("\n", ": ", 1)
                      for f in block.get("fields", [])]
            if fields:
                lines.append("  ".join(f"[{f}]" for f in fields))
        elif kind == "context":
            lines.append(" ".join(mrkdwn_to_text(e.get("text", "")) for e in block["elements"]))
        elif kind == "divider":
            lines.append("─" * 24)
        elif kind == "actions":
            lines.append(" ".join(f"[ {e['text']['text']} ]" for e in block["elements"]))
    return lines


class ConsoleSurface:
    def __init__(self, out: TextIO, *, show_progress: bool = False) -> None:
        self.out = out
        self.show_progress = show_progress
        self._ts = itertools.count(1)

    def _next(self, channel: str) -> MessageRef:
        return MessageRef(channel, f"console.{next(self._ts)}")

    def _box(self, title: str, lines: list[str], indent: str = "") -> None:
        width = max([len(title) + 4, *(len(line) + 4 for line in lines), 40])
        width = min(width, 110)
        self.out.write(f"{indent}┌─ {title} " + "─" * max(0, width - len(title) - 4) + "\n")
        for line in lines:
            self.out.write(f"{indent}│ {line}\n")
        self.out.write(f"{indent}└" + "─" * (width - 1) + "\n")
        self.out.flush()

    async def show_incident(self, incident: Incident, alerts: Sequence[Alert]) -> MessageRef:
        edited = incident.slack_ts is not None
        ref = (MessageRef(incident.slack_channel or incident.channel, incident.slack_ts)
               if incident.slack_ts else self._next(incident.channel))
        verb = "edited" if edited else "posted"
        self._box(f"{incident.channel} · root message {verb}",
                  blocks_to_lines(incident_blocks(incident, alerts)))
        return ref

    async def reply(self, incident: Incident, text: str,
                    blocks: Sequence[dict[str, Any]] | None = None, *,
                    tag: Tag | None = None) -> MessageRef:
        lines = blocks_to_lines(blocks) if blocks else mrkdwn_to_text(text).splitlines()
        self._box("thread reply", lines, indent="    ")
        return self._next(incident.slack_channel or incident.channel)

    async def post_events(self, incident: Incident, events: Sequence[ThreadEvent], *,
                          tag: Tag, more: int = 0) -> MessageRef:
        self._box("thread reply", mrkdwn_to_text(reply_text(events, more=more)).splitlines(),
                  indent="    ")
        return self._next(incident.slack_channel or incident.channel)

    async def post(self, channel: str, text: str, blocks: Sequence[dict[str, Any]], *,
                   key: str | None = None, since: datetime | None = None) -> MessageRef:
        self._box(f"{channel} · message", blocks_to_lines(blocks) or [mrkdwn_to_text(text)])
        return self._next(channel)

    async def update(self, message: MessageRef, text: str, blocks: Sequence[dict[str, Any]],
                     ) -> MessageRef:
        self._box(f"{message.channel} · message edited",
                  blocks_to_lines(blocks) or [mrkdwn_to_text(text)])
        return message

    async def post_reply(self, root: MessageRef, text: str,
                         blocks: Sequence[dict[str, Any]] | None = None, *,
                         key: str | None = None) -> MessageRef:
        lines = blocks_to_lines(blocks) if blocks else mrkdwn_to_text(text).splitlines()
        self._box("thread reply", lines, indent="    ")
        return self._next(root.channel)

    async def upload(self, channel: str, *, filename: str, content: bytes, title: str,
                     comment: str) -> None:
        self._box(f"{channel} · file", [f"{title}: {filename} ({len(content):,} bytes)"])

    async def find_posted(self, incident: Incident, tag: Tag, *,
                          since: datetime) -> MessageRef | None:
        return None  # a terminal keeps no history to search; what it printed, it printed

    async def show_investigation(
        self, incident: Incident, view: InvestigationView, *, message: MessageRef | None,
        tag: Tag | None = None,
    ) -> MessageRef:
        if view.report is None and view.error is None and not self.show_progress:
            return message or self._next(incident.slack_channel or incident.channel)
        lines = blocks_to_lines(investigation_blocks(view, incident_id=incident.id))
        title = "thread reply · investigation" + (" (edited)" if message else "")
        self._box(title, lines, indent="    ")
        return message or self._next(incident.slack_channel or incident.channel)

    async def thread_post(self, channel: str, thread_ts: str, text: str,
                          blocks: Sequence[dict[str, Any]], *, key: str | None = None) -> str:
        """A reply in any thread (the Dev agent replies under findings too). `key` is for
        the Slack surface's retried steps; the console runs in one process, once."""
        self._box("thread reply", blocks_to_lines(blocks) or [mrkdwn_to_text(text)],
                  indent="    ")
        return self._next(channel).ts
