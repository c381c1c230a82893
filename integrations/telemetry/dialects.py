"""Other exporters' ways of writing what a scenario directory holds (DESIGN.md, "Scenario
directory"): their field names (Jaeger's `traceID`, OpenTelemetry's `severityText`, a log
shipper's `@timestamp`, a metrics export's `time` column), Jaeger's and Zipkin's span
durations, their span statuses, their words for a change's kind and an alert's signal. The
scenario source reads each into the one vocabulary the investigator knows; what names nothing
known is left for the source to refuse or warn about.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.telemetry.base import metric_family

SIGNALS = ("latency", "errors", "availability", "saturation", "throughput", "other")

# Other exporters' names for the fields DESIGN.md gives (Jaeger, OpenTelemetry, log
# shippers); a line that has the canonical name keeps it.
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "time", "@timestamp"),
    "service": ("service.name", "serviceName", "service_name", "container", "app"),
    "message": ("msg", "log", "body"),
    "level": ("severityText", "severity_text", "levelname", "lvl"),
    "trace_id": ("traceID", "traceId"),
    "span_id": ("spanID", "spanId"),
    "parent_id": ("parentSpanID", "parentSpanId", "parent_span_id"),
    "operation": ("operationName", "name"),
    "start": ("startTime", "start_time", "timestamp"),
}


# metrics.csv's columns as other exports head them: the timestamp as the JSONL readers
# accept it (`time`, `ts`), or named for its unit (parse_ts reads a Unix time's unit off its
# size). A header with the canonical name keeps it.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {"timestamp": ("time", "ts", "timestamp_ms")}


def column(header: list[str], name: str) -> int:
    """Where `name`'s column is in a header (its names stripped and lower-cased), under its
    own name or the first of its aliases present; ValueError when under neither."""
    for candidate in (name, *COLUMN_ALIASES.get(name, ())):
        if candidate in header:
            return header.index(candidate)
    raise ValueError(f"no {name} column")


def canonical(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The item with each of `fields` it lacks taken from its first alias present."""
    out = dict(item)
    for name in fields:
        if out.get(name) in (None, ""):
            alias = next((a for a in ALIASES.get(name, ()) if item.get(a) not in (None, "")),
                         None)
            if alias is not None:
                out[name] = out.pop(alias)
    return out


# Jaeger's JSON and Zipkin's write a span's `duration` with no unit in its name, in the unit
# they write its start in (`startTime`, `timestamp`): microseconds since the epoch.
_MICROSECONDS = 1e6


def duration_ms(item: dict[str, Any], start_unit: float | None) -> float | None:
    """A span's `duration` in milliseconds, where it gives no `duration_ms`: read as Jaeger and
    Zipkin write it when its start is, like theirs, in microseconds (`start_unit`: how many of
    the start's units make a second, None for ISO 8601). None when its unit cannot be told."""
    if start_unit != _MICROSECONDS:
        return None
    return float(item["duration"]) / 1000.0


_FAILED = {"error", "err", "failed", "failure", "fail", "status_code_error", "2"}


def span_status(item: dict[str, Any]) -> str:
    """ok or error, however the exporter said it: `status` as DESIGN.md has it, or as
    OpenTelemetry writes it (`STATUS_CODE_ERROR`, or its enum value 2), an HTTP status code
    of 500 or more, or Jaeger's `error: true` tag."""
    raw = item.get("status")
    text = str(raw).strip().lower() if raw is not None else ""
    if text in _FAILED or item.get("error") is True:
        return "error"
    for key in ("status", "status_code", "http_status", "http.status_code"):
        value = item.get(key)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                code = float(value)
            except ValueError:
                continue
            if code >= 500:
                return "error"
    return "ok"


_SIGNAL_OF_FAMILY = {"latency": "latency", "errors": "errors", "availability": "availability",
                     "throughput": "throughput", "cpu": "saturation", "memory": "saturation",
                     "disk": "saturation", "network": "saturation"}


def signal_of(text: str) -> str | None:
    """The alert's signal: one of SIGNALS, or read off a metric-like word the way metric
    families are (`error_rate` is errors, `p99` or `p99_latency` latency, `cpu` saturation)."""
    word = text.strip().lower()
    if word in SIGNALS:
        return word
    if re.fullmatch(r"p\d{2,3}", word):
        return "latency"
    return _SIGNAL_OF_FAMILY.get(metric_family(text.strip()))  # its case marks words


# A change event's kind as other tools write it, read into DESIGN.md's vocabulary (a
# "rollout" is a deploy, a "ConfigMap" update or a feature flag a config change).
EVENT_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("deploy", ("deploy", "rollout", "release", "upgrade", "rollback", "canary", "image")),
    ("config", ("config", "flag", "feature", "setting")),
    ("scale", ("scal", "autoscal", "hpa", "replica")),
    ("restart", ("restart", "crash", "oom", "evict", "kill")),
    ("k8s", ("k8s", "kube", "pod", "node")),
)


def event_kind(text: str) -> str:
    """deploy, config, scale, restart, k8s or other, from the kind's own words."""
    words = [w for w in re.split(r"[^a-z0-9]+", text.strip().lower()) if w]
    for kind, prefixes in EVENT_KINDS:
        if any(w.startswith(prefixes) for w in words):
            return kind
    return "other"
