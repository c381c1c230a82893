"""The chat-surface seam: the same incident thread rendered to Slack or to a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from agents.sre.report import InvestigationView
from storage.models import Alert, Incident
from storage.thread_events import ThreadEvent

# (kind, key) written into a message's metadata: ("incident", incident id),
# ("update", first thread update id), ("investigation", investigation id).
Tag = tuple[str, int]


@dataclass(frozen=True, slots=True)
class MessageRef:
    channel: str  # the surface's own channel id (Slack answers names with ids)
    ts: str


class ChatSurface(Protocol):
    async def show_incident(self, incident: Incident, alerts: Sequence[Alert]) -> MessageRef:
        """Post the incident's root message (no `slack_ts` yet) or edit it in place."""
        ...

    async def reply(self, incident: Incident, text: str,
                    blocks: Sequence[dict[str, Any]] | None = None, *,
                    tag: Tag | None = None) -> MessageRef:
        """Post a reply in the incident's thread (`text` is the fallback when `blocks`).
        `tag` goes into the message's metadata, so `find_posted` can find it again."""
        ...

    async def post_events(self, incident: Incident, events: Sequence[ThreadEvent], *,
                          tag: Tag, more: int = 0) -> MessageRef:
        """Post one reply in the incident's thread that shows `events` (typed, from the
        outbox) and says `more` were left out, worded by this surface; `tag` as in
        `reply`."""
        ...

    async def show_investigation(
        self, incident: Incident, view: InvestigationView, *, message: MessageRef | None,
        tag: Tag | None = None,
    ) -> MessageRef:
        """Post the investigation's message in the thread, or edit it in place."""
        ...

    async def find_posted(self, incident: Incident, tag: Tag, *,
                          since: datetime) -> MessageRef | None:
        """The message posted with `tag` since `since`, if one landed: asked before posting
        again after a crash or an unanswered call (the root's tag is ("incident", id))."""
        ...

    async def post(self, channel: str, text: str, blocks: Sequence[dict[str, Any]], *,
                   key: str | None = None, since: datetime | None = None) -> MessageRef:
        """Post a message to a channel, outside any incident (findings, digests, ops). With
        `key`, at most once: a message carrying it posted since `since` is returned instead."""
        ...

    async def update(self, message: MessageRef, text: str, blocks: Sequence[dict[str, Any]],
                     ) -> MessageRef:
        """Edit a message in place (a security case's root or triage reply)."""
        ...

    async def post_reply(self, root: MessageRef, text: str,
                         blocks: Sequence[dict[str, Any]] | None = None, *,
                         key: str | None = None) -> MessageRef:
        """Post in the thread under `root`, a message that is not an incident's; with `key`,
        at most once."""
        ...

    async def upload(self, channel: str, *, filename: str, content: bytes, title: str,
                     comment: str) -> None:
        """Upload a file (e.g. the digest's chart) to a channel."""
        ...
