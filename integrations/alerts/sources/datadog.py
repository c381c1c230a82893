"""Datadog monitors through a webhook integration using the payload template in the README."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.alerts.base import (
    make_alert,
    parse_time,
    register,
    require_object,
    require_str,
    severity_of,
    tags_to_labels,
    utc_now,
)
from integrations.errors import PayloadError
from integrations.redaction import clip
from storage.models import Alert, AlertStatus

_RESOLVED = {"recovered", "ok", "resolved"}
_FIRING = {"triggered", "re-triggered", "retriggered", "warn", "no data", "renotify",
           "alert", "re-notify", "warning", "error"}


class DatadogNormalizer:
    source = "datadog"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        body = require_object(payload, "payload")
        alert_id = str(body.get("alert_id") or "").strip()
        if not alert_id:
            raise PayloadError("missing required field 'alert_id' (template variable $ALERT_ID)")
        title = require_str(body, "title", "payload")
        transition = str(body.get("transition") or body.get("alert_transition") or "").lower()
        if transition in _RESOLVED:
            status = AlertStatus.RESOLVED
        elif transition in _FIRING or not transition:
            status = AlertStatus.FIRING
        else:
            raise PayloadError(f"'transition' has an unknown value {transition!r}")
        tags = body.get("tags")
        tag_list = (tags.split(",") if isinstance(tags, str)
                    else tags if isinstance(tags, list) else [])
        labels = tags_to_labels(tag_list)
        for key in ("hostname", "alert_metric", "alert_scope", "org_id", "priority"):
            if body.get(key):
                labels[key] = str(body[key])
        scope = str(body.get("alert_scope") or "")
        when = body.get("last_updated") or body.get("date")
        return [make_alert(
            source=self.source,
            dedup_key=f"{alert_id}:{scope}",
            group_key=alert_id,
            status=status,
            title=title.removeprefix("[Triggered] ").removeprefix("[Recovered] "),
            started_at=parse_time(when, "date", default=utc_now()),
            labels=labels,
            annotations={"body": clip(str(body.get("body") or ""), 4000)},
            links={"source": str(body.get("link") or "")},
            severity=severity_of(body.get("priority"), body.get("alert_type")),
            raw=body,
        )]


register(DatadogNormalizer())
