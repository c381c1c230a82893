"""A scenario directory served through the telemetry protocol (DESIGN.md, "Scenario directory").

The investigator cannot tell this from production: same calls, same result types. Files are
read once, at construction; a missing or malformed required file raises `ScenarioError`
naming the file, and bad rows in optional files are skipped and listed in `warnings`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from integrations.telemetry.base import (
    ChangeEvent,
    EventsResult,
    LogLine,
    LogsResult,
    MetricsResult,
    QueryInfo,
    Series,
    Span,
    TracesResult,
    Window,
)
from integrations.telemetry.counters import per_second
from integrations.telemetry.dialects import (
    SIGNALS,
    canonical,
    column,
    event_kind,
    signal_of,
    span_status,
)
from integrations.telemetry.errors import ScenarioError
from integrations.telemetry.names import Spellings
from integrations.telemetry.pods import fold_series, workloads

# How one field is read lives in scenario_fields; LEVELS, level_name and parse_ts are
# re-exported (`as`) because evals and tests import them from here.
from integrations.telemetry.scenario_fields import LEVELS as LEVELS
from integrations.telemetry.scenario_fields import (
    TOO_LARGE,
    Tally,
    parent_of,
    service_name,
    shown,
    span_duration_ms,
    topology_edges,
)
from integrations.telemetry.scenario_fields import level_name as level_name
from integrations.telemetry.scenario_fields import parse_ts as parse_ts

# A log line without a level is an error when its message says so.
_ERRORISH = re.compile(r"\b(error|exception|fatal|panic|traceback|failed)\b|Error\b|Exception\b",
                       re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CaseAlert:
    name: str
    service: str
    signal: str
    severity: str
    fired_at: datetime
    summary: str
    labels: dict[str, str] = field(default_factory=dict)
    metric: str | None = None  # the alerting metric, when the case names it


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    alert: CaseAlert
    window: Window
    topology: list[tuple[str, str]]


def _one_per_timestamp(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A series sorted by time, with the values that share a timestamp averaged (gaps
    ignored): a sample counted twice would weigh twice in every baseline."""
    stamps, start = np.unique(t, return_index=True)
    finite = np.isfinite(v)
    sums = np.add.reduceat(np.where(finite, v, 0.0), start)
    counts = np.add.reduceat(finite.astype(np.float64), start)
    with np.errstate(invalid="ignore", divide="ignore"):
        return stamps, np.where(counts > 0, sums / counts, np.nan)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _case_ts(value: Any, where: str) -> float:
    """parse_ts for case.json's instants, which become datetimes: one too far off for a
    datetime (1e300) is refused as a timestamp, like any other that names no instant."""
    seconds = parse_ts(value, where)
    try:
        _dt(seconds)
    except (OverflowError, OSError, ValueError) as exc:
        raise ScenarioError(f"{where}: not a timestamp: {shown(value)} (out of range)") from exc
    return seconds


def load_case(directory: Path) -> Case:
    path = directory / "case.json"
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: not a directory")
    if not path.is_file():
        raise ScenarioError(f"{path}: missing (every scenario needs case.json)")
    try:
        # utf-8-sig: Windows tools (Notepad, Excel, PowerShell) start a UTF-8 file with a BOM.
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: must hold a JSON object")
    alert = raw.get("alert")
    if not isinstance(alert, dict):
        raise ScenarioError(f"{path}: missing 'alert' object")
    for key in ("service", "fired_at"):
        if not alert.get(key):
            raise ScenarioError(f"{path}: missing 'alert.{key}'")
    fired = _case_ts(alert["fired_at"], f"{path}: alert.fired_at")
    window = raw.get("window") or {}
    if not isinstance(window, dict):
        raise ScenarioError(f"{path}: 'window' must be an object with start and end")
    start = _case_ts(window["start"], f"{path}: window.start") if window.get("start") else (
        fired - 3600)
    end = _case_ts(window["end"], f"{path}: window.end") if window.get("end") else fired + 300
    if end <= start:
        raise ScenarioError(f"{path}: window.end must be after window.start")
    signal = signal_of(str(alert.get("signal") or "other"))
    if signal is None:
        raise ScenarioError(f"{path}: alert.signal must be one of {', '.join(SIGNALS)}, or a "
                            f"metric's name that says which (error_rate, p99_latency, cpu), "
                            f"got {alert.get('signal')!r}")
    topology = topology_edges(raw.get("topology") or [], str(path))
    raw_labels = alert.get("labels")
    labels: dict[str, Any] = raw_labels if isinstance(raw_labels, dict) else {}
    return Case(
        id=str(raw.get("id") or directory.name),
        alert=CaseAlert(
            name=str(alert.get("name") or "alert"),
            service=str(alert["service"]),
            signal=signal,
            severity=str(alert.get("severity") or "warning"),
            fired_at=_dt(fired),
            summary=str(alert.get("summary") or ""),
            labels={str(k): str(v) for k, v in labels.items()},
            metric=str(alert["metric"]) if alert.get("metric") else None,
        ),
        window=Window(_dt(start), _dt(end)),
        topology=topology,
    )


