"""From a remediation to a reviewed draft pull request, in steps that survive a restart.

    repo → prepare (branch at the default branch + the change, committed) → guard (policy)
         → push (force-with-lease against what nightowl pushed) → pull (find by branch and
         marker BEFORE creating; update in place) → decorate (labels, CODEOWNERS reviewers,
         the suspect's author cc'd) → done

`FixProposal.step` and `.progress` are saved after each step, so a process killed anywhere
(even while GitHub is creating the pull request) resumes and ends with exactly one pull
request. Every refusal of the guard is an audit event; a git or GitHub failure is a `failed`
outcome with its reason, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from agents.dev.codeowners import LOCATIONS, owners_for
from agents.dev.policy import Facts, Limits, PRKind, Proposal, Verdict, guard, marker
from integrations.errors import RemoteError
from integrations.github.client import GitHubClient, PullInfo
from integrations.github.push import BOT_EMAIL, BranchPusher, Prepared, PushError
from integrations.github.repos import RepoTarget
from integrations.redaction import redact
from storage.dev import DevStore
from storage.models import FixProposal, PullRequest

log = logging.getLogger(__name__)

Outcome = Literal["opened", "updated", "shadow", "refused", "failed"]


class AuditSink(Protocol):
    async def audit(self, *, actor: str, action: str, incident_id: int | None,
                    detail: dict[str, Any] | None = None) -> None: ...


Paused = Callable[[], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Draft:
    """What to open: everything the guard judges, built by the flow from a remediation."""

    target: RepoTarget
    kind: PRKind
    branch: str
    title: str
    body: str
    commit_message: str
    diff: str
    fingerprint: str
    suspect: str = ""
    by_model: bool = False
    suspect_login: str | None = None
    labels: tuple[str, ...] = ("nightowl",)


@dataclass(frozen=True, slots=True)
class Opened:
    outcome: Outcome
    number: int | None = None
    url: str = ""
    reason: str = ""
    diff: str = ""  # what was (or, in shadow mode, would have been) pushed
    refusals: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


class PullRequestRoad:
    def __init__(self, *, github: GitHubClient, pusher: BranchPusher, store: DevStore,
                 audit: AuditSink, paused: Paused, limits: Limits | None = None,
                 bot_login: str | None = None) -> None:
        self.github = github
        self.pusher = pusher
        self.store = store
        self.audit_log = audit
        self.paused = paused
        self.limits = limits or Limits()
        self.bot_login = bot_login

    async def _save(self, row: FixProposal, step: str, **progress: Any) -> FixProposal:
        row.step = step
        row.progress = {**row.progress, **progress}
        return await self.store.save_proposal(row)

    async def _audit(self, row: FixProposal, actor: str, action: str, **detail: Any) -> None:
        await self.audit_log.audit(actor=actor, action=action, incident_id=row.incident_id,
                                   detail={"proposal": row.id, "repository": row.repository,
                                           "fingerprint": row.fingerprint, **detail})

    async def open(self, row: FixProposal, draft: Draft, *, actor: str) -> Opened:
        try:
            return await self._open(row, draft, actor=actor)
        except (RemoteError, PushError) as exc:
            reason = str(exc)[:500]
            log.warning("proposal %s: %s", row.id, reason)
            row.status, row.error = "failed", reason
            await self._save(row, "failed")
            await self._audit(row, actor, "pr_failed", reason=reason)
            return Opened("failed", reason=reason)

    async def _open(self, row: FixProposal, draft: Draft, *, actor: str) -> Opened:
        target = draft.target
        known = await self.store.open_pull(target.full_name, draft.fingerprint)
        if known is not None and known.branch != draft.branch:
            # One open PR per fingerprint: a new remediation for the same error (other
            # suspects, another branch name) goes onto the PR that is already open.
            draft = replace(draft, branch=known.branch)
        row.status = "pushing"
        row = await self._save(row, "repo")
        repo = await self.github.repo(target.full_name)
        prepared = await self.pusher.prepare(
            full_name=target.full_name, clone_url=repo.clone_url, base=repo.default_branch,
            branch=draft.branch, diff=draft.diff,
            # The commit is made before the guard judges it: mask its message first (the
            # guard still sees the original and records what was masked).
            message=redact(draft.commit_message))
        row = await self._save(row, "guard")
        existing = await self._existing(draft)
        verdict = await self._judge(draft, prepared, repo.default_branch,
                                    updating=existing is not None)
        for refusal in verdict.refusals:
            await self._audit(row, actor, "pr_refused" if refusal.fatal else "pr_redacted",
                              rule=refusal.rule, reason=refusal.reason)
        if not verdict.allowed:
            row.status, row.error = "refused", verdict.reasons()[:2000]
            await self._save(row, "refused")
            return Opened("refused", reason=verdict.reasons(), diff=prepared.diff,
                          refusals=tuple(r.rule for r in verdict.refusals if r.fatal))
        if verdict.shadow:
            row.status = "shadow"
            await self._save(row, "shadow")
            await self._audit(row, actor, "pr_shadow", branch=draft.branch)
            return Opened("shadow", diff=prepared.diff,
                          reason=f"{target.full_name} runs in shadow mode: nothing opened")
        clean = verdict.proposal
        sha = await self._push(row, draft, prepared, repo.clone_url, existing)
        row = await self._save(row, "pull", pushed_sha=sha)
        if existing is not None:
            pull = await self.github.update(target.full_name, existing.number,
                                            title=clean.title, body=clean.body)
            outcome: Outcome = "updated"
        else:
            # Another look right before creating: a run killed after GitHub created the
            # pull request but before we stored its number finds it here.
            again = await self._existing(draft)
            if again is not None:
                pull = await self.github.update(target.full_name, again.number,
                                                title=clean.title, body=clean.body)
                outcome = "updated"
            else:
                pull = await self.github.create_draft(
                    target.full_name, head=draft.branch, base=repo.default_branch,
                    title=clean.title, body=clean.body)
                outcome = "opened"
        record = PullRequest(
            proposal_id=row.id, repository=target.full_name, number=pull.number,
            branch=draft.branch, url=pull.html_url, fingerprint=draft.fingerprint,
            suspect=draft.suspect, kind=draft.kind, state="open", head_sha=sha,
            stage="opened")
        await self.store.record_pull(record)
        row = await self._save(row, "decorate", number=pull.number, url=pull.html_url)
        reviewers: tuple[str, ...] = ()
        if not row.progress.get("decorated"):
            reviewers = await self._decorate(draft, pull, prepared, repo.default_branch)
            row = await self._save(row, "decorate", decorated=True,
                                   reviewers=list(reviewers))
            if reviewers:  # the thread is told with the opening; the sync need not repeat it
                record.stage = "review_requested"
                await self.store.record_pull(record)
        row.status = "opened"
        await self._save(row, "done")
        await self._audit(row, actor, f"pr_{outcome}", number=pull.number, url=pull.html_url,
                          branch=draft.branch)
        return Opened(outcome, number=pull.number, url=pull.html_url, diff=prepared.diff,
                      reviewers=reviewers,
                      notes=tuple(f"{r.rule}: {r.reason}" for r in verdict.refusals))

    async def _existing(self, draft: Draft) -> PullInfo | None:
        """The open pull request of this branch that carries this fingerprint's marker."""
        for pull in await self.github.pulls_for_branch(draft.target.full_name, draft.branch):
            if pull.state == "open" and marker(draft.fingerprint) in pull.body:
                return pull
        return None

    async def _judge(self, draft: Draft, prepared: Prepared, default_branch: str, *,
                     updating: bool) -> Verdict:
        target = draft.target
        open_prs, hour, day = await self.store.rate(target.full_name)
        closed_at = await self.store.human_closed(target.full_name, draft.fingerprint,
                                                  draft.suspect)
        release_at = None
        if closed_at is not None:
            releases = await self.github.releases(target.full_name, limit=5)
            release_at = max((r.published_at for r in releases), default=None)
        facts = Facts(open_prs=open_prs, opened_last_hour=hour, opened_last_day=day,
                      updating=updating, paused=await self.paused(),
                      opted_out=not target.pull_requests, shadow=target.shadow,
                      human_closed_at=closed_at, latest_release_at=release_at)
        proposal = Proposal(
            repository=target.full_name, default_branch=default_branch, branch=draft.branch,
            base=prepared.base, kind=draft.kind, title=draft.title, body=draft.body,
            commit_message=draft.commit_message, diff=prepared.diff, files=prepared.files,
            deleted_files=prepared.deleted_files,
            changed_lines=prepared.added + prepared.deleted, fingerprint=draft.fingerprint,
            suspect=draft.suspect, by_model=draft.by_model)
        return guard(proposal, facts, self.limits)

    async def _push(self, row: FixProposal, draft: Draft, prepared: Prepared, clone_url: str,
                    existing: PullInfo | None) -> str:
        """Push, unless the branch already holds this change or a human has pushed to it."""
        remote = await self.github.branch_sha(draft.target.full_name, draft.branch)
        if remote is None:
            return await self.pusher.push(prepared, clone_url=clone_url, expect=None)
        head = await self.github.commit(draft.target.full_name, remote)
        if head.email != BOT_EMAIL:
            await self._audit(row, "nightowl", "pr_branch_left", branch=draft.branch,
                              reason="a human pushed to the branch; nightowl leaves it as is")
            return remote
        if remote == row.progress.get("pushed_sha") or (
                await self.pusher.same_tree(prepared, remote, clone_url=clone_url)):
            return remote
        return await self.pusher.push(prepared, clone_url=clone_url, expect=remote)

    async def _decorate(self, draft: Draft, pull: PullInfo, prepared: Prepared,
                        default_branch: str) -> tuple[str, ...]:
        name = draft.target.full_name
        await self.github.add_labels(name, pull.number, list(draft.labels))
        text = None
        for location in LOCATIONS:
            text = await self.github.file_text(name, location, ref=default_branch)
            if text is not None:
                break
        exclude = [self.bot_login] if self.bot_login else []
        owners = owners_for(text or "", prepared.files, exclude=exclude)
        users = [u for u in owners.users if u != pull.head]
        if users or owners.teams:
            await self.github.request_reviews(name, pull.number, users=users,
                                              teams=list(owners.teams))
        if draft.suspect_login:
            await self.github.comment(name, pull.number,
                                      f"cc @{draft.suspect_login}: this {draft.kind} touches "
                                      f"your commit `{draft.suspect[:10]}`.")
        return tuple(users) + tuple(f"@{t}" for t in owners.teams)
