"""Who, from where, in which account: the entities of one raw event, per log type.

Every consumer (the Sigma scan that fills `SecuritySignal.entities`, the triage checklist that
asks "what else did this principal do", the sources' `principal=` filter) reads them here so
they agree. Values are returned as the event states them; nothing is resolved or looked up.
Fields follow each vendor's documented record shape:

- AWS.CloudTrail: `userIdentity.arn` (else `userName` / `principalId`), `sourceIPAddress`,
  `userAgent`, `recipientAccountId` (else `userIdentity.accountId`), `awsRegion`;
- GitHub.Audit: `actor`, `actor_ip`, `user_agent`, `org` (else `business`),
  `actor_location.country_code`;
- GitHub.SecurityAlert (the GitHub source's envelope around an alert): who bypassed push
  protection or dismissed/resolved the alert, the repository; no IP;
- Okta.SystemLog: `actor.alternateId`, `client.ipAddress`, `client.userAgent.rawUserAgent`,
  `client.geographicalContext.country`;
- GCP.AuditLog: `protoPayload.authenticationInfo.principalEmail`,
  `protoPayload.requestMetadata.callerIp` / `callerSuppliedUserAgent`,
  `resource.labels.project_id`, `resource.labels.location` (else `zone`, `region`);
- GSuite.ActivityEvent (Google Workspace Reports API): `actor.email`, `ipAddress`,
  `id.customerId`.

Anything else falls back to common generic keys (`user`, `principal`, `src_ip`, ...).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.security.types import (
    AWS_CLOUDTRAIL,
    GCP_AUDITLOG,
    GITHUB_AUDIT,
    GITHUB_SECURITY_ALERT,
    GSUITE_ACTIVITY,
    OKTA_SYSTEMLOG,
    parse_ts,
)


@dataclass(frozen=True, slots=True)
class Entities:
    principal: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    account: str | None = None
    region: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The case format's keys (`user`, `ip`, `account`, `user_agent`, `region`), set only."""
        pairs = {
            "user": self.principal,
            "ip": self.ip,
            "account": self.account,
            "user_agent": self.user_agent,
            "region": self.region,
        }
        return {k: v for k, v in pairs.items() if v}


def get_path(event: Mapping[str, Any], dotted: str) -> Any:
    """`a.b.c` inside nested objects (`a.0.b` indexes a list); None when a step is missing."""
    node: Any = event
    for part in dotted.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _text(event: Mapping[str, Any], *paths: str) -> str | None:
    for path in paths:
        value = get_path(event, path)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def is_ip(value: str | None) -> bool:
    if not value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _cloudtrail(e: Mapping[str, Any]) -> Entities:
    # sourceIPAddress is a service name ("ec2.amazonaws.com") when AWS acted for the caller:
    # that is not a network location, so it is not reported as an IP.
    src = _text(e, "sourceIPAddress")
    return Entities(
        principal=_text(
            e,
            "userIdentity.arn",
            "userIdentity.userName",
            "userIdentity.principalId",
            "userIdentity.invokedBy",
        ),
        ip=src if is_ip(src) else None,
        user_agent=_text(e, "userAgent"),
        account=_text(e, "recipientAccountId", "userIdentity.accountId"),
        region=_text(e, "awsRegion"),
    )


def _github_audit(e: Mapping[str, Any]) -> Entities:
    return Entities(
        principal=_text(e, "actor", "user"),
        ip=_text(e, "actor_ip"),
        user_agent=_text(e, "user_agent"),
        account=_text(e, "org", "business"),
        region=_text(e, "actor_location.country_code"),
    )


def _github_alert(e: Mapping[str, Any]) -> Entities:
    # The source's envelope: {"alert_type", "repository", "alert": <the API's alert object>}.
    return Entities(
        principal=_text(
            e,
            "alert.push_protection_bypassed_by.login",
            "alert.dismissed_by.login",
            "alert.resolved_by.login",
        ),
        account=_text(e, "repository", "alert.repository.full_name"),
    )


def _okta(e: Mapping[str, Any]) -> Entities:
    return Entities(
        principal=_text(e, "actor.alternateId", "actor.displayName", "actor.id"),
        ip=_text(e, "client.ipAddress", "request.ipChain.0.ip"),
        user_agent=_text(e, "client.userAgent.rawUserAgent"),
        region=_text(e, "client.geographicalContext.country"),
    )


