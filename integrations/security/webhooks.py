"""Signals other security tools push to `POST /webhooks/{source}`, normalised to `SecuritySignal`.

Each normaliser turns one payload into signals and never talks to the network; a payload it
cannot use raises `PayloadError` naming the field (the web layer answers 422 and keeps the body
as a dead letter). The payload itself travels with each signal twice: verbatim in `raw`, and as
the signal's one event (`<Vendor>.<Kind>` log type), so the case thread can show it one click
away like any other event. Text inside payloads is untrusted data; it is stored, never obeyed.

- `datadog-security`: a Datadog webhook whose payload template is the one in
  docs/security-detection.md (`$SECURITY_RULE_NAME`, `$SECURITY_SIGNAL_ATTRIBUTES`, ...);
  also the Security Signals API object (`{"data": {"type": "signal", "attributes": ...}}`).
- `panther`: Panther's custom-webhook alert JSON.
- `guardduty`: an EventBridge `GuardDuty Finding` event, or a bare finding.
- `falco`: Falco's JSON output (`json_output: true`), as falcosidekick's webhook forwards it.
- `generic-security`: nightowl's own shape, the `signal` object of a security case plus
  optional `events` in the `events.jsonl` line format.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from integrations.errors import PayloadError
from integrations.security.entities import extract_entities, get_path
from integrations.security.errors import EventError
from integrations.security.types import (
    SecurityEvent,
    SecuritySignal,
    normalize_severity,
    parse_ts,
)

JSONObject = dict[str, Any]
_TECHNIQUE = re.compile(r"\b(T\d{4}(?:\.\d{3})?)\b", re.IGNORECASE)


class SignalNormalizer(Protocol):
    source: str

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[SecuritySignal]: ...


def _object(value: Any, where: str) -> JSONObject:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _sub(obj: Mapping[str, Any], key: str) -> JSONObject:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _items(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _key(obj: Mapping[str, Any], *keys: str) -> str:
    """Falco's output fields are flat keys that contain dots (`user.name`)."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def _text(obj: Mapping[str, Any], *paths: str) -> str | None:
    for path in paths:
        value = get_path(obj, path)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def _time(obj: Mapping[str, Any], *paths: str, required: bool = False) -> datetime:
    """The first of `paths` that holds a timestamp; now when none does and it is optional."""
    for path in paths:
        value = get_path(obj, path)
        if value in (None, ""):
            continue
        try:
            return parse_ts(value)
        except (ValueError, OverflowError, OSError) as exc:
            raise PayloadError(f"{path} is not a timestamp: {exc}") from exc
    if required:
        raise PayloadError(f"missing {' or '.join(paths)}")
    return datetime.now(UTC)


def _techniques(*sources: Any) -> tuple[str, ...]:
    found: list[str] = []
    for value in sources:
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str):
                found.extend(m.upper() for m in _TECHNIQUE.findall(text))
    return tuple(dict.fromkeys(found))


def _event_id(source: str, payload: Any, native: str | None) -> str:
    if native:
        return f"{source}:{native}"
    digest = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f"{source}:{digest[:16]}"


def _signal(
    *,
    source: str,
    log_type: str,
    payload: JSONObject,
    native_id: str | None,
    rule: str,
    rule_id: str,
    severity: object,
    fired_at: datetime,
    entities: Mapping[str, str],
    techniques: tuple[str, ...],
    description: str,
) -> SecuritySignal:
    event = SecurityEvent(
        id=_event_id(source, payload, native_id), log_type=log_type, ts=fired_at, event=payload
    )
    return SecuritySignal(
        rule=rule[:500],
        rule_id=rule_id[:255],
        severity=normalize_severity(severity),
        source=source,
        log_type=log_type,
        fired_at=fired_at,
        event_ids=(event.id,),
        entities={k: v for k, v in entities.items() if v},
        techniques=techniques,
        description=description[:2000],
        events=(event,),
        raw=payload,
    )


# ---- the normalisers ----------------------------------------------------------------------------


