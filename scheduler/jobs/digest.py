"""The daily digest: yesterday's incidents, how fast they were handled, and what was right.

One message per configured channel (Block Kit), plus a chart of the last 14 days uploaded
with it. A day with nothing to report gets one short line instead of an empty table.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.chart import Day, render_history
from scheduler.jobs.base import Announcer, Clock, JobOutcome
from scheduler.jobs.security_digest import (
    SecuritySection,
    build_security_section,
    security_blocks,
)
from storage.background import BackgroundStore
from storage.models import Finding, Incident, PullRequest, as_utc
from storage.security import SecurityStore

HISTORY_DAYS = 14
# Spend by agent for the window, in USD (from the model ledger when a gateway is configured).
SpendLookup = Callable[[datetime, datetime], Awaitable[dict[str, float]]]
# nightowl's open pull requests (the Dev agent's store), listed as awaiting review.
PullsLookup = Callable[[], Awaitable[list[PullRequest]]]


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    median_s: float | None
    worst_s: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Durations:
        if not seconds:
            return cls(0, None, None)
        return cls(len(seconds), statistics.median(seconds), max(seconds))


@dataclass
class Digest:
    channel: str
    day: datetime  # local midnight starting the day covered
    opened: list[Incident]
    resolved: list[Incident]
    still_open: list[Incident]
    ack: Durations
    diagnosis: Durations
    resolution: Durations
    confirmed: int
    judged: int
    noisiest: list[tuple[str, str, int]]
    findings: list[Finding]
    spend: dict[str, float] = field(default_factory=dict)
    history: list[Day] = field(default_factory=list)
    security: SecuritySection | None = None  # in digests covering the security channel
    awaiting_review: list[PullRequest] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.opened or self.resolved or self.still_open or self.findings
                    or (self.security is not None and not self.security.empty)
                    or self.awaiting_review)


def _seconds(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (as_utc(end) - as_utc(start)).total_seconds())


def human(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


async def build_digest(store: BackgroundStore, *, channel: str, scope: Sequence[str],
                       now: datetime, timezone: str = "UTC",
                       spend: SpendLookup | None = None,
                       security_channel: str | None = None) -> Digest:
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=1), today
    touching = await store.incidents_touching(scope, start, end)

    def within(value: datetime | None) -> bool:
        return value is not None and start <= as_utc(value) < end

    opened = [i for i in touching if within(i.opened_at)]
    resolved = [i for i in touching if within(i.resolved_at)]
    still_open = [i for i in touching
                  if i.resolved_at is None or as_utc(i.resolved_at) >= end]
    ids = [i.id for i in touching if i.id is not None]
    diagnosed = await store.first_diagnoses(ids)
    feedback = await store.feedback_for(ids)
    latest: dict[int, str] = {}
    for row in feedback:  # the last word of anyone on an incident counts
        if row.incident_id is not None:
            latest[row.incident_id] = row.verdict
    digest = Digest(
        channel=channel, day=start, opened=opened, resolved=resolved, still_open=still_open,
        ack=Durations.of([s for i in opened if (s := _seconds(i.opened_at,
                                                               i.acknowledged_at)) is not None]),
        diagnosis=Durations.of([s for i in opened if i.id is not None and (
            s := _seconds(i.opened_at, diagnosed.get(i.id))) is not None]),
        resolution=Durations.of([s for i in resolved if (
            s := _seconds(i.opened_at, i.resolved_at)) is not None]),
        confirmed=sum(v == "up" for v in latest.values()), judged=len(latest),
        noisiest=await store.noisiest_alerts(scope, start, end),
        findings=await store.findings_between(start, end, scope),
        spend=await spend(start, end) if spend is not None else {},
    )
    digest.history = await _history(store, scope, end, tz)
    if security_channel is not None and ("*" in scope or security_channel in scope):
        digest.security = await build_security_section(SecurityStore.beside(store),
                                                       start=start, end=end)
    return digest


async def _history(store: BackgroundStore, scope: Sequence[str], end: datetime,
                   tz: ZoneInfo) -> list[Day]:
    start = end - timedelta(days=HISTORY_DAYS)
    incidents = await store.incidents_touching(scope, start, end)
    days: list[Day] = []
    for n in range(HISTORY_DAYS):
        day_start = start + timedelta(days=n)
        day_end = day_start + timedelta(days=1)
        opened = sum(1 for i in incidents if day_start <= as_utc(i.opened_at) < day_end)
        ttrs = [s / 60 for i in incidents
                if i.resolved_at is not None and day_start <= as_utc(i.resolved_at) < day_end
                and (s := _seconds(i.opened_at, i.resolved_at)) is not None]
        days.append(Day(day_start.astimezone(tz).strftime("%m-%d"), opened,
                        statistics.median(ttrs) if ttrs else None))
    return days


def digest_message(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    day = digest.day.strftime("%a %d %b")
    title = f"🦉 Daily digest · {day}"
    if digest.empty:
        text = f"{title}: no incidents and no new error findings. Quiet day."
        quiet: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn",
                                                                     "text": text}}]
        if digest.security is not None:
            quiet += security_blocks(digest.security)
        return text, quiet
    confirmed = (f"{digest.confirmed}/{digest.judged} confirmed" if digest.judged
                 else "no feedback")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Opened*\n{len(digest.opened)}"},
            {"type": "mrkdwn", "text": f"*Resolved*\n{len(digest.resolved)}"},
            {"type": "mrkdwn", "text": f"*Still open*\n{len(digest.still_open)}"},
            {"type": "mrkdwn", "text": f"*Diagnosis*\n{confirmed}"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join([
            "*Time to…*  median · worst",
            f"• acknowledge: {human(digest.ack.median_s)} · {human(digest.ack.worst_s)}",
            f"• diagnosis: {human(digest.diagnosis.median_s)} · "
            f"{human(digest.diagnosis.worst_s)}",
            f"• resolve: {human(digest.resolution.median_s)} · "
            f"{human(digest.resolution.worst_s)}",
        ])}},
    ]
    if digest.noisiest:
        lines = [f"• {title} ({service}): {count}×" for title, service, count
                 in digest.noisiest]
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": "*Noisiest alerts*\n" + "\n".join(lines)}})
    if digest.findings:
        lines = [f"• {'🆕' if f.kind == 'new' else '📈'} {f.service}: `{f.title[:80]}`"
                 for f in digest.findings[:8]]
        more = len(digest.findings) - 8
        if more > 0:
            lines.append(f"…and {more} more")
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": "*New error findings*\n" + "\n".join(lines)}})
    if digest.security is not None:
        blocks += security_blocks(digest.security)
    if digest.awaiting_review:
        now = digest.day + timedelta(days=1)
        lines = [f"• <{p.url}|{p.repository}#{p.number}> {p.kind}, open "
                 f"{max(0, (now - as_utc(p.opened_at)).days)}d"
                 + (" · approved" if p.stage == "approved" else "")
                 for p in digest.awaiting_review[:8]]
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": "*Pull requests awaiting review*\n" + "\n".join(lines)}})
    if digest.spend:
        total = sum(digest.spend.values())
        parts = ", ".join(f"{agent} ${cost:.2f}" for agent, cost in sorted(digest.spend.items()))
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"Model spend ${total:.2f} ({parts})"}]})
    if digest.still_open:
        oldest = ", ".join(f"#{i.id} {i.title[:40]}" for i in digest.still_open[:3])
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"Still open: {oldest}"}]})
    text = (f"{title}: {len(digest.opened)} opened, {len(digest.resolved)} resolved, "
            f"{len(digest.still_open)} still open")
    return text, blocks


class DigestJob:
    name = "digest"

    def __init__(self, *, store: BackgroundStore, announcer: Announcer,
                 channels: Mapping[str, Sequence[str]], clock: Clock, timezone: str = "UTC",
                 spend: SpendLookup | None = None,
                 security_channel: str | None = None,
                 pulls: PullsLookup | None = None) -> None:
        self.pulls = pulls
        self.store = store
        self.announcer = announcer
        self.channels = channels
        self.clock = clock
        self.timezone = timezone
        self.spend = spend
        self.security_channel = security_channel

    async def run(self, *, trigger: str = "schedule") -> JobOutcome:
        covered = (self.clock().astimezone(ZoneInfo(self.timezone)) - timedelta(days=1)
                   ).strftime("%Y-%m-%d")
        stamp = f"digest of {covered}"
        # A retry after a crash, or a second replica's catch-up run, must not post it twice.
        if trigger != "manual" and any(
                run.outcome == "ok" and (run.summary or "").startswith(stamp)
                for run in await self.store.runs(self.name, limit=10)):
            return JobOutcome(items=0, summary=f"{stamp} was already posted")
        for channel, scope in self.channels.items():
            await self.post(channel, scope)
        return JobOutcome(items=len(self.channels),
                          summary=f"{stamp} posted to {len(self.channels)} channel(s)")

    async def post(self, channel: str, scope: Sequence[str]) -> Digest:
        digest = await build_digest(self.store, channel=channel, scope=scope, now=self.clock(),
                                    timezone=self.timezone, spend=self.spend,
                                    security_channel=self.security_channel)
        if self.pulls is not None:
            digest.awaiting_review = await self.pulls()
        text, blocks = digest_message(digest)
        posted = await self.announcer.post(channel, text, blocks)
        if not digest.empty:
            png = render_history(digest.history, title="Incidents per day and median time "
                                                       f"to resolve, last {HISTORY_DAYS} days")
            # Slack answers with the channel's id, which file uploads require.
            await self.announcer.upload(posted.channel, filename="nightowl-digest.png", content=png,
                                        title=f"Last {HISTORY_DAYS} days",
                                        comment="Incidents and time to resolve")
        return digest
