"""Cumulative counters in exported telemetry, read as per-second rates.

Prometheus serves a counter (`container_cpu_usage_seconds_total`, `requests_total`) through
`rate()`; a file of raw samples holds the running total instead, which climbs all window
long. Judged as it is, every such series looks like a rising anomaly and the real fault
drowns among them. So a series that never decreases, except where it restarts from near
zero (a process restart resets its counters), is turned into its per-second increase, with
Prometheus's reset rule: after a reset the increase is the new value itself.

Recognised by shape, not by name alone: a series written as a rate keeps its name
(`...-total`) in some exports, and it goes up and down like any gauge. A running total never
falls but at a restart (rare, and after a long climb), and rises a few times at least; with
a counter's name (`_total`, `_count`, `_sum`) that is enough, without one it must rise at
nearly every sample, which no gauge does for a whole window. A count of rare failures is a
counter too: as a running total its first failure would look like a lasting step, where
its rate shows when they happened.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# A counter's name ends in `_total`, `_count` or `_sum`, or in one of them and the outcome it
# counts, where an export folds a label into the name (Istio's `istio_requests_total_5xx`,
# `rpc.server.duration.count.error`): those climb by nothing in a quiet scrape interval, so
# their shape alone (rising at nearly every sample) would leave them running totals.
_COUNTER_NAME = re.compile(r"(?:^|[_.\-:])(?:total|count|sum)(?:[_.\-:](?:[1-5]xx|\d{3}|ok|"
                           r"success|errors?|fail(?:ed|ures?)?))?$", re.I)
MIN_SAMPLES = 10
MIN_RISES = 3
RESET_SHARE = 0.5     # a fall to under half the previous total is a restart, not noise
MAX_RESETS = 0.01     # of the steps; more than that and it is a gauge that dips
CLIMB = 10            # rises per restart, at least
RISING = 0.9          # without a counter's name: the share of steps that must rise


def counter_name(metric: str) -> bool:
    return bool(_COUNTER_NAME.search(metric))


def per_second(metric: str, t: FloatArray, v: FloatArray, *,
               known: bool = False) -> FloatArray | None:
    """The series' per-second increase, aligned on `t` (NaN at the first sample and where
    a sample is missing), or None when the series is not a cumulative counter. `known`: the
    same metric is a counter elsewhere (another pod of the workload), so a series too short
    to be judged by its own shape (a pod started minutes ago) is one too if it never falls."""
    finite = np.isfinite(v)
    if int(finite.sum()) < (2 if known else MIN_SAMPLES):
        return None
    tf, vf = t[finite], v[finite]
    step = np.diff(vf)
    falls = step < 0
    rises = step > 0
    if known and not falls.any() and int(finite.sum()) < MIN_SAMPLES:
        return _rate(v, finite, tf, step)
    if rises.sum() < MIN_RISES:
        return None  # flat, or all but: nothing a rate would show better
    resets = falls & (vf[1:] < RESET_SHARE * vf[:-1])
    # A restart is rare and follows a long climb; a sparse gauge (0, 1, 0, 2, 0) falls as
    # often as it rises.
    if (falls & ~resets).any() or resets.sum() > max(1, MAX_RESETS * step.size) or \
            resets.sum() * CLIMB > rises.sum():
        return None
    if not counter_name(metric) and rises.mean() < RISING:
        return None
    return _rate(v, finite, tf, np.where(resets, vf[1:], step))


def _rate(v: FloatArray, finite: npt.NDArray[np.bool_], tf: FloatArray,
          increase: FloatArray) -> FloatArray:
    dt = np.diff(tf)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(dt > 0, increase / dt, np.nan)
    out = np.full(v.shape, np.nan)
    positions = np.flatnonzero(finite)
    out[positions[1:]] = rate
    return out