class DatadogSecurity:
    source = "datadog-security"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[SecuritySignal]:
        body = _object(payload, "payload")
        api = body.get("data")
        if isinstance(api, dict) and isinstance(api.get("attributes"), dict):
            return [self._api(body, api)]
        rule = _text(body, "rule_name", "title", "event_title")
        if rule is None:
            raise PayloadError(
                "missing rule_name (or title): see the payload template in "
                "docs/security-detection.md"
            )
        attrs = body.get("attributes")
        attrs = attrs if isinstance(attrs, dict) else {}
        return [
            _signal(
                source=self.source,
                log_type="Datadog.SecuritySignal",
                payload=body,
                native_id=_text(body, "signal_id", "id"),
                rule=rule,
                rule_id=_text(body, "rule_id") or rule,
                severity=_text(body, "severity", "priority"),
                fired_at=_time(body, "date", "timestamp"),
                entities=_datadog_entities(attrs),
                techniques=_techniques(body.get("tags"), attrs.get("tags")),
                description=_text(body, "message", "body", "description") or "",
            )
        ]

    def _api(self, body: JSONObject, api: JSONObject) -> SecuritySignal:
        outer = api["attributes"]
        inner = _sub(outer, "attributes")
        rule = _text(inner, "workflow.rule.name", "title") or _text(outer, "message")
        if rule is None:
            raise PayloadError("data.attributes.attributes.workflow.rule.name is missing")
        return _signal(
            source=self.source,
            log_type="Datadog.SecuritySignal",
            payload=body,
            native_id=_text(api, "id"),
            rule=rule.splitlines()[0],
            rule_id=_text(inner, "workflow.rule.id") or rule,
            severity=_text(inner, "severity", "status"),
            fired_at=_time(outer, "timestamp"),
            entities=_datadog_entities(inner),
            techniques=_techniques(outer.get("tags")),
            description=_text(outer, "message") or "",
        )


def _datadog_entities(attrs: Mapping[str, Any]) -> dict[str, str]:
    return {
        "user": _text(attrs, "usr.name", "usr.id", "usr.email", "userIdentity.arn") or "",
        "ip": _text(attrs, "network.client.ip", "sourceIPAddress") or "",
        "account": _text(attrs, "account", "cloud.account.id", "recipientAccountId") or "",
    }


class Panther:
    source = "panther"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[SecuritySignal]:
        body = _object(payload, "payload")
        rule = _text(body, "title", "name", "analysisName", "ruleName")
        if rule is None:
            raise PayloadError("missing title (or name): not a Panther alert")
        log_types = _items(body, "logTypes")
        context = _sub(body, "alertContext")
        reports = _sub(body, "reports")
        generic = extract_entities("generic", context).as_dict()
        entities = {
            "user": _text(context, "user", "actor", "principal", "username")
            or generic.get("user", ""),
            "ip": _text(context, "ip", "source_ip", "sourceIPAddress") or generic.get("ip", ""),
            "account": _text(context, "account", "account_id") or generic.get("account", ""),
        }
        return [
            _signal(
                source=self.source,
                log_type=str(log_types[0]) if log_types else "Panther.Alert",
                payload=body,
                native_id=_text(body, "alertId", "AlertID", "id"),
                rule=rule,
                rule_id=_text(body, "analysisId", "ruleId", "name") or rule,
                severity=_text(body, "severity"),
                fired_at=_time(body, "createdAt", "creationTime"),
                entities=entities,
                techniques=_techniques(reports.get("MITRE ATT&CK"), body.get("tags")),
                description=_text(body, "description") or "",
            )
        ]


