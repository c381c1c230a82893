"""What happened in an incident's thread, as data: the outbox (`ThreadUpdate`) holds these
typed events, and each chat surface words them its own way (bot/thread_text.py). Nothing
here knows how a message reads; storage only keeps what happened and who did it.

Events are stored as JSON in `ThreadUpdate.data`, discriminated by `kind` (which is also the
row's `kind` column). Fields hold raw values (a user id, an alert's title as the source sent
it): escaping and redaction belong to the surface that renders them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertChanged(_Event):
    """An alert joined the open incident (`alert_added`) or cleared (`alert_resolved`)."""

    kind: Literal["alert_added", "alert_resolved"]
    title: str
    service: str
    severity: str
    status: str


class Acknowledged(_Event):
    kind: Literal["ack"] = "ack"
    user: str


class Resolved(_Event):
    """By a person (`user`), or by its source when every alert cleared (`source`)."""

    kind: Literal["resolved"] = "resolved"
    user: str | None = None
    source: str | None = None
    after_s: int  # how long the incident was open (from its first alert's start, by source)


class Reopened(_Event):
    """A person reopened a resolved incident (it had been resolved by mistake)."""

    kind: Literal["reopened"] = "reopened"
    user: str


class FeedbackGiven(_Event):
    kind: Literal["feedback"] = "feedback"
    user: str
    verdict: Literal["up", "down", "wrong_cause"]
    correct_service: str | None = None


class Note(_Event):
    """A note someone added through the API or MCP (`author` is the principal's name)."""

    kind: Literal["note"] = "note"
    author: str
    text: str


class Legacy(_Event):
    """A reply written before events were typed (its text was worded in storage)."""

    kind: Literal["legacy"] = "legacy"
    text: str


class InvestigationStarted(_Event):
    kind: Literal["investigation_started"] = "investigation_started"
    investigation_id: int
    resumed: bool = False  # a run a previous process left running, resumed after a restart


class InvestigationProgress(_Event):
    kind: Literal["investigation_progress"] = "investigation_progress"
    investigation_id: int


class InvestigationFinished(_Event):
    kind: Literal["investigation_finished"] = "investigation_finished"
    investigation_id: int


ThreadEvent = Annotated[
    AlertChanged | Acknowledged | Resolved | Reopened | FeedbackGiven | Note | Legacy
    | InvestigationStarted | InvestigationProgress | InvestigationFinished,
    Field(discriminator="kind"),
]
InvestigationEvent = InvestigationStarted | InvestigationProgress | InvestigationFinished
_ADAPTER: TypeAdapter[ThreadEvent] = TypeAdapter(ThreadEvent)


def load_event(kind: str, data: dict[str, object] | None, text: str | None) -> ThreadEvent:
    """The event a `ThreadUpdate` row holds. Rows from before typed events carry only text."""
    if not data:
        return Legacy(text=text or "")
    return _ADAPTER.validate_python({**data, "kind": kind})


def dump_event(event: ThreadEvent) -> dict[str, object]:
    return event.model_dump(mode="json", exclude={"kind"})
