"""Targeted queries for the investigator, each turned into compact evidence.

The toolbox asks the telemetry source only what a hypothesis needs (one metrics query per
service, logs of a service when its error pattern is in question, change events once), keeps
the answers for the rest of the run, and records every finding as an `Evidence` item with the
numbers behind it. Raw series never leave this module.
"""

from __future__ import annotations

import logging
from collections import Counter

from agents.sre.error_share import errors_per_request
from agents.sre.log_lines import blame, mine_templates, names_in, new_patterns
from agents.sre.report import Evidence, EvidenceStatus
from agents.sre.rules.thresholds import DEFAULT, Thresholds
from agents.sre.series import SeriesView
from agents.sre.stats import Anomaly, Direction, analyze, ceiling_of, poisson_surge
from agents.sre.traces import SpanVerdict, judge_spans
from agents.sre.verdicts import (
    FamilyVerdict,
    LogVerdict,
    ServiceProfile,
    direction_of,
    hhmm,
    kind_family,
    relative,
)
from integrations.error_sources.templates import TemplateStore
from integrations.redaction import clip
from integrations.telemetry.base import (
    ChangeEvent,
    LogLine,
    LogsResult,
    MetricsResult,
    QueryInfo,
    Series,
    Span,
    TelemetrySource,
    TracesResult,
    Window,
)

log = logging.getLogger(__name__)

__all__ = ["BudgetExhausted", "FamilyVerdict", "LogVerdict", "ServiceProfile", "Toolbox",
           "hhmm", "kind_family", "relative"]

# Attributes that say where a service runs.
PLACEMENT_KEYS = ("node", "host", "hostname", "k8s.node.name", "node_name", "host.name",
                  "kubernetes_host", "kubernetes.host")  # fluent-bit's, flattened or not


class BudgetExhausted(Exception):
    """No queries left in this investigation's budget."""


