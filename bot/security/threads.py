"""Brings each security case's thread up to date with the database (a dispatcher outbox).

A case thread is a root message (one line: what happened and the verdict, with the verdict
buttons), one triage reply (the checklist, techniques and containment with Approve buttons,
edited in place as approvals land) and short replies for what happens later (fired again,
decisions, approvals, escalation), posted from `SecurityCaseUpdate` rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.slack.security_blocks import case_blocks, case_text, triage_blocks, triage_text
from bot.surface import MessageRef
from bot.thread_text import MAX_LINES_PER_REPLY
from storage.security import SecurityStore

Blocks = Sequence[dict[str, Any]]


class CaseSurface(Protocol):
    """What a case thread needs from a chat surface (Slack, or the console)."""

    async def post(self, channel: str, text: str, blocks: Blocks, *, key: str | None = None,
                   since: datetime | None = None) -> MessageRef: ...

    async def update(self, message: MessageRef, text: str, blocks: Blocks) -> MessageRef: ...

    async def post_reply(self, root: MessageRef, text: str, blocks: Blocks | None = None, *,
                         key: str | None = None) -> MessageRef: ...


class CaseThreads:
    kind = "security"

    def __init__(self, store: SecurityStore, surface: CaseSurface, *,
                 executor_names: Sequence[str] = ()) -> None:
        self.store = store
        self.surface = surface
        self.executor_names = list(executor_names)
        # What each triage reply last showed, so a fold that changes only the root (its fire
        # count) does not edit the reply too. Kept in memory: after a restart a reply is
        # edited once more, which is harmless.
        self._shown: dict[int, str] = {}

    async def behind(self) -> list[tuple[int, str]]:
        return await self.store.cases_to_render()

    async def sync(self, item_id: int) -> None:
        case = await self.store.case(item_id)
        version = case.version
        stale = case.rendered_version < version
        if case.slack_ts is None or case.slack_channel is None:
            # Keyed: a root that landed just before a crash (or whose answer was lost) is
            # found by its metadata instead of posted again.
            root = await self.surface.post(case.channel, case_text(case), case_blocks(case),
                                           key=f"security-case/{item_id}/root",
                                           since=case.opened_at)
            # Remembered at once: a failure further down must not post a second root.
            await self.store.mark_root(item_id, channel=root.channel, ts=root.ts)
        else:
            root = MessageRef(case.slack_channel, case.slack_ts)
            if stale:
                await self.surface.update(root, case_text(case), case_blocks(case))
        detail_ts = case.detail_ts
        triaged = bool(case.triage) or (bool(case.step_error)
                                        and case.step in ("triaged", "done"))
        if triaged and (detail_ts is None or stale):
            events = await self.store.events(item_id)
            approvals = await self.store.approvals(item_id)
            blocks = triage_blocks(case, events, approvals, executor_names=self.executor_names)
            shown = json.dumps(blocks, sort_keys=True)
            if detail_ts is None:
                ref = await self.surface.post_reply(root, triage_text(case), blocks,
                                                    key=f"security-case/{item_id}/triage")
                detail_ts = ref.ts
                await self.store.mark_detail(item_id, ts=ref.ts)
            elif self._shown.get(item_id) != shown:
                await self.surface.update(MessageRef(root.channel, detail_ts),
                                          triage_text(case), blocks)
            self._shown[item_id] = shown
        await self.store.mark_rendered(item_id, version=version, channel=root.channel,
                                       ts=root.ts, detail_ts=detail_ts)
        updates = await self.store.pending_updates(item_id)
        if updates:
            lines = [u.text for u in updates]
            if len(lines) > MAX_LINES_PER_REPLY:
                extra = len(lines) - MAX_LINES_PER_REPLY
                lines = [*lines[:MAX_LINES_PER_REPLY], f"…and {extra} more update(s)."]
            ref = await self.surface.post_reply(root, "\n".join(lines))
            await self.store.mark_posted([u.id for u in updates if u.id is not None], ref.ts)
