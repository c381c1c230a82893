"""The Dev agent's flow for one error: suspects → a remediation offered in the thread → on a
person's confirmation, a draft pull request.

Each flow is a `FixProposal` row whose `status` says where it stands:

    diagnosing → offered → confirmed → pushing → opened | updated | shadow | refused | failed
               ↘ unconfigured | nothing (no suspect, or no remediation to offer)

Steps save their progress, so `resume()` on start continues any flow a restart cut off (the
durable-execution work will run the same steps as workflow activities). The engine that finds
suspects and builds remediations is injected (`Diagnose`), as is the `Notifier` that shows
results in Slack: this module never imports Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from agents.dev import pr_body
from agents.dev.policy import BRANCH_PREFIX, PRKind
from agents.dev.pull_requests import AuditSink, Draft, Opened, PullRequestRoad
from agents.dev.resource_need import ResourceFigures
from agents.dev.types import (
    DeployRange,
    ErrorEvent,
    FixResult,
    Frame,
    Remediation,
    SuspectCommit,
    SuspectFile,
    Verification,
)
from integrations.errors import RemoteError
from integrations.github.client import GitHubClient
from integrations.github.repos import VARIABLE, RepoMap, RepoTarget
from storage.dev import DevStore
from storage.models import FixProposal

log = logging.getLogger(__name__)

# (repository, error, deploy) → suspects and a remediation. The engine (agents/dev/engine.py)
# clones the repository and runs blame, revert and the sandbox; see bot/dev.py.
Diagnose = Callable[[RepoTarget, ErrorEvent, DeployRange | None], Awaitable[FixResult]]
# (repository, what the investigation measured) → the manifest change (agents/dev/manifests).
ResourceDiagnose = Callable[[RepoTarget, ResourceFigures], Awaitable[FixResult]]
ACTIONS: dict[str, PRKind] = {"revert": "revert", "code": "code", "resource": "resource"}


@dataclass(frozen=True, slots=True)
class Offer:
    """What the thread shows: the suspects and the pull requests a person may open."""

    repository: str
    suspects: tuple[SuspectCommit, ...]
    files: tuple[SuspectFile, ...]
    case: str
    actions: tuple[str, ...]  # revert | code | resource: one button each
    remediation: Remediation
    notes: tuple[str, ...] = ()
    shadow: bool = False


class Notifier(Protocol):
    async def offer(self, row: FixProposal, offer: Offer) -> str | None:
        """Show the suspects and the buttons; returns the message's ts (to edit it later)."""
        ...

    async def say(self, row: FixProposal, text: str, *, diff: str | None = None,
                  key: str | None = None) -> None:
        """A reply in the proposal's thread (with a diff to show, in shadow mode). With `key`
        (a flow run and step), a reply already posted under that key is not posted again."""
        ...


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """One error the flow starts from: a finding with a stack trace, or an incident whose
    investigation blamed a deploy."""

    fingerprint: str
    error: ErrorEvent
    deploy: DeployRange | None
    channel: str
    thread_ts: str
    incident_id: int | None = None
    finding_id: int | None = None
    thread_url: str | None = None
    incident_title: str | None = None
    evidence: tuple[str, ...] = ()
    # Pods OOM-killed or CPU-throttled: the investigation's figures, for a resource bump
    # instead of suspect commits.
    resources: ResourceFigures | None = None