def _gcp(e: Mapping[str, Any]) -> Entities:
    return Entities(
        principal=_text(e, "protoPayload.authenticationInfo.principalEmail"),
        ip=_text(e, "protoPayload.requestMetadata.callerIp"),
        user_agent=_text(e, "protoPayload.requestMetadata.callerSuppliedUserAgent"),
        account=_text(e, "resource.labels.project_id", "logName"),
        region=_text(
            e, "resource.labels.location", "resource.labels.zone", "resource.labels.region"
        ),
    )


def _gsuite(e: Mapping[str, Any]) -> Entities:
    return Entities(
        principal=_text(e, "actor.email", "actor.profileId"),
        ip=_text(e, "ipAddress"),
        account=_text(e, "id.customerId"),
    )


def _generic(e: Mapping[str, Any]) -> Entities:
    return Entities(
        principal=_text(
            e,
            "user",
            "principal",
            "username",
            "user_name",
            "actor",
            "userName",
            "user.name",
            "actor.email",
            "actor.alternateId",
        ),
        ip=_text(
            e,
            "ip",
            "src_ip",
            "source_ip",
            "sourceIPAddress",
            "client_ip",
            "remote_addr",
            "source.ip",
        ),
        user_agent=_text(e, "user_agent", "userAgent", "http.user_agent"),
        account=_text(e, "account", "account_id", "accountId", "org", "tenant"),
        region=_text(e, "region", "awsRegion", "country", "geo.country"),
    )


_EXTRACTORS: dict[str, Callable[[Mapping[str, Any]], Entities]] = {
    AWS_CLOUDTRAIL: _cloudtrail,
    GITHUB_AUDIT: _github_audit,
    GITHUB_SECURITY_ALERT: _github_alert,
    OKTA_SYSTEMLOG: _okta,
    GCP_AUDITLOG: _gcp,
    GSUITE_ACTIVITY: _gsuite,
}


def extract_entities(log_type: str, event: Mapping[str, Any]) -> Entities:
    """The entities of one raw event; unknown log types use the generic keys."""
    return _EXTRACTORS.get(log_type, _generic)(event)


# ---- the event's own time and id -------------------------------------------------------------

_TIME_FIELDS: dict[str, tuple[str, ...]] = {
    AWS_CLOUDTRAIL: ("eventTime",),
    GITHUB_AUDIT: ("@timestamp", "created_at", "at_sign_timestamp"),
    GITHUB_SECURITY_ALERT: ("alert.updated_at", "alert.created_at"),
    OKTA_SYSTEMLOG: ("published",),
    GCP_AUDITLOG: ("timestamp", "receiveTimestamp"),
    GSUITE_ACTIVITY: ("id.time",),
}
_GENERIC_TIME = (
    "ts",
    "timestamp",
    "@timestamp",
    "time",
    "eventTime",
    "published",
    "created_at",
    "date",
    "p_event_time",
)

_ID_FIELDS: dict[str, tuple[str, ...]] = {
    AWS_CLOUDTRAIL: ("eventID",),
    GITHUB_AUDIT: ("_document_id",),
    GITHUB_SECURITY_ALERT: ("alert.html_url", "alert.url"),
    OKTA_SYSTEMLOG: ("uuid",),
    GCP_AUDITLOG: ("insertId",),
    GSUITE_ACTIVITY: ("id.uniqueQualifier",),
}
_GENERIC_ID = ("id", "event_id", "eventID", "uuid", "_id", "insertId")


def event_time(log_type: str, event: Mapping[str, Any]) -> datetime | None:
    """The time the event itself states, or None when it states none that parses."""
    for path in _TIME_FIELDS.get(log_type, ()) + _GENERIC_TIME:
        value = get_path(event, path)
        if value in (None, ""):
            continue
        try:
            return parse_ts(value)
        except (ValueError, OverflowError, OSError):
            continue
    return None


def native_id(log_type: str, event: Mapping[str, Any]) -> str | None:
    """The id the vendor gave the event (CloudTrail `eventID`, Okta `uuid`, ...), if any."""
    return _text(event, *(_ID_FIELDS.get(log_type, ()) + _GENERIC_ID))