class Toolbox:
    def __init__(self, source: TelemetrySource, window: Window, *, split: float,
                 max_queries: int, id_prefix: str = "ev",
                 evidence: list[Evidence] | None = None,
                 templates: TemplateStore | None = None,
                 thresholds: Thresholds = DEFAULT) -> None:
        self.source = source
        self.thresholds = thresholds
        self.templates = templates  # persisted miners, shared with the error scan
        # Thread chat numbers its own evidence apart, in one list across its toolboxes.
        self.id_prefix = id_prefix
        self.window = window
        # What the rules may read of the series fetched here (it owns the split).
        self.view = SeriesView(split=split, window_start=window.start_s,
                               anomaly_z=thresholds.anomaly_z, onset_z=thresholds.onset_z,
                               min_baseline_points=thresholds.min_baseline_points,
                               rare_cap=thresholds.rare_cap)
        self.max_queries = max_queries
        self.queries = 0
        self.data_start = window.start_s  # the first sample actually seen (set by the caller)
        # How long before the split a deeper cause may already be showing (set by the caller):
        # the split sits a margin before the alert's own onset, and a fault some hops down
        # begins earlier still. A log pattern first seen in that run-up is new, not baseline.
        self.run_up = 0.0
        self.evidence: list[Evidence] = evidence if evidence is not None else []
        self._metrics: dict[str, MetricsResult] = self.view.metrics
        self._profiles: dict[str, ServiceProfile] = self.view.profiles
        self._logs: dict[str, LogVerdict | None] = {}
        self._log_lines: dict[str, list[LogLine]] = {}
        self._templates: dict[str, list[str]] = {}
        self._error_reads: dict[str, LogsResult] = {}
        self._events: list[ChangeEvent] | None = None
        self._placements: dict[str, set[str]] = {}
        self._line_counts: dict[str, int | None] = {}  # all its lines; None: unreadable
        self._spans: dict[str, list[Span]] = {}
        self._spans_unread: set[str] = set()
        self.silent_services: set[str] = set()  # found to have no telemetry of their own
        self._span_verdicts: dict[str, SpanVerdict | None] = {}
        # Every service the telemetry knows, and the call graph (set by the investigator):
        # the names an error line may blame are the writer's callees, or with no call graph
        # any other service (a service reports only the failures of those it calls; an
        # exception's text that happens to say "order" does not blame a service so named).
        self.services: set[str] = set()
        self.graph: dict[str, set[str]] = {}

    @property
    def split(self) -> float:
        """Where the baseline ends and the episode begins."""
        return self.view.split

    @split.setter
    def split(self, value: float) -> None:
        self.view.split = value

    # ---- bookkeeping ------------------------------------------------------------------------

    def _spend(self) -> None:
        if self.queries >= self.max_queries:
            raise BudgetExhausted(f"query budget of {self.max_queries} reached")
        self.queries += 1

    def record(self, *, query: str, finding: str, status: EvidenceStatus = "ok",
               service: str | None = None, signal: str | None = None, link: str | None = None,
               numbers: dict[str, float | str | None] | None = None,
               label: str | None = None, unit: str | None = None) -> str:
        evidence_id = f"{self.id_prefix}-{len(self.evidence) + 1}"
        self.evidence.append(Evidence(id=evidence_id, query=query, finding=finding,
                                      status=status, service=service, signal=signal, link=link,
                                      numbers=numbers or {}, label=label, unit=unit))
        return evidence_id

    def _error(self, info: QueryInfo, service: str, what: str) -> str:
        return self.record(query=info.query, status="error", service=service, link=info.link,
                           finding=f"{what} of {service} could not be read: {info.error}")

    # ---- metrics ----------------------------------------------------------------------------

    async def fetch_metrics(self, service: str) -> MetricsResult:
        """One query for all of a service's metrics, kept for the rest of the run."""
        cached = self._metrics.get(service)
        if cached is not None:
            return cached
        self._spend()
        try:
            result = await self.source.metrics(service, self.window)
        except Exception as exc:  # a source must not crash the run, whatever it raises
            log.warning("metrics query for %s raised", service, exc_info=True)
            result = MetricsResult(QueryInfo(f"metrics of {service}", "error", str(exc)))
        self._metrics[service] = result
        return result

    async def profile(self, service: str) -> ServiceProfile:
        """Every metric family of a service judged against its own baseline (one query)."""
        cached = self._profiles.get(service)
        if cached is not None:
            return cached
        result = await self.fetch_metrics(service)
        profile = ServiceProfile(service)
        if result.info.status == "error":
            profile.status = "error"
            self._error(result.info, service, "metrics")
        elif not result.series:
            profile.status = "insufficient_data"
        rises: dict[str, list[tuple[float, float | None]]] = {}
        for series in result.series:
            family = kind_family(series.metric, series.family)
            anomaly = self._analyze(series, direction_of(series, family))
            current = profile.families.get(family)
            rise = (anomaly.peak - anomaly.baseline
                    if anomaly is not None and anomaly.anomalous else 0.0)
            own = FamilyVerdict(service, family, series.metric, anomaly, "", max_rise=rise,
                                series=series)
            rises.setdefault(family, []).append((rise, own.seconds_per_unit))
            profile.metrics.setdefault(series.metric, own)
            if current is not None and (anomaly is None or anomaly.score <= current.score):
                continue
            profile.families[family] = own
        for family, verdict in profile.families.items():
            # The largest rise among the family's metrics, in the verdict's own unit where
            # both say theirs (a p50 in seconds beside a p99 in milliseconds).
            mine = verdict.seconds_per_unit
            verdict.max_rise = max(rise * scale / mine if scale and mine else rise
                                   for rise, scale in rises[family])
        errors_per_request(profile, self._analyze)
        self._profiles[service] = profile
        return profile

    def _analyze(self, series: Series, direction: Direction) -> Anomaly | None:
        """One series against its baseline, with this run's split and thresholds."""
        th = self.thresholds
        return analyze(series.t, series.v, split=self.split, direction=direction,
                       baseline_end=self.view.baseline_end(series),
                       ceiling=ceiling_of(series.family, series.v),
                       anomaly_z=th.anomaly_z, onset_z=th.onset_z, onset_share=th.onset_share,
                       min_baseline_points=th.min_baseline_points,
                       min_region_points=th.min_region_points, rare_cap=th.rare_cap)

    def cite(self, verdict: FamilyVerdict, *, info: QueryInfo | None = None,
             effect: tuple[str, float | None] | None = None) -> str:
        """Evidence for one family verdict (recorded once, reused by every hypothesis)."""
        if verdict.evidence_id:
            return verdict.evidence_id
        info = info or self._metrics[verdict.service].info
        # The series' own query and its link over the incident window, made when the source
        # answered (PrometheusSource builds both per series); a source without per-series
        # queries (a scenario directory) is cited by the service's query and the metric.
        series = verdict.series
        query = (series.query if series is not None and series.query
                 else f'{info.query} metric="{verdict.metric}"')
        link = series.link if series is not None and series.link else info.link
        label = series.label or None if series is not None else None
        unit = series.unit or None if series is not None else None
        anomaly = verdict.anomaly
        if anomaly is None:
            verdict.evidence_id = self.record(
                query=query, status="insufficient_data", service=verdict.service,
                signal=verdict.family, link=link, label=label, unit=unit,
                finding=f"{verdict.metric} of {verdict.service}: insufficient data "
                        f"(too few samples before or after the change)")
            return verdict.evidence_id
        if anomaly.anomalous:
            finding = (f"{verdict.metric} of {verdict.service} {anomaly.change()}, "
                       f"z={anomaly.score:.1f}, onset {hhmm(anomaly.onset)}")
            if verdict.basis:
                finding += f" ({verdict.basis})"
            if effect and effect[1] is not None and anomaly.onset is not None:
                finding += ", " + relative(effect[1] - anomaly.onset, effect[0])
        else:
            finding = (f"{verdict.metric} of {verdict.service} normal "
                       f"(baseline {anomaly.change().split(' → ')[0]}, z={anomaly.score:.1f})")
        verdict.evidence_id = self.record(
            query=query, finding=finding, service=verdict.service, signal=verdict.family,
            link=link, label=label, unit=unit,
            numbers={"baseline": round(anomaly.baseline, 6), "peak": round(anomaly.peak, 6),
                     "z": round(anomaly.score, 2), "onset": hhmm(anomaly.onset),
                     **({"p95": round(anomaly.p95, 6)} if anomaly.p95 is not None else {})})
        return verdict.evidence_id

    # ---- logs -------------------------------------------------------------------------------

    async def _read_errors(self, service: str) -> LogsResult:
        """A service's error-level lines over the window, read and mined into templates
        once per run: the episode's start and the surge are both read from them, and a
        persisted miner must not see the same lines twice. Raises as the source does."""
        if service not in self._error_reads:
            self._spend()
            result = await self.source.logs(service, self.window, min_level="error")
            self._error_reads[service] = result
            if result.info.status != "error":
                self._log_lines[service] = result.lines
                self._templates[service] = mine_templates(
                    result.lines, self.templates.miner(service)
                    if self.templates is not None else None)
        return self._error_reads[service]

    async def error_logs(self, service: str) -> LogVerdict | None:
        if service in self._logs:
            return self._logs[service]
        try:
            result = await self._read_errors(service)
        except BudgetExhausted:
            raise
        except Exception as exc:
            log.warning("logs query for %s raised", service, exc_info=True)
            self._logs[service] = None
            self.record(query=f"logs of {service}", status="error", service=service,
                        finding=f"error logs of {service} could not be read: {exc}")
            return None
        if result.info.status == "error":
            self._error(result.info, service, "error logs")
            self._logs[service] = None
            return None
        before = [line for line in result.lines if line.ts < self.split]
        after = [line for line in result.lines if line.ts >= self.split]
        base_span = max(self.split - max(self.window.start_s, self.data_start), 1.0)
        now_span = max(self.window.end_s - self.split, 1.0)
        score = poisson_surge(len(before), base_span, len(after), now_span)
        templates = self._templates[service]
        old = {t for line, t in zip(result.lines, templates, strict=True)
               if line.ts < self.split - self.run_up}
        counts = Counter(t for line, t in zip(result.lines, templates, strict=True)
                         if line.ts >= self.split)
        new = {t for t in counts if t not in old}
        # Lines of patterns never seen before are a surge of their own: a caller's new
        # "timeout calling payment-router" twenty times in twenty minutes is not diluted by
        # routine lines that happened to thin out at the same time. Those it wrote in the
        # run-up just before the split are its baseline.
        novel = sum(counts[t] for t in new)
        if novel:
            run_up = sum(1 for line, t in zip(result.lines, templates, strict=True)
                         if line.ts < self.split and t in new)
            score = max(score, poisson_surge(run_up, base_span, novel, now_span))
        top = max(counts, key=lambda t: (t in new, counts[t]), default=None)
        onset = None
        surging = [ln.ts for ln, t in zip(result.lines, templates, strict=True)
                   if ln.ts >= self.split and (t in new if new else t == top)]
        if after:
            # Where the surge started: the first line of the dominant template after the split.
            onset = next((ln.ts for ln, t in zip(result.lines, templates, strict=True)
                          if ln.ts >= self.split and t == top), after[0].ts)
        if not result.lines:
            finding = f"no error-level logs from {service} in the window"
        else:
            finding = (f"error logs of {service}: {len(before)} before vs {len(after)} after "
                       f"{hhmm(self.split)} (surge score {score:.1f})")
            if top:
                finding += f"; top pattern{' (new)' if top in new else ''}: \"{clip(top, 90)}\""
        named, share, unlisted = self._names_in(service, after)
        blamed = tuple(name for name, _ in named)
        if blamed:
            finding += f"; {share:.0%} of the lines since name {', '.join(blamed[:3])}"
        evidence_id = self.record(
            query=result.info.query, finding=finding, service=service, signal="logs",
            link=result.info.link,
            numbers={"before": len(before), "after": len(after), "score": round(score, 2),
                     "new_patterns": len(new)})
        verdict = LogVerdict(service, score, onset, len(before), len(after), top, len(new),
                             evidence_id, blamed=blamed, blame_share=share,
                             blame_counts=tuple(count for _, count in named),
                             unlisted=unlisted, last=max(surging, default=None),
                             gap=(max(surging) - min(surging)) / (len(surging) - 1)
                             if len(surging) > 1 else 0.0)
        self._logs[service] = verdict
        return verdict

    def _names_in(self, service: str, after: list[LogLine]
                  ) -> tuple[tuple[tuple[str, int], ...], float, tuple[tuple[str, int], ...]]:
        return names_in(after, service, self.graph, self.services)

    def naming(self, service: str, names: set[str]) -> float:
        """The share of `service`'s error lines since the split (as read) naming one of
        `names`, whether or not the call graph lists them as its callees."""
        return blame([x for x in self._log_lines.get(service, []) if x.ts >= self.split],
                     names)[1]

    def reblame(self, service: str) -> LogVerdict | None:
        """The cached error-log verdict of `service` with its blame read again against the
        call graph as it is now (after edges its lines revealed were added)."""
        verdict = self._logs.get(service)
        if verdict is None:
            return None
        after = [line for line in self._log_lines.get(service, []) if line.ts >= self.split]
        named, verdict.blame_share, verdict.unlisted = self._names_in(service, after)
        verdict.blamed = tuple(name for name, _ in named)
        verdict.blame_counts = tuple(count for _, count in named)
        return verdict

    def cached_spans(self) -> list[Span]:
        """Every span read so far in this run."""
        return [span for spans in self._spans.values() for span in spans]

    def has_logs(self, service: str) -> bool:
        """Were the service's error logs already read in this run (no query to look again)?"""
        return self._logs.get(service) is not None

    async def placements(self, service: str) -> set[str]:
        """Every node or host a service's lines say it ran on (its replicas, a pod
        rescheduled), read from all its lines, not only its errors: empty when the telemetry
        does not tell or cannot be read."""
        if service in self._placements:
            return self._placements[service]
        self._spend()
        try:
            result = await self.source.logs(service, self.window, min_level="trace")
            lines = result.lines if result.info.status != "error" else []
            self._line_counts[service] = len(lines) if result.info.status != "error" else None
        except Exception:
            log.warning("log query for placement raised", exc_info=True)
            lines = []
            self._line_counts[service] = None
        self._placements[service] = {
            value for line in lines for key in PLACEMENT_KEYS
            if isinstance(value := line.attributes.get(key), str) and value}
        return self._placements[service]

    async def lines_onset(self, service: str, *, after: float, until: float,
                          min_lines: int) -> float | None:
        """When a new pattern of a service's error lines began: the first line of the
        earliest template never written before `after` that has at least `min_lines` lines
        from then to `until` and is still written in the last quarter of that span (a fault
        that has been failing a share of requests since, not a burst that came and went).
        None when there is none, or the lines cannot be read."""
        found = await self._new_patterns(service, after=after, until=until,
                                         min_lines=min_lines)
        return min((lines[0].ts for lines in found.values()), default=None)

    async def new_pattern(self, service: str, *, after: float, until: float,
                          min_lines: int) -> LogVerdict | None:
        """Those new patterns (`lines_onset`) as one surge, recorded as evidence: behind an
        alert whose own statistic never moved, when the episode began is unknown, and a
        pattern a service began writing anywhere after the reference part of the data is
        as new as one written after the split. Their blame is read as `error_logs` reads it
        (lines naming the callee that fails are a caller's view, not its own fault)."""
        found = await self._new_patterns(service, after=after, until=until,
                                         min_lines=min_lines)
        if not found:
            return None
        lines = sorted((line for group in found.values() for line in group),
                       key=lambda line: line.ts)
        top = max(found, key=lambda template: len(found[template]))
        reference = max(after - max(self.window.start_s, self.data_start), 1.0)
        score = poisson_surge(0, reference, len(lines), max(until - lines[0].ts, 1.0))
        named, share, unlisted = self._names_in(service, lines)
        info = self._error_reads[service].info  # read by `_new_patterns`
        evidence_id = self.record(
            query=info.query, service=service, signal="logs", link=info.link,
            finding=f"error logs of {service}: {len(found)} pattern(s) never written before "
                    f"{hhmm(after)}, {len(lines)} lines from {hhmm(lines[0].ts)} to "
                    f"{hhmm(until)} (surge score {score:.1f}); top pattern (new): "
                    f"\"{clip(top, 90)}\"",
            numbers={"before": 0, "after": len(lines), "score": round(score, 2),
                     "new_patterns": len(found)})
        return LogVerdict(service, score, lines[0].ts, 0, len(lines), top, len(found),
                          evidence_id, blamed=tuple(name for name, _ in named),
                          blame_share=share, blame_counts=tuple(count for _, count in named),
                          unlisted=unlisted, last=lines[-1].ts,
                          gap=(lines[-1].ts - lines[0].ts) / max(len(lines) - 1, 1))

    async def _new_patterns(self, service: str, *, after: float, until: float,
                            min_lines: int) -> dict[str, list[LogLine]]:
        """`log_lines.new_patterns` of the service's error lines ({} when unreadable)."""
        try:
            result = await self._read_errors(service)
        except BudgetExhausted:
            raise
        except Exception:
            log.warning("log query for new patterns raised", exc_info=True)
            return {}
        if result.info.status == "error":
            return {}
        return new_patterns(result.lines, self._templates[service], after=after, until=until,
                            min_lines=min_lines)

    async def silent(self, service: str) -> bool:
        """Whether a service has no telemetry of its own: every query for its metrics, spans
        and log lines answered, with nothing. A third-party API is such a service, known
        only from the topology and what its callers say of it. A query that failed is not
        silence."""
        if (await self.profile(service)).status != "insufficient_data":
            return False
        if await self.spans(service) or service in self._spans_unread:
            return False
        await self.placements(service)
        if self._line_counts.get(service) != 0:
            return False
        self.silent_services.add(service)
        return True

    async def sample_logs(self, service: str, *, contains: str | None = None,
                          limit: int = 8) -> tuple[str, str]:
        """A few error lines of a service since the change, one per pattern, most frequent
        first: what a model may read, instead of the whole log. Returns (evidence id, text)."""
        if service not in self._logs:
            await self.error_logs(service)
        pairs = [(ln, t) for ln, t in zip(self._log_lines.get(service, []),
                                           self._templates.get(service, []), strict=True)
                 if ln.ts >= self.split]
        if contains:
            pairs = [(ln, t) for ln, t in pairs if contains.lower() in ln.message.lower()]
        lines = [ln for ln, _ in pairs]
        by_template: dict[str, list[LogLine]] = {}
        for line, template in pairs:
            by_template.setdefault(template, []).append(line)
        ranked = sorted(by_template.values(), key=len, reverse=True)[:limit]
        shown = [f"{hhmm(group[0].ts)} ×{len(group)} {clip(group[0].message, 200)}"
                 for group in ranked]
        where = f" containing \"{clip(contains, 40)}\"" if contains else ""
        finding = (f"{len(lines)} error lines of {service}{where} since {hhmm(self.split)}, "
                   f"{len(by_template)} patterns")
        if shown:
            finding += "; most frequent: " + shown[0][:160]
        evidence_id = self.record(query=f"error log lines of {service}{where}", finding=finding,
                                  service=service, signal="logs",
                                  numbers={"lines": len(lines), "patterns": len(by_template)})
        return evidence_id, "\n".join(shown) or "(no error lines)"

    async def spans(self, service: str) -> list[Span]:
        """A service's own spans in the window (one query, kept for the run); [] when the
        source has none or the query failed (recorded as evidence)."""
        cached = self._spans.get(service)
        if cached is not None:
            return cached
        self._spend()
        try:
            result = await self.source.traces(service, self.window)
        except Exception as exc:
            log.warning("traces query for %s raised", service, exc_info=True)
            self.record(query=f"traces of {service}", status="error", service=service,
                        finding=f"traces of {service} could not be read: {exc}")
            self._spans_unread.add(service)
            result = TracesResult(QueryInfo(f"traces of {service}", "error", str(exc)))
        if result.info.status == "error":
            self._spans_unread.add(service)
            if result.info.error:
                self._error(result.info, service, "traces")
        self._spans[service] = [sp for sp in result.spans if sp.service == service]
        return self._spans[service]

    async def span_verdict(self, service: str, callees: list[str]) -> SpanVerdict | None:
        """How `service`'s own spans changed since the split (failures, self-time), with the
        spans of `callees` as the children whose time is not its own; recorded once."""
        if service in self._span_verdicts:
            return self._span_verdicts[service]
        own = await self.spans(service)
        verdict = None
        if own:
            children = [sp for callee in callees for sp in await self.spans(callee)]
            th = self.thresholds
            verdict = judge_spans(service, own, children, split=self.split,
                                  min_spans=th.min_spans, min_spans_after=th.min_spans_after,
                                  slower=th.span_slower)
        if verdict is not None and (verdict.failing or verdict.slowed):
            verdict.evidence_id = self.record(
                query=f"traces of {service}", service=service, signal="traces",
                finding=f"traces of {service}: {verdict.describe()}",
                numbers={"failed_before": verdict.failed_before, "before": verdict.before,
                         "failed_after": verdict.failed_after, "after": verdict.after,
                         "error_z": verdict.error_z, "self_z": verdict.self_z})
        self._span_verdicts[service] = verdict
        return verdict

    async def trace_summary(self, service: str, *, limit: int = 5) -> tuple[str, str]:
        """Per operation of a service: span count, p95 before and after the change, errors.
        Returns (evidence id, text)."""
        self._spend()
        try:
            result = await self.source.traces(service, self.window)
        except Exception as exc:
            log.warning("traces query for %s raised", service, exc_info=True)
            evidence_id = self.record(query=f"traces of {service}", status="error",
                                      service=service,
                                      finding=f"traces of {service} could not be read: {exc}")
            return evidence_id, f"error: {exc}"
        if result.info.status == "error":
            evidence_id = self._error(result.info, service, "traces")
            return evidence_id, f"error: {result.info.error}"
        ops: dict[str, tuple[list[float], list[float], int]] = {}
        for span in result.spans:
            if span.service != service:
                continue
            before, after, errors = ops.setdefault(span.operation, ([], [], 0))
            (before if span.start < self.split else after).append(span.duration_ms)
            if span.start >= self.split and span.status == "error":
                ops[span.operation] = (before, after, errors + 1)
        rows = []
        for operation, (before, after, errors) in ops.items():
            p_before, p_after = _p95(before), _p95(after)
            rows.append((p_after - p_before, operation, len(after), p_before, p_after, errors))
        rows.sort(reverse=True)
        shown = [f"{op}: {n} spans, p95 {b:.0f} → {a:.0f} ms, {e} errors"
                 for _, op, n, b, a, e in rows[:limit]]
        finding = (f"traces of {service}: {len(ops)} operations"
                   + (f"; slowest change: {shown[0]}" if shown else ", no spans"))
        evidence_id = self.record(query=result.info.query or f"traces of {service}",
                                  finding=clip(finding, 300), service=service, signal="traces",
                                  link=result.info.link, numbers={"operations": len(ops)})
        return evidence_id, "\n".join(shown) or "(no spans)"

    # ---- change events ----------------------------------------------------------------------

    async def changes(self) -> list[ChangeEvent]:
        if self._events is not None:
            return self._events
        self._spend()
        try:
            result = await self.source.events(self.window)
        except Exception as exc:
            log.warning("events query raised", exc_info=True)
            self.record(query="change events", status="error",
                        finding=f"change events could not be read: {exc}")
            self._events = []
            return self._events
        if result.info.status == "error":
            self._error(result.info, "all services", "change events")
        self._events = result.events
        return self._events

    def cite_event(self, event: ChangeEvent, effect: tuple[str, float | None]) -> str:
        lead = "" if effect[1] is None else ", " + relative(effect[1] - event.ts, effect[0])
        return self.record(query=f'change events{{service="{event.service}"}}',
                           service=event.service, signal=event.kind,
                           finding=f"{event.kind} of {event.service} at {hhmm(event.ts)}: "
                                   f"{clip(event.summary, 120)}{lead}",
                           numbers={"at": hhmm(event.ts)})


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
