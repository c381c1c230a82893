"""What the investigator keeps of a query: verdicts with a few numbers, never raw series.

Shared by the toolbox (which produces them), the series view and the causal rules (which read
them) and the investigator (which weighs them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents.sre.log_lines import name_lookup_failure
from agents.sre.report import EvidenceStatus
from agents.sre.stats import FAMILY_DIRECTION, Anomaly, Direction
from integrations.telemetry.base import Series, seconds_per_unit

_PAYLOAD = re.compile(r"payload|body_size|request_size|request_bytes|message_size|msg_size")
# Packets lost, dropped, resent, reset, or received in error (`node_network_receive_errs_total`).
_LOSS = re.compile(r"loss|drop|retrans|reset|err")


def kind_family(metric: str, family: str) -> str:
    """The catalogue's view of a metric: payload and network flavours are told apart by name
    (OpenTelemetry's `http.server.request.body.size` read as `http_server_request_body_size`)."""
    name = metric.lower()
    if _PAYLOAD.search(re.sub(r"[.\-:/ ]", "_", name)):
        return "payload"
    if family == "network":
        return "network_loss" if _LOSS.search(name) else "network_delay"
    return family


# A resource's headroom, not its use: bad when it falls (`kubelet_volume_stats_available_bytes`,
# `node_memory_MemFree_bytes`, `cpu_idle`). Memory freed is no headroom: Go's
# `go_memstats_frees_total` and `go_gc_heap_frees_bytes_total` count deallocations.
_HEADROOM = re.compile(r"avail|free(?![sd](?![a-z]))|idle|remaining|headroom|usable")


def direction_of(series: Series, family: str) -> Direction:
    # Payload sizes are bad when they grow, whatever the metric's generic family says.
    if family == "payload":
        return "up"
    if series.family in ("cpu", "memory", "disk") and _HEADROOM.search(series.metric.lower()):
        return "down"
    return FAMILY_DIRECTION.get(series.family, "both")


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
    # rather than from its baseline (see `SeriesView.step_surge`): says what it was measured
    # from.
    basis: str = ""
    # The series it was judged on: where the source knows them, its own query and a link to
    # it over the incident window, its unit and its name in words (the evidence carries them).
    series: Series | None = field(default=None, repr=False, compare=False)

    @property
    def score(self) -> float:
        return self.anomaly.score if self.anomaly else 0.0

    @property
    def onset(self) -> float | None:
        return self.anomaly.onset if self.anomaly else None

    @property
    def seconds_per_unit(self) -> float | None:
        """Seconds in one unit of its series, where its source or its name says (None: not
        a time, or a time of unknown unit)."""
        return seconds_per_unit(self.metric, self.series.unit if self.series else "")

    @property
    def anomalous(self) -> bool:
        return self.anomaly is not None and self.anomaly.anomalous


def persistence(verdict: FamilyVerdict) -> float:
    return verdict.anomaly.persistence if verdict.anomaly is not None else 1.0


def abnormal_samples(verdict: FamilyVerdict) -> int | None:
    """How many samples since its onset the excursion was abnormal in (None: not counted)."""
    return verdict.anomaly.abnormal if verdict.anomaly is not None else None


def blip(verdict: FamilyVerdict, samples: float, seconds: float) -> bool:
    """Abnormal in fewer than `samples` samples spanning under `seconds`: a blip, or an
    excursion too young to tell from one (the data ends just after it began, as it does
    when an alert is investigated the moment it fires). Both, because one sample of
    five-minute data is five minutes of trouble, and three of one-second data are noise."""
    a = verdict.anomaly
    return verdict.anomalous and a is not None and a.abnormal is not None and \
        a.abnormal < samples and (a.abnormal_s or 0.0) < seconds


def recovered(verdict: FamilyVerdict, samples: float, seconds: float) -> bool:
    """Back to normal for at least `samples` samples spanning `seconds` before the data
    ends: an episode that is over, whatever it was."""
    a = verdict.anomaly
    return verdict.anomalous and a is not None and a.recovered is not None and \
        a.recovered >= samples and (a.recovered_s or 0.0) >= seconds


def young(verdict: FamilyVerdict) -> bool:
    """Still abnormal at its last sample: a blip the data ends before it could end."""
    return persistence(verdict) >= 1.0


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
    # The other services of the system its error lines since the split name ("error calling
    # user", "upstream orders returned 500"), most named first, and the share of those lines
    # that name one: a caller's view of a dependency failing, not a fault of its own.
    blamed: tuple[str, ...] = ()
    blame_share: float = 0.0
    blame_counts: tuple[int, ...] = ()  # lines naming each of `blamed`
    # Calls the topology missed that these lines reveal (a database, a third party, a pooler
    # listed under another client only), with how many lines name each (`log_lines.names_in`).
    unlisted: tuple[tuple[str, int], ...] = ()
    # When the surge's lines (its new patterns, else its top one) were last written, and the
    # mean time between them since the split: lines that stopped long before the data ends
    # are an episode that is over.
    last: float | None = None
    gap: float = 0.0

    @property
    def name_lookups(self) -> bool:
        """Its top pattern says a name lookup failed: the writer's resolver (DNS) is failing,
        not its code, nor the host it could not look up."""
        return self.top_template is not None and name_lookup_failure(self.top_template)

    def blame_of(self, service: str) -> float:
        """How much of the blame falls on `service`: the lines naming it against those
        naming the most-named one (1.0 for that one, 0.0 when it is not named)."""
        if service not in self.blamed or not self.blame_counts:
            return 0.0
        return self.blame_counts[self.blamed.index(service)] / max(self.blame_counts[0], 1)

    def named_share(self, service: str) -> float:
        """The share of its error lines since the split that name `service`."""
        if service not in self.blamed or not self.region_count:
            return 0.0
        return self.blame_counts[self.blamed.index(service)] / self.region_count

    def blame_score(self, service: str) -> float:
        """The surge of these lines, by the share of the blame that falls on `service`."""
        return self.score * self.blame_of(service)


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
