"""The error scan: errors no alert caught yet, posted once to the owning team's channel.

Each source counts error signatures over a baseline period and the recent period after it.
A signature is a finding when it is **new** (absent from the baseline, or first seen by
Sentry inside the recent period) or **surging** (its recent count is far above what its own
baseline rate predicts: at least `surge_ratio` times, and a Poisson z of `surge_z`). Findings
are kept one row per signature, so repeated scans refresh them and post nothing new; a
finding at or above `incident_severity` also opens an incident, which investigates itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agents.sre.stats import poisson_surge
from integrations.error_sources.base import ErrorSource, ScanWindow, SignatureCount
from integrations.errors import RemoteError
from integrations.redaction import clip, redact
from scheduler.jobs.base import Announcer, Clock, JobOutcome, OpenIncident
from storage.background import BackgroundStore
from storage.models import Alert, AlertStatus, Finding, Severity, Signal

log = logging.getLogger(__name__)

FATAL_LEVELS = {"fatal", "critical", "panic"}
# Called once a finding is posted, with the channel id and ts of its message (its thread).
AfterPost = Callable[[Finding, str, str], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class ScanPolicy:
    recent: timedelta = timedelta(minutes=15)
    baseline: timedelta = timedelta(hours=6)
    min_new: int = 3
    min_surge: int = 10
    surge_ratio: float = 3.0
    surge_z: float = 4.0
    incident_severity: Severity = Severity.HIGH


def judge(sig: SignatureCount, window: ScanWindow, policy: ScanPolicy,
          ) -> tuple[str, Severity, float] | None:
    """(kind, severity, baseline per hour) when the signature deserves a finding."""
    if sig.recent <= 0:
        return None
    per_hour = sig.baseline / window.baseline_hours if window.baseline_hours > 0 else 0.0
    # Sentry knows when an issue first appeared; for logs, absent from the baseline is new.
    new = sig.first_seen >= window.split if sig.first_seen is not None else sig.baseline == 0
    fatal = sig.level.lower() in FATAL_LEVELS
    if new and (sig.recent >= policy.min_new or fatal):
        severity = Severity.CRITICAL if fatal else (
            Severity.HIGH if sig.recent >= 10 * policy.min_new else Severity.WARNING)
        return "new", severity, per_hour
    if new:
        return None
    expected = per_hour * window.recent_hours
    ratio = sig.recent / max(expected, 0.5)
    z = poisson_surge(sig.baseline, window.baseline_hours, sig.recent, window.recent_hours)
    if sig.recent >= policy.min_surge and ratio >= policy.surge_ratio and z >= policy.surge_z:
        severity = Severity.CRITICAL if fatal else (
            Severity.HIGH if ratio >= 10 else Severity.WARNING)
        return "surging", severity, per_hour
    return None


class ErrorScanJob:
    name = "error_scan"

    def __init__(self, *, sources: Sequence[ErrorSource], store: BackgroundStore,
                 announcer: Announcer, route: Callable[[str], str],
                 open_incident: OpenIncident | None, clock: Clock,
                 policy: ScanPolicy | None = None,
                 after_post: AfterPost | None = None) -> None:
        self.sources = list(sources)
        self.store = store
        self.announcer = announcer
        self.route = route
        self.open_incident = open_incident
        self.clock = clock
        self.policy = policy or ScanPolicy()
        self.after_post = after_post  # the Dev agent looks for the commit behind it

    async def run(self, *, trigger: str = "schedule") -> JobOutcome:
        window = ScanWindow.ending(self.clock(), recent=self.policy.recent,
                                   baseline=self.policy.baseline)
        failures: list[str] = []
        created = seen = 0
        for source in self.sources:
            try:
                result = await source.scan(window)
            except RemoteError as exc:
                failures.append(f"{source.name}: {exc}")
                log.warning("error scan: %s failed: %s", source.name, exc)
                continue
            seen += len(result.signatures)
            for sig in result.signatures:
                verdict = judge(sig, window, self.policy)
                if verdict is None:
                    continue
                kind, severity, per_hour = verdict
                _, is_new = await self.store.record_finding(Finding(
                    source=sig.source, signature=sig.signature, service=sig.service,
                    kind=kind, severity=severity, title=clip(sig.title, 500),
                    example=redact(sig.example),
                    count=sig.recent, baseline_per_hour=per_hour, link=sig.link,
                    first_seen=window.end, last_seen=window.end,
                    channel=self.route(sig.service)))
                created += is_new
        if failures and len(failures) == len(self.sources):
            raise RemoteError("; ".join(failures))
        posted = await self._announce()
        summary = f"{seen} signature(s) scanned, {created} new finding(s), {posted} posted"
        if failures:
            summary += f"; failed: {'; '.join(failures)}"
        return JobOutcome(items=created, summary=summary)

    async def _announce(self) -> int:
        """Post every finding not posted yet (including any a crashed run left behind)."""
        posted = 0
        for finding in await self.store.unposted_findings():
            assert finding.id is not None
            incident_id = finding.incident_id
            if (incident_id is None and self.open_incident is not None
                    and Severity(finding.severity).rank <= self.policy.incident_severity.rank):
                incident_id = await self.open_incident(finding_alert(finding))
                if incident_id is not None:
                    await self.store.mark_finding(finding.id, incident_id=incident_id)
                    finding.incident_id = incident_id
            text, blocks = finding_message(finding)
            posted_ref = await self.announcer.post(finding.channel, text, blocks)
            await self.store.mark_finding(finding.id, posted_ts=posted_ref.ts)
            posted += 1
            if self.after_post is not None:
                try:
                    await self.after_post(finding, posted_ref.channel, posted_ref.ts)
                except Exception:  # the finding is posted; a follow-up failing costs nothing
                    log.exception("error scan: follow-up of finding %s failed", finding.id)
        return posted


def finding_alert(finding: Finding) -> Alert:
    verb = "New error" if finding.kind == "new" else "Error surge"
    return Alert(
        source="nightowl", dedup_key=f"finding:{finding.source}:{finding.signature}",
        group_key=f"finding:{finding.service}:{finding.signature}",
        status=AlertStatus.FIRING, service=finding.service, signal=Signal.ERRORS,
        severity=finding.severity, title=f"{verb} in {finding.service}: {finding.title}"[:500],
        started_at=finding.first_seen,
        labels={"service": finding.service, "alertname": "ErrorScanFinding",
                "finding_source": finding.source},
        annotations={"summary": finding.example[:500]},
        links={"source": finding.link} if finding.link else {},
        raw={"finding_id": finding.id, "signature": finding.signature})


def finding_message(finding: Finding) -> tuple[str, list[dict[str, Any]]]:
    icon, verb = ("🆕", "New error") if finding.kind == "new" else ("📈", "Error surge")
    headline = f"{icon} {verb} in {finding.service}"
    rate = (f"{finding.count} in the last scan window vs {finding.baseline_per_hour:.1f}/h "
            "before" if finding.kind == "surging" else
            f"{finding.count} occurrence(s), never seen in the baseline")
    fields = [
        {"type": "mrkdwn", "text": f"*Service*\n{finding.service}"},
        {"type": "mrkdwn", "text": f"*Severity*\n{finding.severity}"},
        {"type": "mrkdwn", "text": f"*Rate*\n{rate}"},
        {"type": "mrkdwn", "text": f"*Source*\n{finding.source}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"`{_code(finding.title)[:500]}`"}},
        {"type": "section", "fields": fields},
    ]
    context = [f"signature `{finding.signature}`"]
    if finding.example and finding.example != finding.title:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"Example:\n```{_code(finding.example)[:600]}```"}})
    if finding.link:
        context.append(f"<{finding.link}|open in {finding.source}>")
    if finding.incident_id is not None:
        context.append(f"opened incident #{finding.incident_id} and started an investigation")
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": " · ".join(context)}]})
    return f"{headline}: {finding.title[:200]}", blocks


def _code(text: str) -> str:
    return text.replace("`", "'")