class DevFlow:
    def __init__(self, *, repos: RepoMap, store: DevStore, notifier: Notifier,
                 diagnose: Diagnose | None, road: PullRequestRoad | None,
                 github: GitHubClient | None, audit: AuditSink | None = None,
                 resources: ResourceDiagnose | None = None) -> None:
        self.audit_log = audit
        self.resources = resources
        self.repos = repos
        self.store = store
        self.notifier = notifier
        self.diagnose = diagnose
        self.road = road
        self.github = github

    # ---- step 1: suspects and an offer ---------------------------------------------------

    async def start(self, report: ErrorReport) -> FixProposal:
        target = self.repos.for_service(report.error.service)
        existing = await self.store.proposal_for(report.fingerprint,
                                                 target.full_name if target else None)
        if existing is not None and existing.status not in ("failed", "nothing"):
            return existing  # one flow per error and repository
        row = await self.store.save_proposal(FixProposal(
            fingerprint=report.fingerprint, service=report.error.service or "unknown",
            repository=target.full_name if target else None, status="diagnosing",
            incident_id=report.incident_id, finding_id=report.finding_id,
            channel=report.channel, thread_ts=report.thread_ts,
            result={"report": _report_dict(report)}))
        if target is None:
            row.status = "unconfigured"
            await self.store.save_proposal(row)
            await self.notifier.say(row, (
                f"🛠️ I can't look for the commit behind this error: no repository is "
                f"configured for `{report.error.service or 'this service'}`. Set `{VARIABLE}` "
                f"(e.g. `{{\"{report.error.service or 'orders'}\": \"acme/orders\"}}`)."))
            return row
        if self.diagnose is None or self.github is None:
            row.status, row.error = "unconfigured", "GITHUB_TOKEN is not set"
            await self.store.save_proposal(row)
            await self.notifier.say(row, "🛠️ Set `GITHUB_TOKEN` so I can read "
                                         f"`{target.full_name}` and suggest a fix.")
            return row
        try:
            if report.resources is not None and self.resources is not None:
                result = await self.resources(target, report.resources)
            else:
                result = await self.diagnose(target, report.error, report.deploy)
        except RemoteError as exc:
            return await self._fail(row, f"reading {target.full_name} failed: {exc}")
        row.result = {**row.result, "fix": result.contract(),
                      "remediation": _remediation_dict(result.remediation),
                      "suspects": [_suspect_dict(s) for s in result.suspects]}
        row.suspect = result.suspects[0].commit if result.suspects else ""
        if self.audit_log is not None:
            # The engine refused some of a model's edits (CI files, tests, paths outside the
            # repository): each is recorded, as the PR guard's refusals are.
            for note in result.notes:
                if note.startswith("refused"):
                    await self.audit_log.audit(
                        actor="nightowl", action="fix_refused", incident_id=row.incident_id,
                        detail={"proposal": row.id, "repository": target.full_name,
                                "fingerprint": row.fingerprint, "reason": note[:500]})
        row.kind = result.remediation.kind
        login = None
        if result.suspects:
            try:
                login = (await self.github.commit(target.full_name, result.suspects[0].commit)
                         ).login
            except RemoteError:
                login = None  # the cc is a courtesy; the commit may not be on GitHub yet
        row.progress = {**row.progress, "suspect_login": login}
        offer = Offer(repository=target.full_name, suspects=result.suspects,
                      files=result.files, case=result.case, actions=_actions(result),
                      remediation=result.remediation, notes=result.notes,
                      shadow=target.shadow)
        row.status = "offered" if offer.actions else "nothing"
        row.step = "offer"
        row = await self.store.save_proposal(row)
        ts = await self.notifier.offer(row, offer)
        if ts:
            row.message_ts = ts
            row = await self.store.save_proposal(row)
        return row

    async def _fail(self, row: FixProposal, reason: str) -> FixProposal:
        log.warning("fix proposal %s: %s", row.id, reason)
        row.status, row.error = "failed", reason[:2000]
        row = await self.store.save_proposal(row)
        await self.notifier.say(row, f"⚠️ No pull request: {reason[:500]}")
        return row

    # ---- step 2: a person confirmed; open the pull request -------------------------------

    async def confirm(self, proposal_id: int, action: str, *, user: str,
                      say_key: str | None = None) -> Opened:
        """Open the pull request a person asked for. `say_key` (the flow run and step doing
        it) keys the thread reply: the step retried after the reply landed (a worker killed
        before Temporal heard of it) finds that reply instead of adding a second line."""
        row = await self.store.proposal(proposal_id)
        if row.status in ("opened", "pushing") and row.progress.get("number"):
            url, number = str(row.progress.get("url", "")), int(row.progress["number"])
            await self.notifier.say(row, f"🔧 Already open: <{url}|#{number}>.", key=say_key)
            return Opened("updated", number=number, url=url, reason="already open")
        kind = ACTIONS.get(action)
        remediation = _remediation_from(row.result.get("remediation") or {})
        if kind is None or kind != remediation.kind:
            return Opened("refused", reason=f"nothing to open for {action!r}")
        row.status, row.requested_by = "confirmed", user
        row.progress = {**row.progress, "action": action}
        row = await self.store.save_proposal(row)
        return await self._open(row, user, say_key)

    async def resume(self) -> int:
        """Continue every flow a restart cut off between confirmation and the PR."""
        rows = await self.store.resumable()
        for row in rows:
            log.info("fix proposal %s: resuming at step %s", row.id, row.step)
            await self._open(row, row.requested_by or "nightowl")
        return len(rows)

    async def _open(self, row: FixProposal, user: str, say_key: str | None = None) -> Opened:
        if self.road is None or row.repository is None:
            return Opened("failed", reason="GitHub is not configured (set GITHUB_TOKEN)")
        target = self.repos.for_service(row.service)
        if target is None or target.full_name != row.repository:
            target = RepoTarget(service=row.service, full_name=row.repository)
        draft = self.draft(row, target)
        opened = await self.road.open(row, draft, actor=user)
        await self.notifier.say(row, outcome_text(opened, target.full_name, user),
                                diff=opened.diff if opened.outcome == "shadow" else None,
                                key=say_key)
        return opened

    def draft(self, row: FixProposal, target: RepoTarget) -> Draft:
        remediation = _remediation_from(row.result.get("remediation") or {})
        report = row.result.get("report") or {}
        suspects = tuple(_suspect_from(s) for s in row.result.get("suspects") or [])
        kind: PRKind = ACTIONS.get(str(remediation.kind), "code")
        ctx = pr_body.PRContext(
            kind=kind, repository=target.full_name, fingerprint=row.fingerprint,
            error=_error_from(report.get("error") or {}), remediation=remediation,
            suspects=suspects, deploy=_deploy_from(report.get("deploy")),
            thread_url=report.get("thread_url"), incident_title=report.get("incident_title"),
            evidence=tuple(report.get("evidence") or ()),
            case=str((row.result.get("fix") or {}).get("case", "unknown")),
            suspect_login=row.progress.get("suspect_login"))
        branch = remediation.branch if remediation.branch.startswith(BRANCH_PREFIX) else (
            f"{BRANCH_PREFIX}{kind}-{row.fingerprint[:12]}")
        return Draft(target=target, kind=kind, branch=branch, title=pr_body.title(ctx),
                     body=pr_body.body(ctx), commit_message=pr_body.commit_message(ctx),
                     diff=remediation.diff, fingerprint=row.fingerprint, suspect=row.suspect,
                     by_model=kind == "code", suspect_login=row.progress.get("suspect_login"),
                     labels=tuple(pr_body.labels(kind)))