class GuardDuty:
    source = "guardduty"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[SecuritySignal]:
        body = _object(payload, "payload")
        finding = _sub(body, "detail") or body
        kind = _text(finding, "type")
        if kind is None:
            raise PayloadError("missing detail.type: not a GuardDuty finding")
        if "severity" not in finding:
            raise PayloadError("missing detail.severity")
        severity = finding["severity"]
        if isinstance(severity, str):
            try:
                severity = float(severity)
            except ValueError as exc:
                raise PayloadError("detail.severity is not a number") from exc
        action = get_path(finding, "service.action")
        action = action if isinstance(action, dict) else {}
        ip = None
        for detail in action.values():
            if isinstance(detail, dict):
                ip = ip or _text(
                    detail, "remoteIpDetails.ipAddressV4", "remoteIpDetails.ipAddressV6"
                )
        user = _text(
            finding,
            "resource.accessKeyDetails.userName",
            "resource.accessKeyDetails.principalId",
            "resource.instanceDetails.instanceId",
            "resource.eksClusterDetails.name",
        )
        return [
            _signal(
                source=self.source,
                log_type="AWS.GuardDuty",
                payload=body,
                native_id=_text(finding, "id"),
                rule=_text(finding, "title") or kind,
                rule_id=kind,
                severity=severity,
                fired_at=_time(finding, "updatedAt", "createdAt", "service.eventLastSeen"),
                entities={
                    "user": user or "",
                    "ip": ip or "",
                    "account": _text(finding, "accountId") or _text(body, "account") or "",
                    "region": _text(finding, "region") or "",
                },
                techniques=(),
                description=_text(finding, "description") or "",
            )
        ]


class Falco:
    source = "falco"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[SecuritySignal]:
        body = _object(payload, "payload")
        rule = _text(body, "rule")
        if rule is None:
            raise PayloadError("missing rule: not a Falco event")
        fields = _sub(body, "output_fields")
        return [
            _signal(
                source=self.source,
                log_type="Falco.Event",
                payload=body,
                native_id=_text(body, "uuid"),
                rule=rule,
                rule_id=rule,
                severity=_text(body, "priority"),
                fired_at=_time(body, "time", required=True),
                entities={
                    "user": _key(fields, "user.name", "k8s.ns.name"),
                    "ip": _key(fields, "fd.cip", "fd.rip"),
                    "account": _text(body, "hostname") or _key(fields, "container.name"),
                },
                techniques=_techniques(body.get("tags")),
                description=_text(body, "output") or "",
            )
        ]


class GenericSecurity:
    source = "generic-security"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[SecuritySignal]:
        body = _object(payload, "payload")
        items = _items(body, "signals") or [body]
        return [self._one(_object(item, f"signals[{i}]"), i) for i, item in enumerate(items)]

    def _one(self, item: JSONObject, index: int) -> SecuritySignal:
        where = f"signals[{index}]" if index else "payload"
        if "fired_at" not in item:
            item = {**item, "fired_at": datetime.now(UTC).isoformat()}
        if "severity" in item and normalize_severity(item["severity"], default="info") != (
            normalize_severity(item["severity"], default="critical")
        ):
            raise PayloadError(f"{where}.severity must be critical, high, medium, low or info")
        try:
            signal = SecuritySignal.from_case_signal(item, where=where)
            events = tuple(
                SecurityEvent.from_json(e, where=f"{where}.events[{j}]")
                for j, e in enumerate(item.get("events") or [])
            )
        except EventError as exc:
            raise PayloadError(str(exc)) from exc
        raw_event = SecurityEvent(
            id=_event_id(self.source, item, _text(item, "id")),
            log_type=signal.log_type or "Generic.SecuritySignal",
            ts=signal.fired_at,
            event=item,
        )
        all_events = events or (raw_event,)
        # Ids the sender named but did not send would be citations of nothing: without events,
        # the signal cites the payload itself.
        event_ids = signal.event_ids if events else (raw_event.id,)
        return SecuritySignal(
            rule=signal.rule,
            rule_id=signal.rule_id,
            severity=signal.severity,
            source=self.source,
            log_type=signal.log_type or "Generic.SecuritySignal",
            fired_at=signal.fired_at,
            event_ids=event_ids or tuple(e.id for e in all_events),
            entities=signal.entities,
            techniques=signal.techniques,
            description=signal.description,
            events=all_events,
            raw=item,
        )


def signal_normalizers() -> dict[str, SignalNormalizer]:
    built: list[Callable[[], SignalNormalizer]] = [
        DatadogSecurity,
        Panther,
        GuardDuty,
        Falco,
        GenericSecurity,
    ]
    return {n.source: n for n in (make() for make in built)}
