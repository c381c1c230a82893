"""The shapes every security source, detector and consumer shares.

`SecurityEvent` is one raw event as a source emits it, wrapped with the fields every consumer
needs (`{"id", "log_type", "ts", "event"}`, the line format of a security case's
`events.jsonl` in DESIGN.md). `SecuritySignal` is one detection: a Sigma rule that matched, or a
third-party signal that arrived on a webhook (Panther, GuardDuty, ...). `SecuritySource` and
`SignalSink` are the two small protocols the rest of the product plugs into.

These types are deliberately small and stable: the triage agent, the case storage and the
scan job all depend on them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from integrations.security.errors import EventError

JSONObject = dict[str, Any]

# Log type names follow Panther's (the conformance data uses them); the sources emit these.
AWS_CLOUDTRAIL = "AWS.CloudTrail"
GITHUB_AUDIT = "GitHub.Audit"
GITHUB_SECURITY_ALERT = "GitHub.SecurityAlert"  # Dependabot, secret scanning, code scanning
OKTA_SYSTEMLOG = "Okta.SystemLog"
GCP_AUDITLOG = "GCP.AuditLog"
GSUITE_ACTIVITY = "GSuite.ActivityEvent"  # Google Workspace Admin SDK Reports activities
KNOWN_LOG_TYPES = (
    AWS_CLOUDTRAIL,
    GITHUB_AUDIT,
    GITHUB_SECURITY_ALERT,
    OKTA_SYSTEMLOG,
    GCP_AUDITLOG,
    GSUITE_ACTIVITY,
)

SignalSeverity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[SignalSeverity, ...] = ("critical", "high", "medium", "low", "info")

_SEVERITY_ALIASES: dict[str, SignalSeverity] = {
    "critical": "critical",
    "crit": "critical",
    "high": "high",
    "error": "high",
    "medium": "medium",
    "moderate": "medium",
    "warning": "medium",
    "warn": "medium",
    "low": "low",
    "info": "info",
    "informational": "info",
    "information": "info",
    "notice": "info",
    "debug": "info",
}


def normalize_severity(value: object, *, default: SignalSeverity = "medium") -> SignalSeverity:
    """Sigma levels, Panther/Datadog/Falco words and GuardDuty's 0-10 numbers, on one scale."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        # GuardDuty: 7.0-8.9 high, 4.0-6.9 medium, 1.0-3.9 low; 9+ is critical (2024 scale).
        if value >= 9:
            return "critical"
        if value >= 7:
            return "high"
        if value >= 4:
            return "medium"
        return "low" if value >= 1 else "info"
    if isinstance(value, str):
        return _SEVERITY_ALIASES.get(value.strip().lower(), default)
    return default


def parse_ts(value: object) -> datetime:
    """An ISO 8601 string (Z or offset; a space instead of T; nanoseconds) or Unix seconds or
    milliseconds, as an aware UTC datetime. Raises `ValueError` naming the value."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds (GitHub's @timestamp)
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty timestamp")
        try:
            return parse_ts(float(text))
        except ValueError:
            pass
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Panther writes "2025-01-21 17:49:47.000000000": fromisoformat takes at most 6 digits.
        head, dot, tail = text.partition(".")
        if dot:
            digits = len(tail) - len(tail.lstrip("0123456789"))
            tail = tail[: min(digits, 6)] + tail[digits:]
            text = f"{head}.{tail}"
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {type(value).__name__}")


def format_ts(ts: datetime) -> str:
    """UTC ISO 8601 with a Z, the form case files use."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One raw event. `event` is exactly what the source emitted; nothing is dropped from it."""

    id: str
    log_type: str
    ts: datetime
    event: JSONObject

    def to_json(self) -> JSONObject:
        return {
            "id": self.id,
            "log_type": self.log_type,
            "ts": format_ts(self.ts),
            "event": self.event,
        }

    @classmethod
    def from_json(cls, obj: object, *, where: str = "event") -> SecurityEvent:
        """One `events.jsonl` line; `EventError` names the field that is wrong."""
        if not isinstance(obj, dict):
            raise EventError(f"{where}: must be a JSON object, got {type(obj).__name__}")
        for key in ("id", "log_type", "ts", "event"):
            if key not in obj:
                raise EventError(f"{where}: missing field {key!r}")
        if not isinstance(obj["id"], str | int) or obj["id"] == "":
            raise EventError(f"{where}: field 'id' must be a non-empty string")
        if not isinstance(obj["log_type"], str) or not obj["log_type"]:
            raise EventError(f"{where}: field 'log_type' must be a non-empty string")
        if not isinstance(obj["event"], dict):
            raise EventError(f"{where}: field 'event' must be a JSON object")
        try:
            ts = parse_ts(obj["ts"])
        except (ValueError, OverflowError, OSError) as exc:
            raise EventError(f"{where}: field 'ts' is not a timestamp ({exc})") from exc
        return cls(id=str(obj["id"]), log_type=obj["log_type"], ts=ts, event=obj["event"])