def _actions(result: FixResult) -> tuple[str, ...]:
    r = result.remediation
    if not r.diff.strip():
        return ()
    if r.kind == "revert":
        return ("revert",)
    if r.kind == "code" and r.verified is not None and r.verified.passed:
        return ("code",)  # an unverified fix stays a suggestion in the thread
    if r.kind == "resource":
        return ("resource",)
    return ()


def outcome_text(opened: Opened, repository: str, user: str) -> str:
    who = (f"`{user}` through the API" if user.startswith("api:") else
           f"<@{user}>" if user and user != "nightowl" else "nightowl")
    if opened.outcome == "opened":
        extra = f" Review requested from {', '.join(opened.reviewers)}." if opened.reviewers \
            else ""
        return (f"🔧 Draft pull request opened on `{repository}` (asked by {who}): "
                f"<{opened.url}|#{opened.number}>.{extra}")
    if opened.outcome == "updated":
        return f"🔧 Updated the draft pull request <{opened.url}|#{opened.number}> in place."
    if opened.outcome == "shadow":
        return f"👀 Shadow mode: this is the change I would propose on `{repository}`."
    if opened.outcome == "refused":
        return f"🛑 No pull request: {opened.reason[:600]}"
    return f"⚠️ No pull request: {opened.reason[:600]}"


