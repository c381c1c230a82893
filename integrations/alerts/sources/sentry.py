"""Sentry integration-platform webhooks: issue, event_alert and metric_alert resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.alerts.base import (
    as_list,
    as_object,
    make_alert,
    parse_time,
    register,
    require_object,
    require_str,
    severity_of,
    utc_now,
)
from integrations.errors import PayloadError
from storage.models import Alert, AlertStatus, Signal


class SentryNormalizer:
    source = "sentry"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        body = require_object(payload, "payload")
        resource = headers.get("sentry-hook-resource", "")
        action = require_str(body, "action", "payload")
        data = require_object(body.get("data"), "data")
        if resource == "issue" or ("issue" in data and resource == ""):
            return self._issue(body, action, require_object(data.get("issue"), "data.issue"))
        if resource == "event_alert" or ("event" in data and resource == ""):
            return self._event(body, data)
        if resource == "metric_alert" or ("metric_alert" in data and resource == ""):
            return self._metric(body, action, data)
        if resource in ("installation", "uninstall", "comment", "seer", "preprod_artifact"):
            return []
        raise PayloadError(f"unsupported Sentry resource {resource or '(none)'!r}")

    def _issue(self, body: dict[str, Any], action: str, issue: dict[str, Any]) -> list[Alert]:
        if action not in ("created", "resolved", "unresolved"):
            return []  # assigned, archived, ignored: nothing changes on our side
        issue_id = str(issue.get("id") or "")
        if not issue_id:
            raise PayloadError("missing required field 'data.issue.id'")
        project = as_object(issue.get("project"))
        return [make_alert(
            source=self.source,
            dedup_key=f"issue:{issue_id}",
            group_key=f"issue:{issue_id}",
            status=AlertStatus.RESOLVED if action == "resolved" else AlertStatus.FIRING,
            title=require_str(issue, "title", "data.issue"),
            started_at=parse_time(issue.get("firstSeen"), "data.issue.firstSeen",
                                  default=utc_now()),
            labels={"project": str(project.get("slug") or ""),
                    "culprit": str(issue.get("culprit") or ""),
                    "level": str(issue.get("level") or "")},
            links={"source": str(issue.get("web_url") or issue.get("permalink") or "")},
            service=str(project.get("slug") or "") or None,
            severity=severity_of(issue.get("level"), default=severity_of("high")),
            signal=Signal.ERRORS,
            raw=body,
        )]

    def _event(self, body: dict[str, Any], data: dict[str, Any]) -> list[Alert]:
        event = require_object(data.get("event"), "data.event")
        issue_id = str(event.get("issue_id") or event.get("event_id") or "")
        if not issue_id:
            raise PayloadError("missing required field 'data.event.issue_id'")
        tags = as_list(event.get("tags"))
        labels = {str(t[0]): str(t[1]) for t in tags if isinstance(t, list) and len(t) == 2}
        rule = data.get("triggered_rule")
        if rule:
            labels["rule"] = str(rule)
        return [make_alert(
            source=self.source,
            dedup_key=f"issue:{issue_id}",
            group_key=f"issue:{issue_id}",
            status=AlertStatus.FIRING,
            title=require_str(event, "title", "data.event"),
            started_at=parse_time(event.get("datetime") or event.get("timestamp"),
                                  "data.event.datetime", default=utc_now()),
            labels=labels,
            links={"source": str(event.get("web_url") or event.get("issue_url") or "")},
            service=labels.get("service") or str(event.get("project") or "") or None,
            severity=severity_of(event.get("level"), default=severity_of("high")),
            signal=Signal.ERRORS,
            raw=body,
        )]

    def _metric(self, body: dict[str, Any], action: str, data: dict[str, Any]) -> list[Alert]:
        alert = require_object(data.get("metric_alert"), "data.metric_alert")
        alert_id = str(alert.get("id") or "")
        if not alert_id:
            raise PayloadError("missing required field 'data.metric_alert.id'")
        rule = as_object(alert.get("alert_rule"))
        title = str(data.get("description_title") or rule.get("name") or alert.get("title") or "")
        if not title:
            raise PayloadError("missing required field 'data.description_title'")
        projects = as_list(rule.get("projects"))
        return [make_alert(
            source=self.source,
            dedup_key=f"metric:{alert_id}",
            group_key=f"metric:{alert_id}",
            status=AlertStatus.RESOLVED if action == "resolved" else AlertStatus.FIRING,
            title=title,
            started_at=parse_time(alert.get("date_started"), "data.metric_alert.date_started",
                                  default=utc_now()),
            labels={"aggregate": str(rule.get("aggregate") or ""), "action": action},
            links={"source": str(data.get("web_url") or "")},
            service=str(projects[0]) if projects else None,
            severity=severity_of(action if action != "resolved" else "warning"),
            raw=body,
        )]


register(SentryNormalizer())
