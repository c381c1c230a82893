"""From an investigation that blamed memory or CPU to the figures a resource bump needs.

The investigator cites, for the blamed service, the series that moved (with their baseline,
peak and, for metrics, the 95th percentile of the episode) and the change events it read
(container restarts, "last terminated: OOMKilled"). This module reads those figures back:

- OOM-killed: a restart event says so, or the memory family's evidence counts OOM kills;
  the container is the one the event names (else the service's own name);
- peak memory: a bytes-valued memory series' peak (the working set), else the peak share of
  the limit (`memory_limit_share`, or a percentage series) to multiply by the limit the
  manifest holds;
- CPU: the p95 of the CPU-in-cores series, else the p95 share of the CPU limit
  (`cpu_limit_share`, turned into cores with the manifest's limit); throttling from
  `cpu_throttled_share`.

Nothing here guesses a number the evidence does not hold: a figure that is missing stays
None, and the bump then rests on the others (memory: the OOM-kill limit × 1.25).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from agents.dev.types import RESOURCE_KINDS, ResourceFigures
from agents.sre.report import Evidence, Report

_METRIC = re.compile(r'metric="([^"]+)"')
_OOM_EVENT = re.compile(r"container (\S+) of pod \S+ restarted \(last terminated: OOMKilled\)")
_OOM_WORDS = re.compile(r"OOMKilled|oom.?kill", re.IGNORECASE)
THROTTLED_SHARE = 0.25  # a quarter of CPU periods throttled: the limit is in the way


def figures_from_report(report: Report) -> ResourceFigures | None:
    """The figures for the top cause when it is memory or CPU of a service; else None."""
    if report.abstained or not report.root_causes:
        return None
    top = report.root_causes[0]
    if top.kind not in RESOURCE_KINDS:
        return None
    mine = [e for e in report.evidence if e.service in (None, top.service)]
    return figures_from_evidence(top.service, top.kind, mine)


def figures_from_evidence(service: str, kind: str,
                          evidence: Sequence[Evidence]) -> ResourceFigures | None:
    container = ""
    oom = False
    peak_bytes = peak_share = cpu_p95 = cpu_share = throttled = None
    read: list[str] = []
    for e in evidence:
        if e.status != "ok":
            continue
        m = _OOM_EVENT.search(e.finding)
        if m:
            container, oom = container or m.group(1), True
            read.append(e.finding)
            continue
        metric_m = _METRIC.search(e.query)
        # A series cited by its own PromQL names its metric where the finding starts
        # ("memory_limit_share of cart ..."), not in the query.
        metric = metric_m.group(1) if metric_m else (
            e.finding.split(" of ", 1)[0] if e.label and " of " in e.finding else "")
        peak = _num(e.numbers.get("peak"))
        p95 = _num(e.numbers.get("p95"))
        unit = (e.unit or _unit_of(metric)).lower()
        family = e.signal or ""
        if family == "memory" or metric.startswith("mem"):
            if "oom" in metric and (peak or 0) > 0:
                oom = True
            elif unit == "bytes" and peak:
                peak_bytes = max(peak_bytes or 0.0, peak)
            elif metric == "memory_limit_share" or metric.startswith("mem_"):
                # Against the container's limit (a node's `memory_used_share` is not).
                share = _as_share(peak, unit)
                if share is not None:
                    peak_share = max(peak_share or 0.0, share)
            else:
                continue
            read.append(e.finding)
        elif family == "cpu" or metric.startswith("cpu"):
            if "throttl" in metric:
                throttled = _as_share(peak, unit)
            elif unit == "cores" or metric.endswith("_cores"):
                cpu_p95 = p95
            elif metric == "cpu_limit_share":  # usage against the container's limit
                cpu_share = _as_share(p95, unit)
            else:
                continue
            read.append(e.finding)
        elif _OOM_WORDS.search(e.finding):
            oom = True
            read.append(e.finding)
    if kind == "memory" and not (oom or peak_bytes or peak_share):
        return None
    if kind == "cpu" and cpu_p95 is None and cpu_share is None and \
            (throttled or 0) < THROTTLED_SHARE:
        return None
    return ResourceFigures(service=service, container=container or service, kind=kind,
                           oom_killed=oom, peak_memory_bytes=peak_bytes,
                           peak_memory_share=peak_share, cpu_p95_cores=cpu_p95,
                           throttled_share=throttled, cpu_p95_share=cpu_share,
                           evidence=tuple(read))


def with_oom_events(figures: ResourceFigures,
                    events: Sequence[tuple[str, str]]) -> ResourceFigures:
    """Add what the change events say: `(service, summary)` pairs whose summary reports a
    container of this service restarted after an OOM kill."""
    container, found = figures.container, list(figures.evidence)
    killed = figures.oom_killed
    for service, summary in events:
        m = _OOM_EVENT.search(summary)
        if service != figures.service or m is None:
            continue
        if not killed:
            container = m.group(1)
        killed = True
        found.append(f"{service}: {summary}")
    return replace(figures, oom_killed=killed, container=container,
                   evidence=tuple(dict.fromkeys(found)))


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _as_share(value: float | None, unit: str) -> float | None:
    """A share of a limit in [0, 1]: percentages (unit "%", or a value above 1.5) divided."""
    if value is None or value < 0:
        return None
    if unit == "%" or value > 1.5:
        value /= 100.0
    return min(value, 1.5)


def _unit_of(metric: str) -> str:
    from integrations.telemetry.promql import unit_of

    return unit_of(metric) or ("cores" if metric.endswith("_cores") else "")


__all__ = ["ResourceFigures", "figures_from_evidence", "figures_from_report",
           "with_oom_events"]
