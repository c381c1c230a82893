"""Error sources for background scans: Sentry issues, error logs grouped into signatures.

A source answers one question: over a baseline period and the recent period after it, how
often did each error signature occur? Deciding what is new or surging is the job's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ScanWindow:
    """[start, split) is the baseline, [split, end) the recent period being judged."""

    start: datetime
    split: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, *, recent: timedelta, baseline: timedelta) -> ScanWindow:
        return cls(start=end - recent - baseline, split=end - recent, end=end)

    @property
    def baseline_hours(self) -> float:
        return (self.split - self.start).total_seconds() / 3600

    @property
    def recent_hours(self) -> float:
        return (self.end - self.split).total_seconds() / 3600


@dataclass(slots=True)
class SignatureCount:
    source: str  # sentry | logs
    signature: str
    service: str
    title: str
    example: str
    baseline: int
    recent: int
    level: str = "error"
    # True when the source itself knows the signature is new (e.g. Sentry's firstSeen),
    # regardless of what the baseline window happened to contain.
    first_seen: datetime | None = None
    link: str | None = None


@dataclass(slots=True)
class ScanResult:
    source: str
    signatures: list[SignatureCount]
    lines_read: int = 0
    truncated: bool = False


class ErrorSource(Protocol):
    name: str

    async def scan(self, window: ScanWindow) -> ScanResult:
        """Count error signatures in the window. Raises `RemoteError` when the source is
        down or answers garbage (the job records the run as failed)."""
        ...
