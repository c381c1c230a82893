"""Prometheus Alertmanager (webhook v4) and Grafana unified alerting (same shape, more links)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.alerts.base import (
    make_alert,
    parse_time,
    register,
    require_object,
    require_str,
    stable_key,
    str_map,
)
from integrations.errors import PayloadError
from storage.models import Alert, AlertStatus


class AlertmanagerNormalizer:
    source = "alertmanager"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        body = require_object(payload, "payload")
        items = body.get("alerts")
        if not isinstance(items, list) or not items:
            raise PayloadError("missing required field 'alerts' (a non-empty list)")
        group_key = body.get("groupKey") or stable_key(body.get("groupLabels") or {})
        external = body.get("externalURL")
        external_url = external if isinstance(external, str) else ""
        alerts = []
        for index, item in enumerate(items):
            where = f"alerts[{index}]"
            entry = require_object(item, where)
            status = require_str(entry, "status", where)
            if status not in ("firing", "resolved"):
                raise PayloadError(f"'{where}.status' must be firing or resolved, got {status!r}")
            labels = str_map(entry.get("labels"))
            if not labels:
                raise PayloadError(f"missing required field '{where}.labels' (a non-empty object)")
            annotations = str_map(entry.get("annotations"))
            title = (annotations.get("summary") or annotations.get("title")
                     or labels.get("alertname") or "alert")
            started = parse_time(entry.get("startsAt"), f"{where}.startsAt")
            ended = (parse_time(entry.get("endsAt"), f"{where}.endsAt")
                     if status == "resolved" and entry.get("endsAt") else None)
            links = self.links(entry, external_url)
            alerts.append(make_alert(
                source=self.source,
                dedup_key=str(entry.get("fingerprint") or stable_key(sorted(labels.items()))),
                group_key=str(group_key),
                status=AlertStatus(status),
                title=title,
                started_at=started,
                ended_at=ended,
                labels=labels,
                annotations=annotations,
                links=links,
                raw=entry | {"_group": {k: v for k, v in body.items() if k != "alerts"}},
            ))
        return alerts

    def links(self, entry: Mapping[str, Any], external_url: str) -> dict[str, str]:
        links = {"source": str(entry.get("generatorURL") or external_url or "")}
        if external_url:
            links["alertmanager"] = external_url
        return links


class GrafanaNormalizer(AlertmanagerNormalizer):
    source = "grafana"

    def links(self, entry: Mapping[str, Any], external_url: str) -> dict[str, str]:
        links = super().links(entry, external_url)
        for key in ("dashboardURL", "panelURL", "silenceURL"):
            value = entry.get(key)
            if isinstance(value, str) and value:
                links[key.removesuffix("URL").lower()] = value
        return links


register(AlertmanagerNormalizer())
register(GrafanaNormalizer())
