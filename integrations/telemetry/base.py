"""The telemetry protocol: metrics, logs, traces, change events and topology, one small surface.

Every call returns a result object, never raises for a remote failure: a failed query is a
result with `status="error"` and a message, so an investigation records it as evidence and
goes on. Each result names the query it ran and, where the source has a UI, a link to it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

Status = Literal["ok", "error", "empty"]
FloatArray = npt.NDArray[np.float64]

# Metric families, recognised by name as DESIGN.md lists them, plus the names other systems'
# exporters use (cadvisor's `container_fs_*`, RCAEval's `load` and `workload`, `tcp_*`).
FAMILY_PREFIXES: list[tuple[str, tuple[str, ...]]] = [
    ("cpu", ("cpu",)),
    ("memory", ("mem", "swap")),
    ("disk", ("disk", "filesystem", "blkio", "iops", "volume")),
    ("network", ("net", "socket", "tcp", "rtt", "srtt", "retrans")),
    ("latency", ("latenc", "lat_", "duration", "elapsed")),  # latency, GCP's `latencies`
    # gRPC's status codes and Envoy's upstream timeouts are failed requests too.
    ("errors", ("error", "5xx", "fail", "exception", "timeout", "unavailable", "deadline")),
    ("throughput", ("request", "throughput", "qps", "lod", "workload", "transaction", "quer",
                    "command", "message", "invocation")),  # a function's (Lambda's) calls
    ("availability", ("availability",)),
]
_PREFIXES = dict(FAMILY_PREFIXES)
# A percentile is a latency's statistic (`message_processing_p95_ms`, `handle_p99`).
_PERCENTILES = frozenset({"p50", "p75", "p90", "p95", "p99", "p999", "quantile", "percentile",
                          "50p", "75p", "90p", "95p", "99p",  # Datadog spells them so,
                          # and its JMX integrations so (`kafka.request.produce.time.99percentile`)
                          "50percentile", "75percentile", "90percentile", "95percentile",
                          "99percentile"})
# Seconds in one unit of time, by how units are spelled in names and in sources' metadata.
_SECONDS = {"seconds": 1.0, "second": 1.0, "secs": 1.0, "sec": 1.0, "ms": 1e-3,
            "millis": 1e-3, "milliseconds": 1e-3, "us": 1e-6, "micros": 1e-6,
            "microseconds": 1e-6, "ns": 1e-9, "nanoseconds": 1e-9}
# Requests measured in a unit of time are their latency (Micrometer's
# `http_server_requests_seconds_max`, `http_server_requests_p99_seconds`), unless the name
# counts them (`..._seconds_count`, a histogram's `_bucket`, `requests_per_second`).
_TIME_UNITS = frozenset(_SECONDS)
_COUNTS = frozenset({"count", "total", "bucket", "per", "rate", "rps", "qps"})
# Words that open with a family's prefix and name something else: Envoy's
# `envoy_cluster_membership_healthy` (hosts up, not memory), Netdata's exporter namespace
# (`netdata_disk_qops_operations_average` is disk, not network).
_NOT_PREFIXED = ("member", "netdata")
# Words too short to match as a prefix ("fsm" is no filesystem, "rtx" no response time).
FAMILY_WORDS: list[tuple[str, frozenset[str]]] = [
    ("disk", frozenset({"fs", "io"})), ("latency", frozenset({"rt", *_PERCENTILES})),
    ("throughput", frozenset({"load", "rps", "tps", "ops", "rq"}))]  # Envoy's `rq`: requests
# Words that say what a name measures whatever else it names, read first:
# a JVM's garbage collection is memory pressure (`jvm_gc_pause_seconds_sum`); evictions are a
# cache or a node out of memory; slow queries are a latency; a cache miss is a lookup that
# failed (`redis_keyspace_misses_total`); blocks read are disk reads (blocks hit were found
# in memory: `pg_stat_database_blks_hit` is no disk). A backlog (`pending`,
# `waiting`, `queued`, RabbitMQ's messages `ready` for a consumer) is neither requests
# arriving nor their latency, whatever it counts:
# `db.client.connections.pending_requests` is a pool's queue for connections, zero until the
# database behind it slows (read as traffic, it made its caller a "surge" at z=3e7).
_MEASURED_BY: list[tuple[str, frozenset[str]]] = [
    ("memory", frozenset({"gc", "evicted", "evictions", "evict"})),
    ("latency", frozenset({"slow"})),
    ("errors", frozenset({"miss", "misses"})),
    ("disk", frozenset({"blks", "blocks"})),
    ("other", frozenset({"pending", "waiting", "queued", "ready"}))]
# A histogram's or a summary's count is how many requests it timed: `..._duration_count` is
# throughput (errors when it counts failures: `rpc.server.duration.count.error`).
_TALLIES = frozenset({"count", "bucket"})
_HITS = frozenset({"hit", "hits"})
_RESPONSE_TIME = re.compile(r"resp(?:onse)?[_\-.]?times?(?:$|[_\-.])")
# A host's load average (per core too: Datadog's and Metricbeat's `system.load.norm.1`) is CPU
# demand, not request load; "upload", "download", "payload" and "workload" hold no load average.
_LOAD_AVERAGE = re.compile(r"(?<!up)(?<!down)(?<!pay)(?<!work)load[_\-.]?(?:avg|average|norm|\d)"
                           r"|(?:^|[_\-.])load(?:1|5|15)\b")
# What a name opens with may be the subject, not the measure: `request_duration_seconds` is a
# latency and `request_errors_total` errors; a later latency or error word names it then.
_MEASURES = ("latency", "errors")


# Where one word of a name ends and the next begins when the name says it by case alone:
# CloudWatch's `CPUUtilization`, `ReadLatency`, `HTTPCode_Target_5XX_Count`, Azure's `Http5xx`,
# OpenTelemetry's camelCase attributes (`requestCount`). A lower case letter or a digit then a
# capital (a status class `5XX` stays whole), an acronym then a capitalised word, and a status
# class after its protocol's name.
_CASE_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[0-9])(?=[A-Z])(?!XX)"
                            r"|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[1-5][xX]{2}(?![A-Za-z]))")


def name_words(metric: str) -> list[str]:
    """A metric's name as its lower-case words, by separators and by case: every reader of a
    name's words (its family, its unit, whether it is a share) splits it so."""
    return [w for w in re.split(r"[^a-z0-9]+", _CASE_BOUNDARY.sub("_", metric.strip()).lower())
            if w]


