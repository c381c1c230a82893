"""Read-only access to the series behind a run's verdicts, for the causal rules.

The toolbox fetches and caches; this view reads what it cached: a verdict's series, its
baseline and smoothed z-scores (as `analyze` saw them), when the bulk of an episode arrived,
steps measured from a series' own level just before. Nothing here queries a source.
"""

from __future__ import annotations

import numpy as np

from agents.sre.stats import (
    ANOMALY_Z,
    MIN_BASELINE_POINTS,
    ONSET_Z,
    RARE_CAP,
    Anomaly,
    Baseline,
    ceiling_of,
    directional,
    robust_baseline,
    rolling_median,
    smoothing_width,
)
from agents.sre.verdicts import FamilyVerdict, ServiceProfile, direction_of
from integrations.telemetry.base import FloatArray, MetricsResult, Series


class SeriesView:
    def __init__(self, *, split: float, window_start: float, anomaly_z: float = ANOMALY_Z,
                 onset_z: float = ONSET_Z, min_baseline_points: float = MIN_BASELINE_POINTS,
                 rare_cap: float = RARE_CAP) -> None:
        self.split = split
        self.window_start = window_start
        # The run's statistics (`Thresholds`): rules read them here, as `analyze` used them.
        self.anomaly_z = anomaly_z
        self.onset_z = onset_z
        self.min_baseline_points = min_baseline_points
        self.rare_cap = rare_cap
        self.metrics: dict[str, MetricsResult] = {}
        self.profiles: dict[str, ServiceProfile] = {}
        self._z: dict[tuple[str, str], FloatArray | None] = {}

    def baseline_end(self, series: Series) -> float:
        # Causes may lead the symptom by many minutes; keep the last 40% before the split
        # out of the reference so a slow ramp is measured against what came before it.
        first = float(series.t[0]) if series.t.size else self.window_start
        return first + 0.6 * max(self.split - first, 0.0)

    def profile(self, service: str) -> ServiceProfile | None:
        """A service's profile if the run already built it (rules never query)."""
        return self.profiles.get(service)

    def series_of(self, verdict: FamilyVerdict) -> Series | None:
        result = self.metrics.get(verdict.service)
        if result is None:
            return None
        return next((s for s in result.series if s.metric == verdict.metric), None)

    def baseline(self, series: Series) -> Baseline | None:
        """The series' reference level and noise, from the part of the window before the
        baseline ends (as `analyze` takes it)."""
        t, v = series.t, series.v
        return robust_baseline(v[t < self.baseline_end(series)], ceiling_of(series.family, v),
                               min_points=self.min_baseline_points, rare_cap=self.rare_cap)

    def z_scores(self, series: Series, verdict: FamilyVerdict) -> FloatArray | None:
        """The series as smoothed directional z-scores against its baseline, the way
        `analyze` sees it. A two-sided series is read on the side its excursion went: traffic
        that sat below a baseline recorded at another load and then surged was not already
        abnormal in the way it is now."""
        key = (series.service, series.metric)
        if key not in self._z:  # the signed scores, computed once per series for the run
            t, v = series.t, series.v
            baseline = self.baseline(series) if t.size >= 3 else None
            if baseline is None:
                self._z[key] = None
            else:
                k = smoothing_width(t) if int(np.isfinite(v[t >= self.split]).sum()) >= 5 \
                    else 1
                self._z[key] = (rolling_median(v, k) - baseline.median) / baseline.scale
        signed = self._z[key]
        if signed is None:
            return None
        direction = direction_of(series, verdict.family)
        if direction == "both" and verdict.anomaly is not None:
            direction = "up" if verdict.anomaly.peak >= verdict.anomaly.baseline else "down"
        return directional(signed, direction)

    def rise_time(self, verdict: FamilyVerdict | None) -> float | None:
        """When the bulk of `verdict`'s episode arrived: the first sample since the split at
        half its peak excursion or more. A degradation that creeps a little (a spliced or
        stale baseline) and then jumps is timed by the jump, which is what a cause must meet."""
        if verdict is None or verdict.anomaly is None or not verdict.anomalous:
            return None
        series = self.series_of(verdict)
        z = self.z_scores(series, verdict) if series is not None else None
        if series is None or z is None:
            return None
        region = np.flatnonzero((series.t >= self.split) & np.isfinite(z))
        if region.size == 0:
            return None
        peak = float(np.max(z[region]))
        if peak < self.anomaly_z:
            return None
        return float(series.t[region[np.argmax(z[region] >= max(self.anomaly_z,
                                                                0.5 * peak))]])

    def level_before(self, verdict: FamilyVerdict, at: float | None) -> float | None:
        """The series' own level just before `at` (the median of the two samples before it)."""
        series = self.series_of(verdict)
        if at is None or series is None:
            return None
        before = series.v[(series.t < at) & np.isfinite(series.v)][-2:]
        return float(np.median(before)) if before.size else None

    def step_gain(self, verdict: FamilyVerdict, at: float | None) -> float:
        """Relative step of the series at `at` (0.5 for +50%): the mean of the two samples
        from `at` on against its own level just before; 0 when it cannot be measured."""
        series = self.series_of(verdict)
        before = self.level_before(verdict, at)
        if series is None or at is None or before is None or before <= 0:
            return 0.0
        since = series.v[(series.t >= at) & np.isfinite(series.v)][:2]
        return max(float(np.mean(since)) / before - 1.0, 0.0) if since.size else 0.0

    def step_surge(self, verdict: FamilyVerdict, at: float | None, lag: float, *,
                   gain: float, min_score: float | None = None) -> FamilyVerdict | None:
        """Requests that stepped up at `at` (or up to `lag` before it), measured from their own
        level just before: the surge a baseline recorded at a higher load hides. Traffic that
        sat at half its baseline and then doubled is still "normal" against that baseline, yet
        it is the change that met the damage. A step counts when the new level holds (the
        mean of the two samples from the step on, so one spike does not make a step) at least
        `gain` above the old one and `min_score` of the baseline's own noise; the returned
        verdict is re-based on the level before."""
        if at is None or verdict.family != "throughput":
            return None
        if min_score is None:
            min_score = self.anomaly_z
        series = self.series_of(verdict)
        if series is None:
            return None
        t, v = series.t, series.v
        noise = self.baseline(series)
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
            if level < (1.0 + gain) * before or score < min_score:
                continue
            if best is None or score > best.score:
                anomaly = Anomaly(score, before, level, float(start), int(since.size),
                                  since=float(start), threshold=self.anomaly_z)
                best = FamilyVerdict(verdict.service, verdict.family, verdict.metric, anomaly,
                                     "", basis=f"a step from its level just before; its "
                                               f"baseline, recorded at another load, is "
                                               f"{noise.median:.4g}", series=verdict.series)
        return best

    def volume(self, service: str, metric: str, since: float | None = None) -> float | None:
        """The median of a service's `metric` from `since` (default: the split) on, its traffic
        during the episode; None when it has no such series."""
        result = self.metrics.get(service)
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
        a, b = self.series_of(cause), self.series_of(effect)
        if a is None or b is None:
            return None
        common, ia, ib = np.intersect1d(a.t, b.t, return_indices=True)
        keep = common >= self.split
        x, y = a.v[ia[keep]], b.v[ib[keep]]
        finite = np.isfinite(x) & np.isfinite(y)
        x, y = x[finite], y[finite]
        if x.size < 4:
            return None
        if direction_of(a, a.family) == "down":
            x = -x
        if direction_of(b, b.family) == "down":
            y = -y
        if float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
            return 0.0  # a constant cannot follow a change
        return float(np.corrcoef(x, y)[0, 1])
