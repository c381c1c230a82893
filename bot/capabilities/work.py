"""What the agents produce besides incidents: security cases (the Security Analyst's) and, once
the Dev agent's pull requests are stored, its PRs. Read-only here: decisions on them stay
with people, in Slack."""

from __future__ import annotations

from typing import Any

from bot.capabilities.errors import InvalidArgument, NotFoundError
from bot.capabilities.paging import BUDGET_CHARS, paged
from bot.capabilities.records import Records
from bot.capabilities.views import (
    ChecklistStepView,
    ContainmentView,
    PullRequestDetail,
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
from storage.models import PullRequest, SecurityCase

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
    """The Dev agent's draft PRs: reading them is open to agents; opening, approving and
    merging them is not (opening takes a person's click in the thread, merging a reviewer)."""

    def __init__(self, *, api_store: ApiStore, records: Records) -> None:
        self.api_store = api_store
        self.records = records

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
