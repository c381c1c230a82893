"""The source's own identity of a delivery, where it has one: a replay of a captured, signed
delivery carries the same identity and is taken in once (`storage.deliveries`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def delivery_id(source: str, payload: Any, headers: Mapping[str, str],
                body: bytes) -> str | None:
    """PagerDuty: the webhook event's id. Sentry: the `Request-ID` header. Opsgenie: the
    alert, its action and when it was updated. Grafana sends no id: the body itself (a repeat
    notification of an unchanged state repeats nothing worth taking in twice). Other sources
    have no delivery identity; their alerts are deduplicated by alert identity only."""
    obj = payload if isinstance(payload, dict) else {}
    if source == "pagerduty":
        event = obj.get("event")
        event_id = event.get("id") if isinstance(event, dict) else None
        return str(event_id) if isinstance(event_id, str | int) and event_id != "" else None
    if source == "sentry":
        return headers.get("request-id") or None
    if source == "opsgenie":
        alert = obj.get("alert") if isinstance(obj.get("alert"), dict) else {}
        assert isinstance(alert, dict)
        updated = alert.get("updatedAt")
        alert_id = alert.get("alertId") or alert.get("alias")
        if updated is None or alert_id is None:
            return None
        return f"{alert_id}:{obj.get('action')}:{updated}"
    if source == "grafana":
        return hashlib.sha256(body).hexdigest()
    return None
