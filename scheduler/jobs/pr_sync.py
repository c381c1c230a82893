"""PR sync: each thread follows its pull request, and stale ones are closed.

For every pull request nightowl opened and still believes open, the job reads it from GitHub
and tells the thread what changed since the last look: review requested, approved, merged or
closed by a human. A human's close without merge is recorded (the policy then leaves that
fingerprint and suspect alone until a new release). A PR whose error has been silent for
`stale_after` and that no human pushed to is closed with a comment and its branch deleted.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from agents.dev.flow import Notifier
from integrations.errors import RemoteError
from integrations.github.client import GitHubClient, PullInfo
from integrations.github.push import BOT_EMAIL
from scheduler.jobs.base import Clock, JobOutcome
from storage.dev import DevStore
from storage.models import PullRequest, as_utc

log = logging.getLogger(__name__)


class PullRequestSyncJob:
    name = "pr_sync"

    def __init__(self, *, store: DevStore, github: GitHubClient, notifier: Notifier,
                 clock: Clock, stale_after: timedelta = timedelta(days=7)) -> None:
        self.store = store
        self.github = github
        self.notifier = notifier
        self.clock = clock
        self.stale_after = stale_after

    async def run(self, *, trigger: str = "schedule") -> JobOutcome:
        changed = failed = 0
        rows = await self.store.pulls(state="open")
        for row in rows:
            try:
                info = await self.github.pull(row.repository, row.number, details=True)
                changed += await self._sync(row, info)
            except RemoteError as exc:
                failed += 1
                log.warning("pr sync: %s#%s: %s", row.repository, row.number, exc)
        if failed and failed == len(rows):
            raise RemoteError(f"GitHub answered none of {failed} pull request(s)")
        summary = f"{len(rows)} open pull request(s) checked, {changed} changed"
        return JobOutcome(items=changed, summary=summary + (f", {failed} failed" if failed
                                                             else ""))

    async def _say(self, row: PullRequest, text: str) -> None:
        if row.proposal_id is None:
            return
        await self.notifier.say(await self.store.proposal(row.proposal_id), text)

    async def _sync(self, row: PullRequest, info: PullInfo) -> int:
        now = self.clock()
        link = f"<{row.url}|{row.repository}#{row.number}>"
        row.synced_at = now
        if info.merged:
            row.state, row.stage, row.closed_at = "merged", "merged", info.merged_at or now
            await self.store.record_pull(row)
            await self._say(row, f"✅ {link} was merged by a human.")
            return 1
        if info.state == "closed":
            row.state, row.stage, row.closed_by = "closed", "closed", "human"
            row.closed_at = info.closed_at or now
            await self.store.record_pull(row)
            await self._say(row, f"🚪 {link} was closed without merging. I'll leave this "
                                 "error and this commit alone until the next release.")
            return 1
        told = 0
        approved = [r.user for r in info.reviews if r.state == "APPROVED"]
        if approved and row.stage != "approved":
            row.stage = "approved"
            await self._say(row, f"👍 {link} was approved by {', '.join(approved)} "
                                 "(a human merges it).")
            told = 1
        elif info.reviewers and row.stage == "opened":
            row.stage = "review_requested"
            await self._say(row, f"👀 Review of {link} requested from "
                                 f"{', '.join(info.reviewers)}.")
            told = 1
        if await self._stale(row, info):
            await self.github.comment(row.repository, row.number,
                                      f"Closing: this error has not been seen for "
                                      f"{self.stale_after.days} days and nobody has pushed "
                                      "to this branch. Reopen it if it is still needed.")
            await self.github.close(row.repository, row.number)
            await self.github.delete_branch(row.repository, row.branch)
            row.state, row.stage, row.closed_by, row.closed_at = "closed", "closed", \
                "nightowl", now
            await self.store.record_pull(row)
            await self._say(row, f"🧹 Closed {link} and deleted its branch: the error has "
                                 f"been silent for {self.stale_after.days} days.")
            return 1
        await self.store.record_pull(row)
        return told

    async def _stale(self, row: PullRequest, info: PullInfo) -> bool:
        if any(email != BOT_EMAIL for email in info.commit_emails):
            return False  # a human pushed to it: theirs now
        last = await self.store.error_last_seen(row.proposal_id)
        reference = as_utc(last) if last is not None else as_utc(row.opened_at)
        return self.clock() - reference >= self.stale_after