def _listed(items: list[str], most: int = 3) -> str:
    """The first `most` items, and how many more there are."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def _nameless(file: str, count: int, what: str) -> str:
    """The warning for lines that name no service: skipped, as DESIGN.md gives no default
    and any name made up for them would stand as a service of its own."""
    return (f"{file}: {count} {what} name no service we can read (missing, empty or not a "
            f"name): skipped")


def _jsonl(path: Path, warnings: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8-sig", errors="replace") as handle:  # a BOM, as case.json
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                warnings.append(f"{path.name}:{number}: not valid JSON, skipped")
                continue
            if isinstance(item, dict):
                yield number, item
            else:
                warnings.append(f"{path.name}:{number}: not a JSON object, skipped")


class ScenarioSource:
    name = "scenario"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.case = load_case(directory)
        self.warnings: list[str] = []
        # How the input was read where it differs from what the files hold (not problems).
        self.notes: list[str] = []
        self._series = self._load_metrics(directory / "metrics.csv")
        self._logs = self._load_logs(directory / "logs.jsonl")
        self._spans = self._load_spans(directory / "traces.jsonl")
        self._events = self._load_events(directory / "events.jsonl")
        self._fold_pods()
        self._reconcile_names()

    def _fold_pods(self) -> None:
        """Kubernetes pods under their workloads' names (`carts-7d9f8b6c5-x2kqp` as `carts`),
        everywhere at once: the series, lines, spans and events, the alert and the topology."""
        case = self.case
        pods = workloads(set(self._series) | set(self._logs) | {s.service for s in self._spans}
                         | {e.service for e in self._events} | {case.alert.service}
                         | {n for pair in case.topology for n in pair})
        if not pods:
            return

        def fold(name: str) -> str:
            return pods.get(name, name)

        self._series = fold_series(self._series, fold, _one_per_timestamp)
        logs: dict[str, list[LogLine]] = defaultdict(list)
        for service, lines in self._logs.items():
            logs[fold(service)].extend(replace(line, service=fold(service)) for line in lines)
        for lines in logs.values():
            lines.sort(key=lambda line: line.ts)
        self._logs = dict(logs)
        self._spans = [replace(s, service=fold(s.service)) for s in self._spans]
        self._rename_case(fold)
        by_workload: dict[str, list[str]] = defaultdict(list)
        for pod, name in sorted(pods.items()):
            by_workload[name].append(pod)
        self.notes.append("Kubernetes pods read as their workloads: " + _listed([
            f"{members[0]!r}{f' (+{len(members) - 1})' if len(members) > 1 else ''} as {name!r}"
            for name, members in sorted(by_workload.items())]))

    def _reconcile_names(self) -> None:
        """case.json and events.jsonl in the telemetry's spelling of each service name
        (`TS_ORDER_SERVICE` for `ts-order-service`), so the alert and the topology meet the
        series, lines and spans they name."""
        spellings = Spellings(set(self._series) | set(self._logs)
                              | {s.service for s in self._spans})
        case = self.case
        named = [case.alert.service, *(n for pair in case.topology for n in pair),
                 *(e.service for e in self._events)]
        renamed = {n: spellings.resolve(n) for n in named if spellings.resolve(n) != n}
        if not renamed:
            return
        self._rename_case(spellings.resolve)
        self.notes.append("service names read as the telemetry spells them: " + _listed(
            [f"{a!r} as {b!r}" for a, b in sorted(renamed.items())]))

    def _rename_case(self, rename: Callable[[str], str]) -> None:
        """The alert, the topology and the change events under `rename`'s names (edges that
        become one are kept once)."""
        case = self.case
        self.case = replace(
            case, alert=replace(case.alert, service=rename(case.alert.service)),
            topology=list(dict.fromkeys((rename(a), rename(b)) for a, b in case.topology)))
        self._events = [replace(e, service=rename(e.service)) for e in self._events]

    # ---- loading ----------------------------------------------------------------------------

    def _load_metrics(self, path: Path) -> dict[str, list[Series]]:
        if not path.is_file():
            raise ScenarioError(f"{path}: missing (every scenario needs metrics.csv)")
        columns: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(
            lambda: ([], []))
        iso_cache: dict[str, float] = {}
        bad = 0
        unreadable, overflowed = Tally(), Tally()
        # utf-8-sig: a BOM (Excel's "CSV UTF-8") would be read into the first column's name.
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ScenarioError(
                    f"{path}: empty (expected header timestamp,service,metric,value)")
            names = [h.strip().lower() for h in header]
            try:
                it, isv, im, iv = (column(names, n) for n in ("timestamp", "service", "metric",
                                                              "value"))
            except ValueError as exc:
                raise ScenarioError(
                    f"{path}: header must be timestamp,service,metric,value, got {header}"
                ) from exc
            width = max(it, isv, im, iv) + 1
            for row in reader:
                if len(row) < width:
                    bad += 1
                    continue
                # Strip: rows written with ", " would read " carts" as a service of its own.
                # A row of no service or no metric names no series: malformed.
                service, metric = row[isv].strip(), row[im].strip()
                if not service or not metric:
                    bad += 1
                    continue
                raw_ts = row[it]
                ts = iso_cache.get(raw_ts)
                if ts is None:
                    try:
                        ts = parse_ts(raw_ts, "metrics.csv")
                    except ScenarioError:
                        bad += 1
                        continue
                    iso_cache[raw_ts] = ts
                cell = row[iv].strip()
                try:
                    value = float(cell) if cell else math.nan
                except ValueError:  # 12ms, 1,234.00, true, N/A: a gap, but not a silent one
                    value = math.nan
                    unreadable.add(cell)
                # An empty cell or NaN is a gap as written (pandas and our own generators write
                # NaN for a missing sample) and compares false here; inf and 1e308 are not.
                if abs(value) >= TOO_LARGE:
                    value = math.nan
                    overflowed.add(cell)
                times, values = columns[(service, metric)]
                times.append(ts)
                values.append(value)
        if bad:
            self.warnings.append(f"metrics.csv: {bad} malformed row(s) skipped")
        if unreadable.count:
            self.warnings.append(f"metrics.csv: {unreadable.count} value(s) could not be read "
                                 f"as numbers, e.g. {shown(unreadable.example)}: read as gaps")
        if overflowed.count:
            self.warnings.append(
                f"metrics.csv: {overflowed.count} value(s) infinite or too large to compute "
                f"with (1e300 or more, e.g. {shown(overflowed.example)}, a 'no data' "
                f"sentinel?): read as gaps")
        by_service: dict[str, list[Series]] = defaultdict(list)
        counters: list[str] = []
        repeated = 0
        raw: list[tuple[str, str, np.ndarray, np.ndarray]] = []
        for (service, metric), (times, values) in columns.items():
            t = np.asarray(times, dtype=np.float64)
            v = np.asarray(values, dtype=np.float64)
            v[~np.isfinite(v)] = np.nan
            order = np.argsort(t, kind="stable")
            t, v = t[order], v[order]
            if t.size > 1 and bool(np.any(t[1:] == t[:-1])):
                t, v = _one_per_timestamp(t, v)
                repeated += 1
            raw.append((service, metric, t, v))
        # A metric that is a running total in one series is one in every series: a pod
        # started minutes ago has too few samples to be judged by its own shape, and left
        # raw beside its predecessor's rate it would read as a leap of thousands.
        known: set[str] = set()
        converted: set[int] = set()
        for pass_known in (False, True):
            for i, (service, metric, t, v) in enumerate(raw):
                if i in converted or (pass_known and metric not in known):
                    continue
                rate = per_second(metric, t, v, known=pass_known)
                if rate is not None:
                    raw[i] = (service, metric, t, rate)
                    converted.add(i)
                    known.add(metric)
                    counters.append(f"{service}/{metric}")
        for service, metric, t, v in raw:
            by_service[service].append(Series(service, metric, t, v))
        if repeated:
            self.warnings.append(f"metrics.csv: {repeated} series repeat timestamps (duplicate "
                                 f"rows?): the values at one instant are averaged")
        if counters:
            self.notes.append(
                f"{len(counters)} metric series are running totals (cumulative counters, "
                f"e.g. {', '.join(sorted(counters)[:2])}): read as per-second rates, as "
                f"Prometheus's rate() would")
        return dict(by_service)

    def _load_logs(self, path: Path) -> dict[str, list[LogLine]]:
        logs: dict[str, list[LogLine]] = defaultdict(list)
        unlevelled = nameless = 0
        for number, raw_item in _jsonl(path, self.warnings):
            item = canonical(raw_item, ("ts", "service", "message", "level"))
            try:
                ts = parse_ts(item.get("ts"), f"logs.jsonl:{number}")
            except ScenarioError as exc:
                self.warnings.append(str(exc))
                continue
            service = service_name(item.get("service"))
            if service is None:
                nameless += 1
                continue
            attributes = {k: v for k, v in item.items()
                          if k not in ("ts", "service", "level", "severity", "message")}
            message = str(item.get("message") or "")
            raw = item.get("level")
            level = level_name(raw if raw not in (None, "") else item.get("severity"))
            if not level:
                unlevelled += 1
                level = "error" if _ERRORISH.search(message) else "info"
            logs[service].append(LogLine(ts, service, level, message, attributes))
        if unlevelled:
            self.warnings.append(f"logs.jsonl: {unlevelled} lines have no level we can read; "
                                 f"read as error when the message says so (error, "
                                 f"exception, fatal, traceback), else as info")
        if nameless:
            self.warnings.append(_nameless("logs.jsonl", nameless, "line(s)"))
        for lines in logs.values():
            lines.sort(key=lambda line: line.ts)
        return dict(logs)

    def _load_spans(self, path: Path) -> list[Span]:
        spans: list[Span] = []
        nameless = unitless = unusable = 0
        for number, raw_item in _jsonl(path, self.warnings):
            item = canonical(raw_item, ("trace_id", "span_id", "parent_id", "service",
                                        "operation", "start"))
            service = service_name(item.get("service"))
            if service is None:
                nameless += 1
                continue
            try:
                span_id = str(item["span_id"])
                start = parse_ts(item["start"], f"traces.jsonl:{number}")
                duration = span_duration_ms(item, start, number)
                span = Span(trace_id=str(item["trace_id"]), span_id=span_id,
                            parent_id=parent_of(item.get("parent_id"), span_id),
                            service=service, operation=str(item.get("operation") or ""),
                            start=start, duration_ms=0.0 if duration is None else duration,
                            status=span_status(item))
            # OverflowError: a duration_ms too large for a float (10**400).
            except (KeyError, ValueError, TypeError, OverflowError, ScenarioError) as exc:
                self.warnings.append(f"traces.jsonl:{number}: skipped ({exc})")
                continue
            if duration is None:
                unitless += 1
            elif not 0.0 <= duration < math.inf:
                # Clock skew between hosts, or a corrupt record: a negative duration would
                # add to its parent's self-time, and NaN or inf spoil every median taken.
                unusable += 1
                continue
            spans.append(span)
        if nameless:
            self.warnings.append(_nameless("traces.jsonl", nameless, "span(s)"))
        if unitless:
            # Kept, as their status and timing still count; their self-time reads as 0.
            self.warnings.append(
                f"traces.jsonl: {unitless} span(s) give a `duration` in no unit we can tell "
                f"(no duration_ms, and a start not in Jaeger's or Zipkin's microseconds): "
                f"read as 0 ms")
        if unusable:
            self.warnings.append(f"traces.jsonl: {unusable} span(s) with a negative or "
                                 f"non-finite duration skipped (clock skew between hosts, or "
                                 f"a corrupt record)")
        # Nothing walks parent chains (each span looks one hop up), so a cycle of parents
        # cannot loop; a parent missing from the file only links its child to no caller.
        ids = {(s.trace_id, s.span_id) for s in spans}
        orphans = sum(1 for s in spans if s.parent_id and (s.trace_id, s.parent_id) not in ids)
        if orphans:
            self.notes.append(f"traces.jsonl: {orphans} of {len(spans)} spans name a parent "
                              f"that is not in the file (as where traces are sampled, or cut "
                              f"at the window's edge): they link to no caller")
        return spans

    def _load_events(self, path: Path) -> list[ChangeEvent]:
        events: list[ChangeEvent] = []
        nameless = 0
        for number, raw_item in _jsonl(path, self.warnings):
            item = canonical(raw_item, ("ts", "service"))
            try:
                ts = parse_ts(item.get("ts"), f"events.jsonl:{number}")
            except ScenarioError as exc:
                self.warnings.append(str(exc))
                continue
            service = service_name(item.get("service"))
            if service is None:
                nameless += 1
                continue
            events.append(ChangeEvent(ts, service, event_kind(str(item.get("kind") or "other")),
                                      str(item.get("summary") or "")))
        if nameless:
            self.warnings.append(_nameless("events.jsonl", nameless, "event(s)"))
        events.sort(key=lambda e: e.ts)
        return events

    # ---- the protocol -----------------------------------------------------------------------

    async def services(self, window: Window) -> list[str]:
        names = set(self._series) | set(self._logs) | {s.service for s in self._spans}
        for caller, callee in self.case.topology:
            names.update((caller, callee))
        return sorted(names)

    async def topology(self, window: Window) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = defaultdict(set)
        for caller, callee in self.case.topology:
            if caller != callee:
                graph[caller].add(callee)
        by_id = {(s.trace_id, s.span_id): s.service for s in self._spans}
        for span in self._spans:
            if span.parent_id:
                parent = by_id.get((span.trace_id, span.parent_id))
                if parent and parent != span.service:
                    graph[parent].add(span.service)
        return dict(graph)

    async def metrics(self, service: str, window: Window) -> MetricsResult:
        query = f'scenario metrics{{service="{service}"}}'
        series = self._series.get(service)
        if not series:
            return MetricsResult(QueryInfo(query, "empty"))
        lo, hi = window.start_s, window.end_s
        clipped = []
        for s in series:
            mask = (s.t >= lo) & (s.t <= hi)
            if mask.any():
                clipped.append(Series(s.service, s.metric, s.t[mask], s.v[mask]))
        return MetricsResult(QueryInfo(query, "ok" if clipped else "empty"), clipped)

    async def logs(self, service: str, window: Window, *, min_level: str = "warning",
                   limit: int = 5000) -> LogsResult:
        floor = LEVELS.get(min_level, 3)
        query = f'scenario logs{{service="{service}", level>="{min_level}"}}'
        lines = [line for line in self._logs.get(service, [])
                 if window.start_s <= line.ts <= window.end_s
                 and LEVELS.get(line.level, 2) >= floor]
        return LogsResult(QueryInfo(query, "ok" if lines else "empty"), lines[:limit],
                          truncated=len(lines) > limit)

    async def traces(self, service: str, window: Window) -> TracesResult:
        query = f'scenario traces{{service="{service}"}}'
        spans = [s for s in self._spans
                 if s.service == service and window.start_s <= s.start <= window.end_s]
        return TracesResult(QueryInfo(query, "ok" if spans else "empty"), spans)

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        query = "scenario events" + (f'{{service="{service}"}}' if service else "")
        events = [e for e in self._events if window.start_s <= e.ts <= window.end_s
                  and (service is None or e.service == service)]
        return EventsResult(QueryInfo(query, "ok" if events else "empty"), events)
