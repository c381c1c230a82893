"""Opsgenie outgoing webhook integration (Create / Close actions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.alerts.base import (
    as_list,
    make_alert,
    parse_time,
    register,
    require_object,
    require_str,
    severity_of,
    str_map,
    tags_to_labels,
    utc_now,
)
from integrations.errors import PayloadError
from integrations.redaction import clip
from storage.models import Alert, AlertStatus

_STATUS = {"create": AlertStatus.FIRING, "close": AlertStatus.RESOLVED,
           "unacknowledge": AlertStatus.FIRING, "escalate": AlertStatus.FIRING}


class OpsgenieNormalizer:
    source = "opsgenie"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        body = require_object(payload, "payload")
        action = require_str(body, "action", "payload").lower()
        if action not in _STATUS:
            return []  # AddNote, Acknowledge, AssignOwnership, ...
        alert = require_object(body.get("alert"), "alert")
        alert_id = str(alert.get("alias") or alert.get("alertId") or "")
        if not alert_id:
            raise PayloadError("missing required field 'alert.alertId' (or 'alert.alias')")
        tags = as_list(alert.get("tags"))
        labels = tags_to_labels(tags) | str_map(alert.get("details"))
        if alert.get("entity"):
            labels.setdefault("entity", str(alert["entity"]))
        return [make_alert(
            source=self.source,
            dedup_key=alert_id,
            group_key=alert_id,
            status=_STATUS[action],
            title=require_str(alert, "message", "alert"),
            started_at=parse_time(alert.get("createdAt"), "alert.createdAt", default=utc_now()),
            labels=labels,
            annotations={"description": clip(str(alert.get("description") or ""), 4000)},
            links={"source": str(alert.get("url") or "")},
            severity=severity_of(alert.get("priority")),
            raw=body,
        )]


register(OpsgenieNormalizer())
