"""Targeted queries for the investigator, each turned into compact evidence.

The toolbox asks the telemetry source only what a hypothesis needs (one metrics query per
service, logs of a service when its error pattern is in question, change events once), keeps
the answers for the rest of the run, and records every finding as an `Evidence` item with the
numbers behind it. Raw series never leave this module.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from agents.sre.report import Evidence, EvidenceStatus
from agents.sre.stats import (
    ANOMALY_Z,
    FAMILY_DIRECTION,
    ONSET_Z,
    Anomaly,
    Baseline,
    Direction,
    analyze,
    ceiling_of,
    directional,
    poisson_surge,
    robust_baseline,
    rolling_median,
)
from integrations.redaction import clip
from integrations.telemetry.base import (
    ChangeEvent,
    FloatArray,
    LogLine,
    MetricsResult,
    QueryInfo,
    Series,
    TelemetrySource,
    Window,
)

log = logging.getLogger(__name__)

# A step up in requests, measured from their own level just before, counts as a surge from
# +50%: load tests and retry storms multiply traffic, while normal drift moves it by percents.
STEP_GAIN = 0.5
# Load already out of its normal range before the damage, and borne without harm, must rise
# by a quarter more with the damage to be what caused it (see `Toolbox.coped_with`).
COPED_GAIN = 0.25
_PAYLOAD = re.compile(r"payload|body_size|request_size|request_bytes|message_size|msg_size")
_LOSS = re.compile(r"loss|drop|retrans|reset")
_MASK = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
     "<uuid>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\b\d+(\.\d+)?(ms|s|b|kb|mb|gb|%)?\b", re.I), "<n>"),
    (re.compile(r"(['\"]).*?\1"), "<str>"),
]


def kind_family(metric: str, family: str) -> str:
    """The catalogue's view of a metric: payload and network flavours are told apart by name."""
    name = metric.lower()
    if _PAYLOAD.search(name):
        return "payload"
    if family == "network":
        return "network_loss" if _LOSS.search(name) else "network_delay"
    return family


def log_template(message: str) -> str:
    text = message
    for pattern, replacement in _MASK:
        text = pattern.sub(replacement, text)
    return text[:160]


def _direction(series: Series, family: str) -> Direction:
    # Payload sizes are bad when they grow, whatever the metric's generic family says.
    return "up" if family == "payload" else FAMILY_DIRECTION.get(series.family, "both")


