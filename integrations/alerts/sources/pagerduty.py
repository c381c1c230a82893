"""PagerDuty generic webhooks v3 (incident.* events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.alerts.base import (
    as_object,
    make_alert,
    parse_time,
    register,
    require_object,
    require_str,
    severity_of,
    utc_now,
)
from storage.models import Alert, AlertStatus

_STATUS = {"incident.triggered": AlertStatus.FIRING, "incident.reopened": AlertStatus.FIRING,
           "incident.resolved": AlertStatus.RESOLVED}


class PagerDutyNormalizer:
    source = "pagerduty"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        body = require_object(payload, "payload")
        event = require_object(body.get("event"), "event")
        event_type = require_str(event, "event_type", "event")
        if event_type not in _STATUS:
            return []  # acknowledged, annotated, ...: not an alert state change
        data = require_object(event.get("data"), "event.data")
        incident_id = require_str(data, "id", "event.data")
        title = require_str(data, "title", "event.data")
        service = as_object(data.get("service"))
        priority = as_object(data.get("priority"))
        labels = {"pagerduty_incident": incident_id,
                  "urgency": str(data.get("urgency") or ""),
                  "priority": str(priority.get("summary") or "")}
        return [make_alert(
            source=self.source,
            dedup_key=incident_id,
            group_key=incident_id,
            status=_STATUS[event_type],
            title=title,
            # A reopen starts a new firing when it happened; a trigger when the incident began.
            started_at=parse_time(event.get("occurred_at"), "event.occurred_at")
            if event_type == "incident.reopened" else
            parse_time(data.get("created_at") or event.get("occurred_at"),
                       "event.data.created_at"),
            ended_at=parse_time(event.get("occurred_at"), "event.occurred_at", default=utc_now())
            if event_type == "incident.resolved" else None,
            labels={k: v for k, v in labels.items() if v},
            links={"source": str(data.get("html_url") or "")},
            service=str(service.get("summary") or "") or None,
            severity=severity_of(priority.get("summary"), data.get("urgency")),
            raw=body,
        )]


register(PagerDutyNormalizer())


