"""What a job needs from the application, as small protocols the bot satisfies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from storage.models import Alert

Blocks = Sequence[dict[str, Any]]


class Posted(Protocol):
    @property
    def channel(self) -> str: ...

    @property
    def ts(self) -> str: ...


class Announcer(Protocol):
    """Posts to a channel (Slack, or the console)."""

    async def post(self, channel: str, text: str, blocks: Blocks) -> Posted: ...

    async def upload(self, channel: str, *, filename: str, content: bytes, title: str,
                     comment: str) -> None:
        """Upload a file (a chart) to a channel with a short comment."""
        ...


# Opens (or joins) an incident for an alert the job raised; returns the incident id.
OpenIncident = Callable[[Alert], Awaitable[int | None]]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    items: int
    summary: str


class Job(Protocol):
    name: str

    async def run(self, *, trigger: str) -> JobOutcome:
        """`trigger` is schedule, retry (after an interrupted run) or manual."""
        ...