@functools.lru_cache(maxsize=4096)
def metric_family(metric: str) -> str:
    """The family by the name's prefix, else by its first later word that has a family's
    prefix (so `commit_latency_ms` and `http_request_duration_seconds` are latency), else by
    a whole word (`container_fs_writes_bytes_total` is disk). Memoised: every series'
    `family` asks, and a system has a few dozen metric names."""
    words = name_words(metric)
    name = "_".join(words)
    for family, whole in _MEASURED_BY:
        if whole.intersection(words) and not (family == "disk" and _HITS.intersection(words)):
            return family
    later = [family for family, prefixes in FAMILY_PREFIXES
             if any(w.startswith(prefixes) and not w.startswith(_NOT_PREFIXED)
                    for w in words[1:])]
    if _TALLIES.intersection(words) and ("latency" in later or name.startswith(
            _PREFIXES["latency"] + _PREFIXES["throughput"])):
        return "errors" if "errors" in later else "throughput"
    for family, prefixes in FAMILY_PREFIXES:
        if name.startswith(prefixes) and not name.startswith(_NOT_PREFIXED):
            if family == "throughput":
                return next((f for f in later if f in _MEASURES), _timed(words))
            return family
    if _RESPONSE_TIME.search(name):
        return "latency"
    if _LOAD_AVERAGE.search(name):
        return "cpu"
    if later:
        return _timed(words) if later[0] == "throughput" else later[0]
    for family, whole in FAMILY_WORDS:
        if whole.intersection(words):
            return family
    return "other"


def seconds_per_unit(metric: str, unit: str = "") -> float | None:
    """How many seconds one unit of a timed series is: 0.001 for `latency_p99_ms`, 1 for
    `http_server_requests_p99_seconds`, from the unit its source gave or else the last word
    of time in its name. None when neither says (`pg_stat_activity_max_tx_duration`,
    `rpc.server.duration.p99`): such a series is compared with others as recorded."""
    given = unit.strip().lower()
    if given in _SECONDS or given == "s":
        return _SECONDS.get(given, 1.0)
    return next((_SECONDS[w] for w in reversed(name_words(metric)) if w in _SECONDS), None)


def _timed(words: list[str]) -> str:
    """A name read as requests: their latency when it carries a percentile, or a unit of
    time and no word that counts them."""
    if _PERCENTILES.intersection(words) or (_TIME_UNITS.intersection(words)
                                            and not _COUNTS.intersection(words)):
        return "latency"
    return "throughput"


@dataclass(slots=True)
class Series:
    service: str
    metric: str
    t: FloatArray  # Unix seconds, ascending
    v: FloatArray  # NaN where a sample is missing
    # Optional, where the source knows them: the unit ("share", "bytes", "seconds", ...), the
    # series' own query and a link to it, and what it is in words.
    unit: str = ""
    query: str = ""
    link: str | None = None
    label: str = ""

    @property
    def family(self) -> str:
        return metric_family(self.metric)


@dataclass(slots=True)
class QueryInfo:
    query: str
    status: Status = "ok"
    error: str | None = None
    link: str | None = None


@dataclass(slots=True)
class MetricsResult:
    info: QueryInfo
    series: list[Series] = field(default_factory=list)


@dataclass(slots=True)
class LogLine:
    ts: float
    service: str
    level: str
    message: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LogsResult:
    info: QueryInfo
    lines: list[LogLine] = field(default_factory=list)
    truncated: bool = False


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    operation: str
    start: float
    duration_ms: float
    status: str


@dataclass(slots=True)
class TracesResult:
    info: QueryInfo
    spans: list[Span] = field(default_factory=list)


@dataclass(slots=True)
class ChangeEvent:
    ts: float
    service: str
    kind: str  # deploy | config | scale | restart | k8s | other
    summary: str
    # A deploy read from GitHub carries its repository (owner/name) and commit range.
    repository: str | None = None
    from_sha: str | None = None
    to_sha: str | None = None
    link: str | None = None


@dataclass(slots=True)
class EventsResult:
    info: QueryInfo
    events: list[ChangeEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.end.timestamp()


class TelemetrySource(Protocol):
    """What the investigator may ask. Implementations: scenario files, Prometheus, Loki, ..."""

    name: str

    async def services(self, window: Window) -> list[str]: ...

    async def topology(self, window: Window) -> dict[str, set[str]]:
        """Caller → callees."""
        ...

    async def metrics(self, service: str, window: Window) -> MetricsResult: ...

    async def logs(self, service: str, window: Window, *, min_level: str = "warning",
                   limit: int = 5000) -> LogsResult: ...

    async def traces(self, service: str, window: Window) -> TracesResult: ...

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult: ...


class EventSource(Protocol):
    """Just change events (GitHub deployments, say): what a composite source's `events` needs."""

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult: ...
