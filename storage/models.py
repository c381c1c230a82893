"""The domain, as SQLModel tables.

Every timestamp is an aware UTC datetime (SQLModel's UTCDateTime column refuses naive ones);
`utcnow()` is the one clock writers use. Enums are stored as their string values, not as
database enum types, so adding a value never needs a PostgreSQL type migration.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.severity import Severity as Severity  # re-exported: the domain's home
from storage.thread_events import ThreadEvent, dump_event, load_event


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive values are taken to be UTC already (as every source we read documents)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Signal(enum.StrEnum):
    LATENCY = "latency"
    ERRORS = "errors"
    AVAILABILITY = "availability"
    SATURATION = "saturation"
    THROUGHPUT = "throughput"
    OTHER = "other"


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    DIAGNOSED = "diagnosed"
    RESOLVED = "resolved"


def _json_column() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Alert(SQLModel, table=True):
    """One notification from one source, normalised. `raw` keeps the source's payload whole."""

    __table_args__ = (
        UniqueConstraint("source", "dedup_key", name="uq_alert_source_dedup"),
        Index("ix_alert_incident", "incident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    dedup_key: str = Field(max_length=255)
    group_key: str = Field(max_length=255)
    status: AlertStatus = Field(sa_type=String(16))
    service: str = Field(default="unknown", max_length=255)
    signal: Signal = Field(default=Signal.OTHER, sa_type=String(16))
    severity: Severity = Field(default=Severity.WARNING, sa_type=String(16))
    title: str = Field(max_length=500)
    started_at: datetime
    ended_at: datetime | None = None
    labels: dict[str, str] = _json_column()
    annotations: dict[str, str] = _json_column()
    links: dict[str, str] = _json_column()
    raw: dict[str, Any] = _json_column()
    received_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    deliveries: int = 1
    incident_id: int | None = Field(default=None, foreign_key="incident.id")


class Incident(SQLModel, table=True):
    """Alerts grouped by `group_key`; one Slack thread."""

    __table_args__ = (Index("ix_incident_group_status", "group_key", "status"),
                      Index("ix_incident_thread", "slack_channel", "slack_ts"))

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(max_length=255)
    source: str = Field(max_length=32)
    title: str = Field(max_length=500)
    service: str = Field(default="unknown", max_length=255)
    signal: Signal = Field(default=Signal.OTHER, sa_type=String(16))
    severity: Severity = Field(default=Severity.WARNING, sa_type=String(16))
    status: IncidentStatus = Field(default=IncidentStatus.OPEN, sa_type=String(16))
    source_url: str | None = Field(default=None, max_length=2000)
    channel: str = Field(max_length=255)
    # Where the root message landed: Slack answers with the channel's id, which edits need.
    slack_channel: str | None = Field(default=None, max_length=64)
    slack_ts: str | None = Field(default=None, max_length=64)
    opened_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    acknowledged_by: str | None = Field(default=None, max_length=255)
    acknowledged_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=255)
    resolved_at: datetime | None = None
    alert_count: int = 0
    firing_count: int = 0
    # `version` grows on every visible change; the renderer brings Slack up to it, so a crash
    # between the database write and the Slack call is repaired on the next drain.
    version: int = 1
    rendered_version: int = 0
    # Set before the root message is posted: after a crash or an unanswered call, the next
    # attempt first looks for the message by its metadata instead of posting it twice.
    slack_post_started_at: datetime | None = None
    # When its latest investigation started: the re-investigate cooldown is claimed on this
    # row, so it holds across replicas (storage.repository.Store.start_investigation).
    last_investigation_at: datetime | None = None


class ThreadUpdate(SQLModel, table=True):
    """Transactional outbox of an incident's thread: typed events (storage.thread_events),
    written with the change that produced them, rendered and posted later by the
    dispatcher. `posted_ts` is the message that shows the event once it landed."""

    __table_args__ = (Index("ix_thread_update_pending", "incident_id", "posted_ts"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    kind: str = Field(max_length=32)  # the event's kind (thread_events), e.g. alert_added, ack
    # The event's fields; None only on rows from before events were typed, which kept the
    # reply's words in `text`.
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    text: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    posted_ts: str | None = Field(default=None, max_length=64)
    post_started_at: datetime | None = None  # as Incident.slack_post_started_at

    @classmethod
    def of(cls, incident_id: int, event: ThreadEvent) -> ThreadUpdate:
        return cls(incident_id=incident_id, kind=event.kind, data=dump_event(event))

    @property
    def event(self) -> ThreadEvent:
        return load_event(self.kind, self.data, self.text)


class DeadLetter(SQLModel, table=True):
    """An authenticated payload we could not parse, kept whole so nothing is lost."""

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    reason: str
    content_type: str | None = Field(default=None, max_length=255)
    body: str
    received_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Who did what, when: button clicks, commands, automatic actions."""

    __table_args__ = (Index("ix_audit_incident", "incident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=255)  # a Slack user id, or "nightowl" for automatic actions
    action: str = Field(max_length=64)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    detail: dict[str, Any] = _json_column()


class SlackEventSeen(SQLModel, table=True):
    """Slack retries the same event (X-Slack-Retry-Num); its id is recorded to handle it once."""

    event_id: str = Field(primary_key=True, max_length=128)
    seen_at: datetime = Field(default_factory=utcnow)


class Investigation(SQLModel, table=True):
    """One run of the SRE agent on an incident (or a scenario)."""

    __table_args__ = (Index("ix_investigation_incident", "incident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    status: str = Field(default="running", max_length=32)  # running | done | failed
    trigger: str = Field(default="auto", max_length=32)  # auto | reinvestigate | cli
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    abstained: bool = False
    top_service: str | None = Field(default=None, max_length=255)
    top_kind: str | None = Field(default=None, max_length=32)
    confidence: float | None = None
    queries: int = 0
    llm_calls: int = 0
    llm_input_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    slack_ts: str | None = Field(default=None, max_length=64)
    post_started_at: datetime | None = None  # as Incident.slack_post_started_at
    # The finished run's message (result or error) is in Slack: the dispatcher retries it
    # until this is set.
    shown_final: bool = False
    # Checkpoint written as the run goes (hypotheses tested so far), so a restart can show
    # where it was and resume in the same Slack message.
    progress: dict[str, Any] = _json_column()
    # The full result in the output contract's shape (hypotheses, evidence, ranked causes).
    result: dict[str, Any] = _json_column()


class Feedback(SQLModel, table=True):
    """A responder's verdict on an investigation: up, down, or the right cause."""

    id: int | None = Field(default=None, primary_key=True)
    investigation_id: int = Field(foreign_key="investigation.id")
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    user: str = Field(max_length=255)
    verdict: str = Field(max_length=16)  # up | down | wrong_cause
    correct_service: str | None = Field(default=None, max_length=255)
    comment: str | None = None
    at: datetime = Field(default_factory=utcnow)


class JobRun(SQLModel, table=True):
    """One run of a background job: the history `nightowl jobs` shows."""

    __table_args__ = (Index("ix_jobrun_job_started", "job", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    trigger: str = Field(default="schedule", max_length=16)  # schedule | manual | retry
    outcome: str = Field(default="running", max_length=16)  # running|ok|failed|interrupted
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    items: int = 0
    summary: str | None = None
    error: str | None = None
    holder: str = Field(default="", max_length=255)  # host:pid of the process that ran it


class Finding(SQLModel, table=True):
    """An error signature a background scan flagged: new, or surging against its baseline.

    One row per (source, signature), however many scans see it, so it is posted once.
    """

    __table_args__ = (UniqueConstraint("source", "signature", name="uq_finding_signature"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)  # sentry | logs
    signature: str = Field(max_length=64)
    service: str = Field(default="unknown", max_length=255)
    kind: str = Field(max_length=16)  # new | surging
    severity: Severity = Field(default=Severity.WARNING, sa_type=String(16))
    title: str = Field(max_length=500)
    example: str = ""
    count: int = 0
    baseline_per_hour: float = 0.0
    link: str | None = Field(default=None, max_length=2000)
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    channel: str = Field(max_length=255)
    posted_ts: str | None = Field(default=None, max_length=64)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")


class Lease(SQLModel, table=True):
    """A named lock held in the database with an expiry (SQLite's stand-in for advisory
    locks): the scheduler's leadership and each running job."""

    name: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=255)
    expires_at: datetime


class LLMCall(SQLModel, table=True):
    """One request to a model (or one refused before it was sent): the spend ledger."""

    __table_args__ = (Index("ix_llmcall_at", "at"), Index("ix_llmcall_agent_at", "agent", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    agent: str = Field(max_length=32)  # sre | chat | ...
    tier: str = Field(default="", max_length=32)
    model: str = Field(max_length=255)  # provider:model
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    investigation_id: int | None = Field(default=None, foreign_key="investigation.id")
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    # ok | error | timeout | rate_limited | overloaded | refused_cap | refused_paused | open_circuit
    status: str = Field(default="ok", max_length=32)
    finish_reason: str | None = Field(default=None, max_length=32)
    fallback: bool = False  # served by a model after the tier's first choice
    error: str | None = None


class Control(SQLModel, table=True):
    """Operator switches that every replica must see at once (e.g. the model stop button)."""

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)
    updated_by: str = Field(default="", max_length=255)
    updated_at: datetime = Field(default_factory=utcnow)


class ApiRequest(SQLModel, table=True):
    """An idempotent write through the API: the same key from the same token gets the same
    answer, however often a client retries it."""

    __table_args__ = (UniqueConstraint("token_name", "key", name="uq_api_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    token_name: str = Field(max_length=255)
    key: str = Field(max_length=255)
    operation: str = Field(max_length=64)
    result_id: int
    at: datetime = Field(default_factory=utcnow)


class EvalRun(SQLModel, table=True):
    """One benchmark run requested through the API (`run_eval`): its suites and figures."""

    id: int | None = Field(default=None, primary_key=True)
    suites: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seed: int = 7
    status: str = Field(default="queued", max_length=16)  # queued|running|done|failed
    requested_by: str = Field(max_length=255)
    requested_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # One entry per suite, as `nightowl eval --json` prints it.
    results: list[dict[str, Any]] = Field(default_factory=list,
                                          sa_column=Column(JSON, nullable=False))
    error: str | None = None


# ---- security cases (the Security Analyst's product surface; persistence in storage/security.py)


class SecurityCase(SQLModel, table=True):
    """One security signal (and its repeats) as a case: triage result, thread, decisions.

    Repeated fires of one rule on one principal fold into the open case (`fires` counts them):
    `fold_key` is unique among open cases, so two replicas cannot open the same case twice.
    """

    __table_args__ = (
        Index("uq_securitycase_open_fold", "fold_key", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_securitycase_thread", "slack_channel", "slack_ts"),
        Index("ix_securitycase_opened", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fold_key: str = Field(max_length=600)  # rule_id + principal
    rule: str = Field(max_length=500)
    rule_id: str = Field(max_length=255)
    source: str = Field(max_length=64)  # sigma | panther | guardduty | ...
    log_type: str = Field(default="", max_length=64)
    severity: str = Field(default="medium", max_length=16)
    principal: str = Field(default="", max_length=255)  # "" when the signal names nobody
    signal: dict[str, Any] = _json_column()  # the first fire, in the case.json `signal` shape
    context: dict[str, Any] = _json_column()  # known-good context triage ran with
    status: str = Field(default="open", max_length=16)  # open | closed
    # Durable flow progress: the last step done (received → collected → triaged → done).
    step: str = Field(default="received", max_length=32)
    step_error: str | None = None
    verdict: str | None = Field(default=None, max_length=32)  # the engine's
    confidence: float | None = None
    triage: dict[str, Any] = _json_column()  # the triage output contract, whole
    fires: int = 1
    first_fired_at: datetime = Field(default_factory=utcnow)
    last_fired_at: datetime = Field(default_factory=utcnow)
    channel: str = Field(max_length=255)
    slack_channel: str | None = Field(default=None, max_length=64)
    slack_ts: str | None = Field(default=None, max_length=64)
    detail_ts: str | None = Field(default=None, max_length=64)  # the triage reply
    version: int = 1
    rendered_version: int = 0
    decision: str | None = Field(default=None, max_length=32)  # a person's verdict
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = None
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    escalated_by: str | None = Field(default=None, max_length=255)
    opened_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=255)


class SecurityCaseEvent(SQLModel, table=True):
    """A raw event a case cites (trigger) or triage read around it (context), kept whole."""

    __table_args__ = (UniqueConstraint("case_id", "event_id", name="uq_securityevent_case"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="securitycase.id")
    event_id: str = Field(max_length=255)
    log_type: str = Field(default="", max_length=64)
    ts: datetime
    role: str = Field(default="trigger", max_length=16)  # trigger | context
    raw: dict[str, Any] = _json_column()


class SecurityCaseUpdate(SQLModel, table=True):
    """The case threads' outbox: a reply written with the change, posted by the dispatcher."""

    __table_args__ = (Index("ix_securityupdate_pending", "case_id", "posted_ts"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="securitycase.id")
    kind: str = Field(max_length=32)  # fired_again | decision | approval | escalated | ...
    text: str
    created_at: datetime = Field(default_factory=utcnow)
    posted_ts: str | None = Field(default=None, max_length=64)


class ContainmentApproval(SQLModel, table=True):
    """A person approved one proposed containment action. Nothing runs without this row."""

    __table_args__ = (UniqueConstraint("case_id", "action_index", name="uq_containment_once"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="securitycase.id")
    action_index: int
    action: str = Field(max_length=255)
    target: str = Field(default="", max_length=500)
    approved_by: str = Field(max_length=255)
    approved_at: datetime = Field(default_factory=utcnow)
    # recorded (no action integration: steps spelled out) | executed | failed
    outcome: str = Field(default="recorded", max_length=16)
    executor: str | None = Field(default=None, max_length=64)
    detail: str = ""


class SecurityFeedback(SQLModel, table=True):
    """A person's verdict on a case; false positives per rule and principal feed suppressions."""

    __table_args__ = (Index("ix_securityfeedback_rule", "rule_id", "principal"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="securitycase.id")
    rule_id: str = Field(max_length=255)
    principal: str = Field(default="", max_length=255)
    user: str = Field(max_length=255)
    verdict: str = Field(max_length=32)  # true_positive | benign | false_positive
    at: datetime = Field(default_factory=utcnow)


class FixProposal(SQLModel, table=True):
    """One remediation the Dev agent offers for an error, and where its flow stands.

    The flow is a sequence of steps (diagnose → offer → prepare → push → open → announce);
    `step` and `progress` are written after each, so a restart resumes where it stopped.
    """

    __table_args__ = (Index("ix_fixproposal_fingerprint", "fingerprint", "repository"),
                      Index("ix_fixproposal_status", "status"))

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=128)  # the error signature the fix is for
    service: str = Field(default="unknown", max_length=255)
    repository: str | None = Field(default=None, max_length=255)  # owner/name
    kind: str = Field(default="none", max_length=16)  # revert | code | resource | none
    status: str = Field(default="new", max_length=32)  # see agents/dev/flow.py
    step: str = Field(default="diagnose", max_length=32)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    finding_id: int | None = Field(default=None, foreign_key="finding.id")
    channel: str | None = Field(default=None, max_length=64)  # the thread it lives in
    thread_ts: str | None = Field(default=None, max_length=64)
    message_ts: str | None = Field(default=None, max_length=64)  # the message with buttons
    suspect: str = Field(default="", max_length=64)
    requested_by: str | None = Field(default=None, max_length=255)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    result: dict[str, Any] = _json_column()  # the error, the deploy, suspects, remediation
    progress: dict[str, Any] = _json_column()  # branch, pushed sha, PR number, ...


class PullRequest(SQLModel, table=True):
    """A pull request nightowl opened, followed until a human merges or closes it."""

    __table_args__ = (UniqueConstraint("repository", "number", name="uq_pullrequest_number"),
                      Index("ix_pullrequest_state", "repository", "state"),
                      Index("ix_pullrequest_fingerprint", "fingerprint"))

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int | None = Field(default=None, foreign_key="fixproposal.id")
    repository: str = Field(max_length=255)
    number: int
    branch: str = Field(max_length=255)
    url: str = Field(default="", max_length=2000)
    fingerprint: str = Field(max_length=128)
    suspect: str = Field(default="", max_length=64)
    kind: str = Field(default="revert", max_length=16)
    state: str = Field(default="open", max_length=16)  # open | merged | closed
    stage: str = Field(default="opened", max_length=32)  # last told: opened|review|approved|...
    head_sha: str = Field(default="", max_length=64)  # what nightowl pushed last
    closed_by: str | None = Field(default=None, max_length=16)  # human | nightowl
    opened_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    synced_at: datetime | None = None


class FlowRun(SQLModel, table=True):
    """One run of a flow (scheduler/flows.py), keyed by (flow, key) so a second start of the
    same work finds the first. In-process: its progress (the next step and the state the
    steps built), resumed on start. On Temporal: the start request itself, kept until
    Temporal accepted it (`pending` → `started`), so a webhook taken while Temporal was down
    still starts its flow when Temporal returns."""

    __table_args__ = (UniqueConstraint("flow", "key", name="uq_flowrun_flow_key"),
                      Index("ix_flowrun_status", "status"))

    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(max_length=64)
    key: str = Field(max_length=255)
    # pending (Temporal: not accepted yet) | started (Temporal has it) | running | waiting
    # (for a person's approval) | done | failed
    status: str = Field(default="running", max_length=16)
    step: int = 0  # index of the next step to run (in-process)
    state: dict[str, Any] = _json_column()
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