def hhmm(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M")


def relative(lead_s: float, effect: str) -> str:
    """'4 min before X', '30 s after X', 'together with X'."""
    size = abs(lead_s)
    if size < 20:
        return f"together with {effect}"
    amount = f"{size:.0f} s" if size < 90 else f"{size / 60:.0f} min"
    return f"{amount} {'before' if lead_s > 0 else 'after'} {effect}"


@dataclass(slots=True)
class FamilyVerdict:
    service: str
    family: str              # cpu | memory | disk | network_delay | network_loss | latency | ...
    metric: str
    anomaly: Anomaly | None  # None: insufficient data
    evidence_id: str
    # The largest anomalous rise among all the family's metrics (p50, p99, average, ...):
    # whether a dependency can account for its caller's slowdown must not hinge on which
    # statistic happened to have the highest z-score.
    max_rise: float = 0.0
    # Set when the anomaly is a step measured from the series' own level just before it
    # rather than from its baseline (see `Toolbox.step_surge`): says what it was measured from.
    basis: str = ""

    @property
    def score(self) -> float:
        return self.anomaly.score if self.anomaly else 0.0

    @property
    def onset(self) -> float | None:
        return self.anomaly.onset if self.anomaly else None

    @property
    def anomalous(self) -> bool:
        return self.anomaly is not None and self.anomaly.anomalous


@dataclass(slots=True)
class LogVerdict:
    service: str
    score: float
    onset: float | None
    baseline_count: int
    region_count: int
    top_template: str | None
    new_templates: int
    evidence_id: str


@dataclass(slots=True)
class ServiceProfile:
    service: str
    families: dict[str, FamilyVerdict] = field(default_factory=dict)
    # Every metric's own verdict, by metric name: the alert's statistic is compared like
    # with like along the call chain (average with average, p99 with p99).
    metrics: dict[str, FamilyVerdict] = field(default_factory=dict)
    status: EvidenceStatus = "ok"

    def best(self, *families: str) -> FamilyVerdict | None:
        found = [self.families[f] for f in families if f in self.families]
        return max(found, key=lambda v: v.score, default=None)

    def degradation(self, families: tuple[str, ...], metric: str | None) -> FamilyVerdict | None:
        """The strongest degradation among `families`, reading the family of `metric` (the
        alert's own statistic) through that metric alone when this service has it: a p99
        wobble must not stand in for an average that did not move."""
        own = self.metrics.get(metric) if metric else None
        if own is None:
            return self.best(*families)
        others = [self.families[f] for f in families if f in self.families and f != own.family]
        return max([own, *others], key=lambda v: v.score)


class BudgetExhausted(Exception):
    """No queries left in this investigation's budget."""


class Toolbox:
    def __init__(self, source: TelemetrySource, window: Window, *, split: float,
                 max_queries: int, id_prefix: str = "ev",
                 evidence: list[Evidence] | None = None) -> None:
        self.source = source
        # Thread chat numbers its own evidence apart, in one list across its toolboxes.
        self.id_prefix = id_prefix
        self.window = window
        self.split = split
        self.max_queries = max_queries
        self.queries = 0
        self.data_start = window.start_s  # the first sample actually seen (set by the caller)
        self.evidence: list[Evidence] = evidence if evidence is not None else []
        self._metrics: dict[str, MetricsResult] = {}
        self._profiles: dict[str, ServiceProfile] = {}
        self._logs: dict[str, LogVerdict | None] = {}
        self._log_lines: dict[str, list[LogLine]] = {}
        self._events: list[ChangeEvent] | None = None
        self._z: dict[tuple[str, str], FloatArray | None] = {}

    def baseline_end(self, series: Series) -> float:
        # Causes may lead the symptom by many minutes; keep the last 40% before the split
        # out of the reference so a slow ramp is measured against what came before it.
        first = float(series.t[0]) if series.t.size else self.window.start_s
        return first + 0.6 * max(self.split - first, 0.0)

    # ---- bookkeeping ------------------------------------------------------------------------

    def _spend(self) -> None:
        if self.queries >= self.max_queries:
            raise BudgetExhausted(f"query budget of {self.max_queries} reached")
        self.queries += 1

    def record(self, *, query: str, finding: str, status: EvidenceStatus = "ok",
               service: str | None = None, signal: str | None = None, link: str | None = None,
               numbers: dict[str, float | str | None] | None = None) -> str:
        evidence_id = f"{self.id_prefix}-{len(self.evidence) + 1}"
        self.evidence.append(Evidence(id=evidence_id, query=query, finding=finding,
                                      status=status, service=service, signal=signal, link=link,
                                      numbers=numbers or {}))
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
        for series in result.series:
            family = kind_family(series.metric, series.family)
            anomaly = analyze(series.t, series.v, split=self.split,
                              direction=_direction(series, family),
                              baseline_end=self.baseline_end(series),
                              ceiling=ceiling_of(series.family, series.v))
            current = profile.families.get(family)
            rise = (anomaly.peak - anomaly.baseline
                    if anomaly is not None and anomaly.anomalous else 0.0)
            own = FamilyVerdict(service, family, series.metric, anomaly, "", max_rise=rise)
            profile.metrics.setdefault(series.metric, own)
            if current is not None:
                current.max_rise = max(current.max_rise, rise)
                if anomaly is None or anomaly.score <= current.score:
                    continue
            own.max_rise = max(rise, current.max_rise if current is not None else 0.0)
            profile.families[family] = own
        self._profiles[service] = profile
        return profile

    def held_before(self, verdict: FamilyVerdict, effect_onset: float | None,
                    lag: float) -> str:
        """Why `verdict`'s anomaly is a condition that predates the effect, or '' if it is not.

        A dependency explains its caller's degradation by getting worse when the caller did.
        One that was already as bad `lag` before the caller began to suffer, and got no worse
        after, was a standing condition the caller had been living with: a constant cannot
        explain a change. (Telemetry spliced from another period shows exactly this.)
        """
        if effect_onset is None or verdict.anomaly is None or not verdict.anomalous:
            return ""
        series = self._series(verdict)
        z = self._z_scores(series, verdict) if series is not None else None
        if series is None or z is None:
            return ""
        t = series.t
        before = np.flatnonzero((t <= effect_onset - lag) & np.isfinite(z))
        after = np.flatnonzero((t > effect_onset - lag) & np.isfinite(z))
        if before.size == 0 or after.size == 0:
            return ""
        z_before = float(z[before[-1]])
        rise = float(np.max(z[after])) - z_before
        if z_before < ANOMALY_Z or rise >= ANOMALY_Z:
            return ""
        return (f"it was already this abnormal at {hhmm(float(t[before[-1]]))} (z={z_before:.1f}), "
                f"before the effect began, and got no worse with it")

    def load_lull(self, surge: FamilyVerdict, effect: FamilyVerdict | None,
                  since: float) -> str:
        """Why a surge of requests does not drive `effect`, or '' when it may: a sample from
        `since` on where the requests were back within their normal range while the effect
        was still at least half as bad as at its worst. A service slowed by load recovers when
        the load subsides; damage that stays at full strength without it has another cause
        (a noisy request count that spiked once next to a fault is a bystander)."""
        if effect is None or surge.basis or surge.anomaly is None or \
                surge.anomaly.peak <= surge.anomaly.baseline:
            return ""
        load, damage = self._series(surge), self._series(effect)
        if load is None or damage is None:
            return ""
        load_base, damage_base = self._baseline(load), self._baseline(damage)
        if load_base is None or damage_base is None:
            return ""
        common, il, idm = np.intersect1d(load.t, damage.t, return_indices=True)
        z_load = (load.v[il] - load_base.median) / load_base.scale
        z_damage = directional((damage.v[idm] - damage_base.median) / damage_base.scale,
                               _direction(damage, effect.family))
        episode = (common >= self.split) & np.isfinite(z_damage)
        if not episode.any():
            return ""
        worst = float(np.max(z_damage[episode]))
        for k in np.flatnonzero((common >= since) & np.isfinite(z_load) & episode):
            if z_load[k] < ONSET_Z and z_damage[k] >= max(ANOMALY_Z, 0.5 * worst):
                return (f"requests were back to normal at {hhmm(float(common[k]))} "
                        f"({load.v[il[k]]:.3g} against a baseline of {load_base.median:.3g}) "
                        f"while {effect.metric} stayed at {damage.v[idm[k]]:.3g} "
                        f"(z={z_damage[k]:.1f})")
        return ""

    def coped_with(self, surge: FamilyVerdict, since: float, lag: float) -> str:
        """Why a surge is load the service was already coping with, or '' when it may be the
        cause. Requests already out of their normal range (2 sigmas) `lag` before the damage,
        with no damage yet, must rise by COPED_GAIN more as the damage arrives (by one sample
        after `since`) to be what caused it. A baseline recorded at a lower load puts every
        request count a few of its narrow sigmas up, and load drifting over the day adds a
        few more as it goes: three more sigmas is not a surge that broke the service."""
        if surge.basis or surge.anomaly is None or surge.anomaly.peak <= surge.anomaly.baseline:
            return ""
        series = self._series(surge)
        z = self._z_scores(series, surge) if series is not None else None
        if series is None or z is None:
            return ""
        t, v = series.t, series.v
        before = np.flatnonzero((t <= since - lag) & np.isfinite(z) & np.isfinite(v))
        if before.size == 0 or z[before[-1]] < ONSET_Z or v[before[-1]] <= 0:
            return ""
        coping = float(v[before[-1]])
        arrived = v[(t >= since) & (t <= since + lag) & np.isfinite(v)]
        if arrived.size == 0 or float(np.max(arrived)) >= (1.0 + COPED_GAIN) * coping:
            return ""
        return (f"requests were already {coping:.3g} at {hhmm(float(t[before[-1]]))} (baseline "
                f"{surge.anomaly.baseline:.3g}) with no damage, and rose only to "
                f"{float(np.max(arrived)):.3g} as it arrived: load the service was coping with")

    def rise_time(self, verdict: FamilyVerdict | None) -> float | None:
        """When the bulk of `verdict`'s episode arrived: the first sample since the split at
        half its peak excursion or more. A degradation that creeps a little (a spliced or
        stale baseline) and then jumps is timed by the jump, which is what a cause must meet."""
        if verdict is None or verdict.anomaly is None or not verdict.anomalous:
            return None
        series = self._series(verdict)
        z = self._z_scores(series, verdict) if series is not None else None
        if series is None or z is None:
            return None
        region = np.flatnonzero((series.t >= self.split) & np.isfinite(z))
        if region.size == 0:
            return None
        peak = float(np.max(z[region]))
        if peak < ANOMALY_Z:
            return None
        return float(series.t[region[np.argmax(z[region] >= max(ANOMALY_Z, 0.5 * peak))]])

    def level_before(self, verdict: FamilyVerdict, at: float | None) -> float | None:
        """The series' own level just before `at` (the median of the two samples before it)."""
        series = self._series(verdict)
        if at is None or series is None:
            return None
        before = series.v[(series.t < at) & np.isfinite(series.v)][-2:]
        return float(np.median(before)) if before.size else None

    def step_gain(self, verdict: FamilyVerdict, at: float | None) -> float:
        """Relative step of the series at `at` (0.5 for +50%): the mean of the two samples
        from `at` on against its own level just before; 0 when it cannot be measured."""
        series = self._series(verdict)
        before = self.level_before(verdict, at)
        if series is None or at is None or before is None or before <= 0:
            return 0.0
        since = series.v[(series.t >= at) & np.isfinite(series.v)][:2]
        return max(float(np.mean(since)) / before - 1.0, 0.0) if since.size else 0.0

    def step_surge(self, verdict: FamilyVerdict, at: float | None, lag: float, *,
                   min_score: float = ANOMALY_Z) -> FamilyVerdict | None:
        """Requests that stepped up at `at` (or up to `lag` before it), measured from their own
        level just before: the surge a baseline recorded at a higher load hides. Traffic that
        sat at half its baseline and then doubled is still "normal" against that baseline, yet
        it is the change that met the damage. A step counts when the new level holds (the
        mean of the two samples from the step on, so one spike does not make a step) at least
        STEP_GAIN above the old one and `min_score` of the baseline's own noise; the returned
        verdict is re-based on the level before."""
        if at is None or verdict.family != "throughput":
            return None
        series = self._series(verdict)
        if series is None:
            return None
        t, v = series.t, series.v
        noise = self._baseline(series)
        if noise is None:
            return None
        best: FamilyVerdict | None = None
        for start in t[(t >= at - lag) & (t <= at) & (t >= self.split)]:
            before = self.level_before(verdict, float(start))
            since = v[(t >= start) & np.isfinite(v)][:2]
            if before is None or before <= 0 or since.size < 2:
                continue
            level = float(np.mean(since))
            score = (level - before) / noise.scale
            if level < (1.0 + STEP_GAIN) * before or score < min_score:
                continue
            if best is None or score > best.score:
                anomaly = Anomaly(score, before, level, float(start), int(since.size),
                                  since=float(start))
                best = FamilyVerdict(verdict.service, verdict.family, verdict.metric, anomaly,
                                     "", basis=f"a step from its level just before; its "
                                               f"baseline, recorded at another load, is "
                                               f"{noise.median:.4g}")
        return best

    def _z_scores(self, series: Series, verdict: FamilyVerdict) -> FloatArray | None:
        """The series as smoothed directional z-scores against its baseline, the way
        `analyze` sees it. A two-sided series is read on the side its excursion went: traffic
        that sat below a baseline recorded at another load and then surged was not already
        abnormal in the way it is now."""
        key = (series.service, series.metric)
        if key not in self._z:  # the signed scores, computed once per series for the run
            t, v = series.t, series.v
            baseline = self._baseline(series) if t.size >= 3 else None
            if baseline is None:
                self._z[key] = None
            else:
                k = 3 if int(np.isfinite(v[t >= self.split]).sum()) >= 5 else 1
                self._z[key] = (rolling_median(v, k) - baseline.median) / baseline.scale
        signed = self._z[key]
        if signed is None:
            return None
        direction = _direction(series, verdict.family)
        if direction == "both" and verdict.anomaly is not None:
            direction = "up" if verdict.anomaly.peak >= verdict.anomaly.baseline else "down"
        return directional(signed, direction)

    def _baseline(self, series: Series) -> Baseline | None:
        """The series' reference level and noise, from the part of the window before the
        baseline ends (as `analyze` takes it)."""
        t, v = series.t, series.v
        return robust_baseline(v[t < self.baseline_end(series)], ceiling_of(series.family, v))

    def _series(self, verdict: FamilyVerdict) -> Series | None:
        result = self._metrics.get(verdict.service)
        if result is None:
            return None
        return next((s for s in result.series if s.metric == verdict.metric), None)

    def volume(self, service: str, metric: str, since: float | None = None) -> float | None:
        """The median of a service's `metric` from `since` (default: the split) on, its traffic
        during the episode; None when it has no such series."""
        result = self._metrics.get(service)
        series = next((s for s in result.series if s.metric == metric), None) \
            if result is not None else None
        if series is None:
            return None
        start = self.split if since is None else since
        values = series.v[(series.t >= start) & np.isfinite(series.v)]
        return float(np.median(values)) if values.size else None

    def co_movement(self, cause: FamilyVerdict, effect: FamilyVerdict) -> float | None:
        """Correlation of two verdicts' series since the split, each turned so that "worse" is
        up: a dependency that drives its caller's degradation rises and falls with it. None
        when there are too few common samples to say."""
        a, b = self._series(cause), self._series(effect)
        if a is None or b is None:
            return None
        common, ia, ib = np.intersect1d(a.t, b.t, return_indices=True)
        keep = common >= self.split
        x, y = a.v[ia[keep]], b.v[ib[keep]]
        finite = np.isfinite(x) & np.isfinite(y)
        x, y = x[finite], y[finite]
        if x.size < 4:
            return None
        if FAMILY_DIRECTION.get(a.family) == "down":
            x = -x
        if FAMILY_DIRECTION.get(b.family) == "down":
            y = -y
        if float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
            return 0.0  # a constant cannot follow a change
        return float(np.corrcoef(x, y)[0, 1])

    def cite(self, verdict: FamilyVerdict, *, info: QueryInfo | None = None,
             effect: tuple[str, float | None] | None = None) -> str:
        """Evidence for one family verdict (recorded once, reused by every hypothesis)."""
        if verdict.evidence_id:
            return verdict.evidence_id
        info = info or self._metrics[verdict.service].info
        query = f'{info.query} metric="{verdict.metric}"'
        anomaly = verdict.anomaly
        if anomaly is None:
            verdict.evidence_id = self.record(
                query=query, status="insufficient_data", service=verdict.service,
                signal=verdict.family, link=info.link,
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
            link=info.link, numbers={"baseline": round(anomaly.baseline, 6),
                                     "peak": round(anomaly.peak, 6),
                                     "z": round(anomaly.score, 2),
                                     "onset": hhmm(anomaly.onset)})
        return verdict.evidence_id

    # ---- logs -------------------------------------------------------------------------------

    async def error_logs(self, service: str) -> LogVerdict | None:
        if service in self._logs:
            return self._logs[service]
        self._spend()
        try:
            result = await self.source.logs(service, self.window, min_level="error")
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
        self._log_lines[service] = result.lines
        before = [line for line in result.lines if line.ts < self.split]
        after = [line for line in result.lines if line.ts >= self.split]
        base_span = max(self.split - max(self.window.start_s, self.data_start), 1.0)
        now_span = max(self.window.end_s - self.split, 1.0)
        score = poisson_surge(len(before), base_span, len(after), now_span)
        old = {log_template(line.message) for line in before}
        counts = Counter(log_template(line.message) for line in after)
        new = {t for t in counts if t not in old}
        top = max(counts, key=lambda t: (t in new, counts[t]), default=None)
        onset = None
        if after:
            # Where the surge started: the first line of the dominant template after the split.
            onset = next((ln.ts for ln in after if log_template(ln.message) == top), after[0].ts)
        if not result.lines:
            finding = f"no error-level logs from {service} in the window"
        else:
            finding = (f"error logs of {service}: {len(before)} before vs {len(after)} after "
                       f"{hhmm(self.split)} (surge score {score:.1f})")
            if top:
                finding += f"; top pattern{' (new)' if top in new else ''}: \"{clip(top, 90)}\""
        evidence_id = self.record(
            query=result.info.query, finding=finding, service=service, signal="logs",
            link=result.info.link,
            numbers={"before": len(before), "after": len(after), "score": round(score, 2),
                     "new_patterns": len(new)})
        verdict = LogVerdict(service, score, onset, len(before), len(after), top, len(new),
                             evidence_id)
        self._logs[service] = verdict
        return verdict

    async def sample_logs(self, service: str, *, contains: str | None = None,
                          limit: int = 8) -> tuple[str, str]:
        """A few error lines of a service since the change, one per pattern, most frequent
        first: what a model may read, instead of the whole log. Returns (evidence id, text)."""
        if service not in self._logs:
            await self.error_logs(service)
        lines = [ln for ln in self._log_lines.get(service, []) if ln.ts >= self.split]
        if contains:
            lines = [ln for ln in lines if contains.lower() in ln.message.lower()]
        by_template: dict[str, list[LogLine]] = {}
        for line in lines:
            by_template.setdefault(log_template(line.message), []).append(line)
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
