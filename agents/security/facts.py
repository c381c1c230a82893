"""What one raw event says, in the terms the checklist asks about.

Who, from where and in which account come from `integrations.security.entities` (shared with
the scan and the sources). This module adds what triage needs beyond that: the action, whether
it took effect (failed, denied, dry run, read-only), MFA, geography, whether AWS itself acted
(a service-linked role, `invokedBy`), and the other names the actor goes by (an IAM user's
name, an assumed role's session) so context lists written either way can match.

Every value is read from a structured field. Free text inside an event (a description, an
error message, a user-controlled name) is never interpreted: it is data an attacker may write.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.security.entities import extract_entities, get_path
from integrations.security.types import SecurityEvent

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Check", "View",
                 "BatchGet", "Scan", "Query", "Select", "Filter", "Estimate", "Preview")
FAILURE_WORDS = ("fail", "deny", "denied", "error", "unauthorized", "forbidden", "reject",
                 "block", "invalid")
# Geo fields as the vendors enrich them: Okta's geographicalContext, GitHub's actor_location,
# Panther's ipinfo enrichment, and plain `geo` objects of generic sources.
GEO_PATHS = ("client.geographicalContext", "actor_location", "geo", "location",
             "p_enrichment.ipinfo_location.sourceIPAddress", "p_enrichment.ipinfo_location",
             "geoip", "source.geo")


@dataclass(frozen=True, slots=True)
class Geo:
    country: str | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Facts:
    event_id: str
    principal: str | None
    aliases: frozenset[str]  # every name the actor goes by in this event
    ip: str | None
    user_agent: str | None
    account: str | None
    region: str | None
    action: str  # e.g. StopLogging, user.session.start, repo.destroy
    service: str  # e.g. cloudtrail, okta, github
    failed: bool
    error: str | None
    dry_run: bool
    read_only: bool
    mfa: bool | None
    geo: Geo | None
    aws_service: bool  # AWS acted itself (service-linked role, invokedBy, AWSService)
    target_user: str | None  # the user an IAM/identity action was aimed at


def _text(event: Mapping[str, Any], *paths: str) -> str | None:
    for path in paths:
        value = get_path(event, path)
        if isinstance(value, str) and value:
            return value
    return None


def _action(log_type: str, e: Mapping[str, Any]) -> tuple[str, str]:
    if log_type == "AWS.CloudTrail" or "eventName" in e:
        name: str = _text(e, "eventName") or "?"
        # Lambda's versioned names (UpdateFunctionCode20150331v2) are one action.
        for suffix in ("20150331v2", "20150331", "20141111", "20160419"):
            name = name.removesuffix(suffix)
        source = (_text(e, "eventSource") or "aws").split(".")[0]
        return name, source
    other = _text(e, "eventType", "action", "protoPayload.methodName", "operationName",
                  "operationName.value", "events.0.name", "name", "type", "event", "event_type")
    service = _text(e, "id.applicationName", "protoPayload.serviceName", "category") or (
        log_type.split(".")[0].lower())
    return other or "?", service


def _failed(log_type: str, e: Mapping[str, Any]) -> tuple[bool, str | None]:
    code = _text(e, "errorCode")
    if code:
        return True, code
    for path in ("outcome.result", "result", "resultType", "status", "outcome",
                 "responseElements.ConsoleLogin", "protoPayload.status.message"):
        value = get_path(e, path)
        if isinstance(value, str) and any(w in value.lower() for w in FAILURE_WORDS):
            return True, value
    status = get_path(e, "protoPayload.status.code")
    if isinstance(status, int) and status != 0:
        return True, f"status {status}"
    return False, None


def _read_only(action: str, e: Mapping[str, Any]) -> bool:
    flag = e.get("readOnly")
    if isinstance(flag, bool):
        return flag
    if isinstance(flag, str) and flag.lower() in ("true", "false"):
        return flag.lower() == "true"
    return action.startswith(READ_PREFIXES)


def _mfa(e: Mapping[str, Any]) -> bool | None:
    for path in ("userIdentity.sessionContext.attributes.mfaAuthenticated",
                 "additionalEventData.MFAUsed", "mfa", "mfa_used",
                 "authenticationContext.authenticationStep"):
        value = get_path(e, path)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "false", "no"):
            return value.lower() in ("true", "yes")
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _geo(e: Mapping[str, Any]) -> Geo | None:
    for path in GEO_PATHS:
        node = get_path(e, path)
        if not isinstance(node, Mapping):
            continue
        country = next((str(node[k]) for k in ("country", "country_code", "countryCode",
                                                "country_name") if node.get(k)), None)
        inner = node.get("geolocation")
        point: Mapping[str, Any] = inner if isinstance(inner, Mapping) else node
        lat = _number(point.get("lat", point.get("latitude")))
        lon = _number(point.get("lon", point.get("lng", point.get("longitude"))))
        if lat is None and isinstance(node.get("loc"), str) and "," in node["loc"]:
            lat, lon = (_number(x) for x in node["loc"].split(",", 1))
        if country or (lat is not None and lon is not None):
            return Geo(country, lat, lon)
    return None


def _aws_service(e: Mapping[str, Any]) -> bool:
    identity = e.get("userIdentity")
    if not isinstance(identity, Mapping):
        return False
    if identity.get("type") == "AWSService" or identity.get("invokedBy"):
        return True
    arn = str(identity.get("arn") or "") + str(
        get_path(identity, "sessionContext.sessionIssuer.arn") or "")
    # Service-linked roles live under /aws-service-role/ and are named AWSServiceRoleFor*.
    return "/aws-service-role/" in arn or ":assumed-role/AWSServiceRoleFor" in arn \
        or "role/AWSServiceRoleFor" in arn


def _dry_run(e: Mapping[str, Any], error: str | None) -> bool:
    if error and "dryrun" in error.lower().replace("-", "").replace("_", ""):
        return True
    for path in ("requestParameters.dryRun", "requestParameters.DryRun", "dry_run", "dryRun"):
        if get_path(e, path) is True:
            return True
    return False


def _aliases(principal: str | None, e: Mapping[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    if principal:
        names.add(principal)
    for path in ("userIdentity.userName", "userIdentity.arn",
                 "userIdentity.sessionContext.sessionIssuer.userName", "actor.alternateId",
                 "actor", "actor.email", "protoPayload.authenticationInfo.principalEmail",
                 "user", "username", "caller"):
        value = get_path(e, path)
        if isinstance(value, str) and value:
            names.add(value)
    arn = get_path(e, "userIdentity.arn")
    if isinstance(arn, str) and "/" in arn:
        # arn:aws:iam::1:user/path/alice -> alice; assumed-role/Role/session -> Role, and the
        # session only for IAM Identity Center roles, where AWS sets it to the signed-in
        # user. Elsewhere the caller picks the session name: "alice" would be anyone's claim.
        parts = arn.split(":", 5)[-1].split("/")
        if parts[0] == "assumed-role" and len(parts) >= 3:
            names.add(parts[1])
            if parts[1].startswith("AWSReservedSSO_"):
                names.add(parts[-1])
        else:
            names.add(parts[-1])
    if get_path(e, "userIdentity.type") != "AssumedRole":  # "AROA...:session" is the caller's
        principal_id = get_path(e, "userIdentity.principalId")
        if isinstance(principal_id, str):
            names.add(principal_id)
    return frozenset(names)


def _target_user(e: Mapping[str, Any]) -> str | None:
    return _text(e, "requestParameters.userName", "target.0.alternateId", "user",
                 "requestParameters.roleName")


def facts(event: SecurityEvent) -> Facts:
    e = event.event
    entities = extract_entities(event.log_type, e)
    action, service = _action(event.log_type, e)
    failed, error = _failed(event.log_type, e)
    ip = entities.ip
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            ip = None
    return Facts(
        event_id=event.id, principal=entities.principal,
        aliases=_aliases(entities.principal, e), ip=ip, user_agent=entities.user_agent,
        account=entities.account, region=entities.region, action=action, service=service,
        failed=failed, error=error, dry_run=_dry_run(e, error),
        read_only=_read_only(action, e), mfa=_mfa(e), geo=_geo(e), aws_service=_aws_service(e),
        target_user=_target_user(e) if isinstance(_target_user(e), str) else None)
