"""The normaliser protocol and the helpers every source shares.

A normaliser turns one webhook payload into zero or more `Alert`s. It never talks to the
network or the database; bad payloads raise `PayloadError` with a message that names the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from integrations.errors import PayloadError
from integrations.redaction import clip
from integrations.telemetry.base import name_words
from storage.models import Alert, AlertStatus, Severity, Signal

JSONObject = dict[str, Any]


class AlertNormalizer(Protocol):
    source: str

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        """Alerts in the payload; an empty list means "nothing to do" (e.g. an ack event)."""
        ...


_REGISTRY: dict[str, AlertNormalizer] = {}


def register(normalizer: AlertNormalizer) -> AlertNormalizer:
    _REGISTRY[normalizer.source] = normalizer
    return normalizer


def normalizers() -> dict[str, AlertNormalizer]:
    # Importing the package registers the built-ins, the same way a plug-in would.
    import integrations.alerts.sources  # noqa: F401

    return dict(_REGISTRY)


# ---- field access ---------------------------------------------------------------------------


def require_object(value: Any, where: str) -> JSONObject:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def as_object(value: Any) -> JSONObject:
    """An optional nested object: itself if it is one, else empty."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def require_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"missing required field '{where}.{key}' (a non-empty string)")
    return value


def str_map(value: Any) -> dict[str, str]:
    """Labels and annotations: keep strings, render anything else as compact JSON."""
    if not isinstance(value, dict):
        return {}
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        for k, v in value.items()
        if v is not None
    }


EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def parse_time(value: Any, where: str, *, default: datetime | None = None) -> datetime:
    """ISO 8601 or Unix seconds/milliseconds, always returned as aware UTC, between 1990 and
    2100: anything else (1e20, -1e13, year 9999 at -14:00, NaN) is a `PayloadError` naming
    the field, never an overflow deep in datetime."""
    if value in (None, "") or (isinstance(value, str) and value.startswith("0001-01-01")):
        if default is not None:
            return default
        raise PayloadError(f"missing required timestamp '{where}'")
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    if isinstance(value, bool):
        raise PayloadError(f"'{where}' is not a timestamp: {shown}")
    try:
        parsed = _parse_time(value, where, shown)
    except (OverflowError, OSError, ValueError) as exc:  # datetime's own range errors
        raise PayloadError(f"'{where}' is out of range: {shown}") from exc
    if not EARLIEST <= parsed < LATEST:
        raise PayloadError(f"'{where}' is out of range (1990 to 2100): {shown}")
    return parsed


def _parse_time(value: Any, where: str, shown: str) -> datetime:
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > 1e15:
            raise PayloadError(f"'{where}' is out of range (1990 to 2100): {shown}")
        seconds = float(value) / 1000 if value > 10_000_000_000 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{1,16}(\.\d{1,9})?", text):
            return _parse_time(float(text), where, shown)
        # Go emits nanoseconds; Python's parser takes at most microseconds.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise PayloadError(f"'{where}' is not an ISO 8601 timestamp: {shown}") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise PayloadError(f"'{where}' is not a timestamp: {shown}")


def stable_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- vocabulary mapping ---------------------------------------------------------------------

_SEVERITY_WORDS: list[tuple[Severity, tuple[str, ...]]] = [
    (Severity.CRITICAL, ("critical", "crit", "p1", "sev1", "sev-1", "fatal", "emergency",
                         "page", "disaster")),
    (Severity.HIGH, ("high", "p2", "sev2", "sev-2", "error", "major", "err")),
    (Severity.WARNING, ("warning", "warn", "p3", "sev3", "sev-3", "medium", "minor",
                        "average", "moderate")),
    (Severity.INFO, ("info", "informational", "low", "p4", "p5", "sev4", "sev5", "debug",
                     "none", "ok")),
]


def severity_of(*candidates: Any, default: Severity = Severity.WARNING) -> Severity:
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        word = candidate.strip().lower()
        for severity, words in _SEVERITY_WORDS:
            if word in words:
                return severity
    return default


_SIGNAL_PATTERNS: list[tuple[Signal, re.Pattern[str]]] = [
    (Signal.LATENCY, re.compile(r"latenc|slow|duration|p9[059]|response.?time|timeout")),
    (Signal.ERRORS, re.compile(r"error|5xx|exception|fail|crash|panic|\berr")),
    # Read by whole words where a fragment names something else: "down" ends a word
    # (`InstanceDown`, "shutdown", not "downstream"), "lag" begins one (`ConsumerLag`, not
    # "feature flag").
    (Signal.AVAILABILITY, re.compile(r"down\b|unavailab|availab|unreachab|health|\bup\b|probe")),
    (Signal.SATURATION, re.compile(r"cpu|memory|\bmem|disk|oom|saturat|throttl|pool|\blag|queue")),
    (Signal.THROUGHPUT, re.compile(r"traffic|throughput|rps|qps|request.?rate|requests")),
]


def signal_of(explicit: Any, *texts: str) -> Signal:
    if isinstance(explicit, str):
        try:
            return Signal(explicit.strip().lower())
        except ValueError:
            pass
    # Alert names are often one CamelCase word (`KafkaConsumerLagHigh`): read as words.
    haystack = " ".join(" ".join(name_words(text)) for text in texts)
    for signal, pattern in _SIGNAL_PATTERNS:
        if pattern.search(haystack):
            return signal
    return Signal.OTHER


_SERVICE_LABELS = ("service", "service_name", "app", "app_kubernetes_io_name", "application",
                   "component", "job", "container", "deployment")


def service_of(labels: Mapping[str, str], *fallbacks: Any) -> str:
    for key in _SERVICE_LABELS:
        value = labels.get(key)
        if value:
            return value
    for fallback in fallbacks:
        if isinstance(fallback, str) and fallback.strip():
            return fallback.strip()
    return "unknown"


def tags_to_labels(tags: Iterable[Any]) -> dict[str, str]:
    """`["service:checkout", "team"]` → {"service": "checkout", "team": ""}."""
    labels: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, str):
            continue
        key, _, value = tag.partition(":")
        if key.strip():
            labels[key.strip()] = value.strip()
    return labels


def make_alert(
    *,
    source: str,
    dedup_key: str,
    group_key: str,
    status: AlertStatus,
    title: str,
    started_at: datetime,
    raw: JSONObject,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    links: dict[str, str] | None = None,
    service: str | None = None,
    severity: Severity | None = None,
    signal: Signal | None = None,
    ended_at: datetime | None = None,
) -> Alert:
    labels = labels or {}
    annotations = annotations or {}
    texts = [title, labels.get("alertname", ""), annotations.get("summary", "")]
    # The receipt times are given rather than left to the model's default factories: in an
    # alert storm pydantic's inspection of those factories costs more than the rest of this.
    now = utc_now()
    return Alert(
        source=source,
        dedup_key=truncate(dedup_key, 255),
        group_key=truncate(f"{source}:{group_key}", 255),
        status=status,
        service=truncate(service or service_of(labels), 255),
        signal=signal or signal_of(labels.get("signal"), *texts),
        severity=severity or severity_of(labels.get("severity"), labels.get("priority")),
        title=clip(title, 500),  # masked before it is cut, like every text we keep
        started_at=started_at,
        ended_at=ended_at,
        labels=labels,
        annotations=annotations,
        links={k: v for k, v in (links or {}).items() if v},
        raw=raw,
        received_at=now,
        last_seen_at=now,
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