# ---- (de)serialising the flow's inputs into the proposal row -----------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _report_dict(report: ErrorReport) -> dict[str, Any]:
    e, d = report.error, report.deploy
    return {"error": {"title": e.title, "type": e.type, "value": e.value, "service": e.service,
                      "count": e.count, "first_seen": _iso(e.first_seen),
                      "last_seen": _iso(e.last_seen),
                      "frames": [{"filename": f.filename, "lineno": f.lineno,
                                  "function": f.function, "in_app": f.in_app,
                                  "context_line": f.context_line} for f in e.frames]},
            "deploy": None if d is None else {"to": d.to_sha, "from": d.from_sha,
                                              "service": d.service, "at": _iso(d.at)},
            "thread_url": report.thread_url, "incident_title": report.incident_title,
            "evidence": list(report.evidence),
            "resources": report.resources.as_dict() if report.resources else None}


def _error_from(raw: dict[str, Any]) -> ErrorEvent:
    return ErrorEvent(
        title=str(raw.get("title", "")), type=str(raw.get("type", "")),
        value=str(raw.get("value", "")), service=str(raw.get("service", "")),
        count=int(raw.get("count") or 0), first_seen=_time(raw.get("first_seen")),
        last_seen=_time(raw.get("last_seen")),
        frames=tuple(Frame(filename=str(f["filename"]), lineno=int(f["lineno"]),
                           function=str(f.get("function", "")),
                           in_app=bool(f.get("in_app", True)),
                           context_line=str(f.get("context_line", "")))
                     for f in raw.get("frames") or []))


def _deploy_from(raw: Any) -> DeployRange | None:
    if not isinstance(raw, dict) or not raw.get("to"):
        return None
    return DeployRange(to_sha=str(raw["to"]), from_sha=raw.get("from"),
                       service=str(raw.get("service", "")), at=_time(raw.get("at")))


def _suspect_dict(s: SuspectCommit) -> dict[str, Any]:
    return {**s.contract(), "email": s.email, "files": list(s.files)}


def _suspect_from(raw: dict[str, Any]) -> SuspectCommit:
    return SuspectCommit(commit=str(raw["commit"]), author=str(raw.get("author", "")),
                         title=str(raw.get("title", "")), score=float(raw.get("score", 0)),
                         why=str(raw.get("why", "")), when=_time(raw.get("when")),
                         pr=raw.get("pr"), in_range=raw.get("in_range"),
                         email=str(raw.get("email", "")),
                         files=tuple(raw.get("files") or ()))


def _remediation_dict(r: Remediation) -> dict[str, Any]:
    return {**r.contract(), "commits": list(r.commits)}


def _remediation_from(raw: dict[str, Any]) -> Remediation:
    v = raw.get("verified")
    return Remediation(
        kind=raw.get("kind", "none"), branch=str(raw.get("branch", "")),
        diff=str(raw.get("diff", "")),
        verified=Verification(str(v.get("command", "")), v.get("before_exit"),
                              v.get("after_exit")) if isinstance(v, dict) else None,
        message=str(raw.get("message", "")), files=tuple(raw.get("files") or ()),
        commits=tuple(raw.get("commits") or ()))