@dataclass(frozen=True, slots=True)
class SecuritySignal:
    """One detection: a rule fired on some events, or a third-party tool said so.

    `entities` uses the case format's keys: `user`, `ip`, `account`, and where known
    `user_agent`, `region`. `techniques` are ATT&CK ids from the rule's tags (`T1562.008`).
    `events` carries the matching events themselves when the detector has them (Sigma scans
    do; a webhook signal usually does not), so a case can be opened without a second read.
    `raw` is the webhook payload as received, kept verbatim.
    """

    rule: str
    rule_id: str
    severity: SignalSeverity
    source: str
    log_type: str
    fired_at: datetime
    event_ids: tuple[str, ...] = ()
    entities: Mapping[str, str] = field(default_factory=dict)
    techniques: tuple[str, ...] = ()
    description: str = ""
    events: tuple[SecurityEvent, ...] = ()
    raw: JSONObject | None = None

    @property
    def principal(self) -> str | None:
        return self.entities.get("user") or None

    def case_signal(self) -> JSONObject:
        """The `signal` object of a security case's `case.json` (DESIGN.md)."""
        return {
            "rule": self.rule,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "source": self.source,
            "log_type": self.log_type,
            "fired_at": format_ts(self.fired_at),
            "event_ids": list(self.event_ids),
            "entities": dict(self.entities),
            "techniques": list(self.techniques),
            "description": self.description,
        }

    @classmethod
    def from_case_signal(cls, obj: object, *, where: str = "signal") -> SecuritySignal:
        """Read the `signal` object of a `case.json`; `EventError` names the bad field."""
        if not isinstance(obj, dict):
            raise EventError(f"{where}: must be a JSON object")
        rule = obj.get("rule")
        if not isinstance(rule, str) or not rule:
            raise EventError(f"{where}: field 'rule' must be a non-empty string")
        try:
            fired_at = parse_ts(obj.get("fired_at"))
        except (ValueError, OverflowError, OSError) as exc:
            raise EventError(f"{where}: field 'fired_at' is not a timestamp ({exc})") from exc
        ids = obj.get("event_ids", [])
        if not isinstance(ids, list):
            raise EventError(f"{where}: field 'event_ids' must be a list")
        entities = obj.get("entities", {})
        if not isinstance(entities, dict):
            raise EventError(f"{where}: field 'entities' must be an object")
        techniques = obj.get("techniques", [])
        return cls(
            rule=rule,
            rule_id=str(obj.get("rule_id") or rule),
            severity=normalize_severity(obj.get("severity")),
            source=str(obj.get("source") or "unknown"),
            log_type=str(obj.get("log_type") or ""),
            fired_at=fired_at,
            event_ids=tuple(str(i) for i in ids),
            entities={str(k): str(v) for k, v in entities.items() if v not in (None, "")},
            techniques=tuple(str(t) for t in techniques) if isinstance(techniques, list) else (),
            description=str(obj.get("description") or ""),
        )


@runtime_checkable
class SecuritySource(Protocol):
    """Anything that can list raw security events over a time window.

    `start` is inclusive, `end` exclusive, both aware UTC. `log_types` narrows to those types
    and `principal` to events whose extracted principal equals it (see `entities`), when given.
    A source that cannot be reached raises `SourceError`; a single malformed record is skipped
    (and counted and named by the source's `problems`, where it keeps them), never raised.
    """

    name: str

    async def events(
        self,
        *,
        start: datetime,
        end: datetime,
        log_types: Collection[str] | None = None,
        principal: str | None = None,
    ) -> list[SecurityEvent]: ...


class SignalSink(Protocol):
    """Where signals go: the case layer implements it (open or fold a case per signal)."""

    async def handle(self, signals: Sequence[SecuritySignal]) -> None: ...
