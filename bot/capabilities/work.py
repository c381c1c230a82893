"""What the agents produce besides incidents: security cases (the Security Analyst's) and, once
the Dev agent's pull requests are stored, its PRs. Read-only here: decisions on them stay
with people, in Slack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.capabilities.errors import InvalidArgument, NotConfigured, NotFoundError
from bot.capabilities.paging import BUDGET_CHARS, paged
from bot.capabilities.records import Records
from bot.capabilities.views import (
    ChecklistStepView,
    ContainmentView,
    PullRequestDetail,
    PullRequestOpened,
    PullRequestPage,
    PullRequestSummary,
    SecurityCaseDetail,
    SecurityCasePage,
    SecurityCaseSummary,
    SecurityEvidenceView,
)
from integrations.redaction import clip
from storage.api import ApiStore
from storage.errors import NotFound
from storage.models import FixProposal, PullRequest, SecurityCase

if TYPE_CHECKING:
    from bot.capabilities.tokens import Principal
    from bot.dev import DevService

PR_ACTIONS = ("revert", "code", "resource")
# A proposal in one of these offered a pull request (and may have opened it since).
OFFERED = ("offered", "confirmed", "pushing", "opened", "updated", "shadow", "refused")

PR_STATES = ("open", "merged", "closed")
CASE_STATUSES = ("open", "closed")
CASE_VERDICTS = ("true_positive", "benign_true_positive", "false_positive", "escalate")


class SecurityCases:
    def __init__(self, *, api_store: ApiStore, records: Records) -> None:
        self.api_store = api_store
        self.records = records  # for permalinks

    def summary(self, row: SecurityCase) -> SecurityCaseSummary:
        assert row.id is not None
        return SecurityCaseSummary(
            id=row.id, rule=clip(row.rule, 300), severity=row.severity,
            principal=clip(row.principal, 255), status=row.status, verdict=row.verdict,
            confidence=row.confidence, decision=row.decision, fires=row.fires,
            first_fired_at=row.first_fired_at, last_fired_at=row.last_fired_at,
            incident_id=row.incident_id,
            slack_permalink=self.records.permalink(row.slack_channel, row.slack_ts))

    async def list_security_cases(self, *, status: str | None = None,
                                  verdict: str | None = None, cursor: str | None = None,
                                  limit: int | None = None) -> SecurityCasePage:
        if status and status not in CASE_STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(CASE_STATUSES)}")
        if verdict and verdict not in CASE_VERDICTS:
            raise InvalidArgument(f"verdict must be one of {', '.join(CASE_VERDICTS)}")
        return await paged(
            SecurityCasePage, "list_security_cases", {"status": status, "verdict": verdict},
            cursor=cursor, limit=limit, view=self.summary,
            fetch=lambda before, n: self.api_store.security_cases(
                status=status, verdict=verdict, before_id=before, limit=n))

    async def get_security_case(self, case_id: int) -> SecurityCaseDetail:
        try:
            row, approvals = await self.api_store.security_case(case_id)
        except NotFound:
            raise NotFoundError(f"no security case {case_id}",
                                next_tool="list_security_cases") from None
        triage: dict[str, Any] = row.triage or {}
        approved = {a.action_index: a for a in approvals}
        actions = []
        for index, action in enumerate(triage.get("proposed_actions", [])[:10]):
            approval = approved.get(index)
            actions.append(ContainmentView(
                action=clip(str(action.get("action", "")), 200),
                target=clip(str(action.get("target", "")), 300),
                approved_by=approval.approved_by if approval else None,
                outcome=approval.outcome if approval else None))
        detail = SecurityCaseDetail(
            **self.summary(row).model_dump(), source=row.source, log_type=row.log_type,
            decided_by=row.decided_by, summary=clip(str(triage.get("summary", "")), 1500),
            techniques=[{k: str(v) for k, v in t.items()} for t in triage.get("techniques", [])
                        if isinstance(t, dict)][:10],
            checklist=[ChecklistStepView(step=clip(str(s.get("step", "")), 200),
                                         result=clip(str(s.get("result", "")), 500),
                                         evidence=[str(e) for e in s.get("evidence", [])][:10])
                       for s in triage.get("checklist", []) if isinstance(s, dict)],
            evidence=[SecurityEvidenceView(id=str(e.get("id", "")),
                                           events=[str(x) for x in e.get("events", [])][:20],
                                           finding=clip(str(e.get("finding", "")), 500))
                      for e in triage.get("evidence", []) if isinstance(e, dict)],
            proposed_actions=actions)
        while len(detail.model_dump_json()) > BUDGET_CHARS and (detail.evidence
                                                                 or detail.checklist):
            (detail.evidence or detail.checklist).pop()
        return detail


class PullRequests:
    """The Dev agent's draft PRs. Reading them needs `read`; opening the remediation a thread
    offers needs `write` and goes the way the thread's button goes (the same flow, policy
    guard and audit trail). Approving, marking ready and merging are nobody's but a
    reviewer's: no capability does them."""

    def __init__(self, *, api_store: ApiStore, records: Records,
                 dev: DevService | None = None) -> None:
        self.api_store = api_store
        self.records = records
        self.dev = dev

    async def open_pull_request(self, principal: Principal, *, incident_id: int | None = None,
                                finding_id: int | None = None, action: str | None = None,
                                idempotency_key: str | None = None) -> PullRequestOpened:
        """Open the draft PR an incident's or a finding's thread offers, as its button would."""
        if (incident_id is None) == (finding_id is None):
            raise InvalidArgument("give exactly one of incident_id or finding_id")
        if action is not None and action not in PR_ACTIONS:
            raise InvalidArgument(f"action must be one of {', '.join(PR_ACTIONS)}")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            raise InvalidArgument("idempotency_key must be 1 to 255 characters")
        dev = self.dev
        if dev is None or not dev.enabled:
            raise NotConfigured("the Dev agent is off: set GITHUB_TOKEN and NIGHTOWL_REPOS")
        if idempotency_key:
            seen = await self.api_store.remembered(principal.name, idempotency_key)
            if seen is not None:
                return await self._as_opened(await dev.store.proposal(seen.result_id), "")
        what = f"incident {incident_id}" if incident_id is not None else f"finding {finding_id}"
        rows = await dev.store.proposals_of(incident_id=incident_id, finding_id=finding_id)
        row = next((r for r in rows if r.status in OFFERED and r.kind in PR_ACTIONS), None)
        if row is None or row.id is None:
            raise NotFoundError(f"{what} has no remediation on offer (its thread shows why)",
                                next_tool="get_incident" if incident_id else "get_finding")
        kind = action or row.kind
        if kind != row.kind:
            raise InvalidArgument(f"{what} offers a {row.kind} pull request, not {kind}")
        # The same record a click leaves, then the same flow: guard, push, audit, thread.
        await self.records.service.store.audit(
            actor=principal.actor, action=f"api_open_pr:{kind}", incident_id=row.incident_id,
            detail={"proposal": row.id, "repository": row.repository,
                    "finding": row.finding_id})
        opened = await dev.open_pr(row.id, kind, user=principal.actor)
        fresh = await dev.store.proposal(row.id)
        if idempotency_key:
            kept = await self.api_store.remember(principal.name, idempotency_key,
                                                 operation="open_pull_request",
                                                 result_id=row.id)
            if kept.result_id != row.id:  # another request with this key won the race
                return await self._as_opened(await dev.store.proposal(kept.result_id), "")
        if opened is None:  # on Temporal: a worker opens it; get_incident shows the outcome
            return await self._as_opened(fresh, "queued",
                                         reason="a worker is opening it (see get_incident)")
        return await self._as_opened(fresh, opened.outcome, reason=opened.reason,
                                     number=opened.number, url=opened.url)

    async def _as_opened(self, row: FixProposal, outcome: str, *, reason: str = "",
                         number: int | None = None, url: str | None = None
                         ) -> PullRequestOpened:
        assert row.id is not None
        number = number or row.progress.get("number")
        url = url or row.progress.get("url")
        pull_id = None
        if row.repository and self.dev is not None:
            pull = await self.dev.store.open_pull(row.repository, row.fingerprint)
            pull_id = pull.id if pull is not None else None
        return PullRequestOpened(proposal_id=row.id, kind=row.kind, repository=row.repository,
                                 outcome=outcome or row.status, number=number or None,
                                 url=url or None, pull_request_id=pull_id,
                                 reason=clip(reason or (row.error or ""), 600))

    @staticmethod
    def summary(row: PullRequest) -> PullRequestSummary:
        assert row.id is not None
        return PullRequestSummary(
            id=row.id, repository=row.repository, number=row.number, url=row.url,
            kind=row.kind, state=row.state, stage=row.stage, fingerprint=row.fingerprint,
            suspect=row.suspect, opened_at=row.opened_at, closed_at=row.closed_at,
            closed_by=row.closed_by)

    async def list_pull_requests(self, *, state: str | None = None,
                                 repository: str | None = None, cursor: str | None = None,
                                 limit: int | None = None) -> PullRequestPage:
        if state and state not in PR_STATES:
            raise InvalidArgument(f"state must be one of {', '.join(PR_STATES)}")
        return await paged(
            PullRequestPage, "list_pull_requests", {"state": state, "repository": repository},
            cursor=cursor, limit=limit, view=self.summary,
            fetch=lambda before, n: self.api_store.pull_requests(
                state=state, repository=repository, before_id=before, limit=n))

    async def get_pull_request(self, pull_id: int) -> PullRequestDetail:
        try:
            row, proposal = await self.api_store.pull_request(pull_id)
        except NotFound:
            raise NotFoundError(f"no pull request {pull_id}",
                                next_tool="list_pull_requests") from None
        result: dict[str, Any] = proposal.result if proposal is not None else {}
        remediation = result.get("remediation") or {}
        verified = remediation.get("verified") if isinstance(remediation, dict) else None
        suspects = [{k: (clip(str(v), 300) if isinstance(v, str) else v)
                     for k, v in s.items()}
                    for s in (result.get("suspects") or [])[:5] if isinstance(s, dict)]
        detail = PullRequestDetail(
            **self.summary(row).model_dump(), branch=row.branch,
            incident_id=proposal.incident_id if proposal else None,
            finding_id=proposal.finding_id if proposal else None,
            service=proposal.service if proposal else None,
            proposal_status=proposal.status if proposal else None, suspects=suspects,
            verified=verified if isinstance(verified, dict) else None,
            slack_permalink=self.records.permalink(proposal.channel, proposal.thread_ts)
            if proposal else None)
        while len(detail.model_dump_json()) > BUDGET_CHARS and detail.suspects:
            detail.suspects.pop()
        return detail
