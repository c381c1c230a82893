"""The incident lifecycle as plain functions: open → investigating → diagnosed → resolved,
acknowledged on the way, reopened by a person. Each function changes the incident in memory
and returns the thread events the change produces; it reads and writes no database. The
repositories call these inside their transactions and persist what they return, so the
rules live here once, whichever road (webhook, button, API, restart) a change comes by.

A visible change bumps `Incident.version`: the dispatcher brings the root message up to it.
"""

from __future__ import annotations

from datetime import datetime

from storage.models import Alert, Incident, IncidentStatus, Severity, as_utc
from storage.thread_events import (
    Acknowledged,
    AlertChanged,
    Reopened,
    Resolved,
    ThreadEvent,
)


def _touch(incident: Incident, now: datetime) -> None:
    incident.version += 1
    incident.updated_at = now


def open_incident(alert: Alert, channel: str, now: datetime) -> Incident:
    """A new incident for a firing alert no open incident of its group holds."""
    return Incident(
        group_key=alert.group_key, source=alert.source, title=alert.title,
        service=alert.service, signal=alert.signal, severity=alert.severity,
        source_url=alert.links.get("source") if alert.links else None,
        channel=channel, opened_at=now, updated_at=now,
    )


def alert_joined(incident: Incident, alert: Alert, now: datetime, *,
                 created: bool) -> list[ThreadEvent]:
    """A firing alert joins `incident` (just opened for it when `created`): the counts, the
    worst severity, and a thread line unless the root message itself announces it."""
    incident.alert_count += 1
    incident.firing_count += 1
    incident.updated_at = now
    if Severity(alert.severity).rank < Severity(incident.severity).rank:
        incident.severity = alert.severity
    if created:
        return []
    incident.version += 1
    return [_alert_event("alert_added", alert)]


def alert_cleared(incident: Incident, alert: Alert, now: datetime) -> bool:
    """One of the incident's firing alerts resolved. True when it was the last one: the
    caller then resolves the incident with `resolved_by_source` (or says it cleared)."""
    incident.firing_count = max(0, incident.firing_count - 1)
    _touch(incident, now)
    return incident.firing_count == 0


def alert_cleared_event(alert: Alert) -> ThreadEvent:
    return _alert_event("alert_resolved", alert)


def resolved_by_source(incident: Incident, alert: Alert, first_start: datetime,
                       now: datetime) -> list[ThreadEvent]:
    """Every alert of the incident cleared: its source resolved it."""
    incident.status = IncidentStatus.RESOLVED
    # The source knows when the alert ended; our receipt time may lag behind it.
    incident.resolved_at = alert.ended_at or now
    incident.resolved_by = f"{alert.source} (alert resolved)"
    return [Resolved(source=alert.source,
                     after_s=_seconds(first_start, incident.resolved_at))]


def acknowledge(incident: Incident, user: str, now: datetime) -> list[ThreadEvent]:
    """The first acknowledgement counts; later clicks change nothing."""
    if incident.acknowledged_by is not None:
        return []
    incident.acknowledged_by = user
    incident.acknowledged_at = now
    _touch(incident, now)
    return [Acknowledged(user=user)]


def resolve(incident: Incident, user: str, now: datetime) -> list[ThreadEvent]:
    if incident.status == IncidentStatus.RESOLVED:
        return []
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_by = user
    incident.resolved_at = now
    _touch(incident, now)
    return [Resolved(user=user, after_s=_seconds(incident.opened_at, now))]


def reopen(incident: Incident, user: str, now: datetime) -> list[ThreadEvent]:
    """A resolved incident back to open (resolved by mistake, or the fix did not hold).
    Its alerts keep their state: new firings of its group join it again."""
    if incident.status != IncidentStatus.RESOLVED:
        return []
    incident.status = IncidentStatus.OPEN
    incident.resolved_by = None
    incident.resolved_at = None
    _touch(incident, now)
    return [Reopened(user=user)]


def investigation_started(incident: Incident, now: datetime) -> None:
    incident.last_investigation_at = now
    if incident.status in (IncidentStatus.OPEN, IncidentStatus.DIAGNOSED):
        incident.status = IncidentStatus.INVESTIGATING
        _touch(incident, now)


def investigation_finished(incident: Incident, *, diagnosed: bool, now: datetime) -> None:
    """A run ended: a diagnosis moves the incident on; an abstention or a failure diagnosed
    nothing, so it is open again (a person or a later run takes it from there)."""
    if incident.status == IncidentStatus.INVESTIGATING:
        incident.status = IncidentStatus.DIAGNOSED if diagnosed else IncidentStatus.OPEN
        _touch(incident, now)


def service_found(incident: Incident, service: str, now: datetime) -> bool:
    """The investigation read the alert's telemetry under another name than intake gave it
    (an alert whose rule aggregated its service label away is named by its instance's
    series): the root shows that name. Returns whether anything changed."""
    if incident.service == service[:255]:
        return False
    incident.service = service[:255]
    _touch(incident, now)
    return True


def _alert_event(kind: str, alert: Alert) -> AlertChanged:
    return AlertChanged(kind=kind,  # type: ignore[arg-type]
                        title=alert.title, service=alert.service,
                        severity=str(alert.severity), status=str(alert.status))


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((as_utc(end) - as_utc(start)).total_seconds()))
