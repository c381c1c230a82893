"""Robust statistics for anomaly testing: no fixed thresholds on raw values.

Every series is judged against its own baseline with the median and a robust scale (MAD and
IQR, never the mean and standard deviation that one outlier can move), after a short rolling
median so that a single-sample spike does not count as an episode. Onset is where the
sustained excursion that reaches the evaluation region began (a change-point, walking back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from integrations.telemetry.base import FloatArray

Direction = Literal["up", "down", "both"]

# Which way is "bad" for each metric family.
FAMILY_DIRECTION: dict[str, Direction] = {
    "cpu": "up", "memory": "up", "disk": "up", "network": "up", "latency": "up",
    "errors": "up", "throughput": "both", "availability": "down", "other": "both",
}

# These definitions are the defaults of `Thresholds` fields (anomaly_z, onset_z,
# onset_share, min_baseline_points, min_region_points, rare_cap): a run passes its own, so
# `nightowl eval --sweep` reaches them too.
ANOMALY_Z = 3.0       # a sustained excursion beyond this many robust sigmas is anomalous
ONSET_Z = 2.0         # the excursion is traced back while it stays beyond this
# ...and beyond this share of its peak: a 70-sigma jump did not begin at the 3-sigma wobble
# just before it (at coarse resolution that wobble is a whole sample, minutes early).
ONSET_SHARE = 0.1
MIN_BASELINE_POINTS = 4
# Lone outliers widen a continuous series' scale by at most this many times its MAD/IQR.
RARE_CAP = 3.0
# One or two samples since the change (a sparse series: an hourly job, a rarely-called
# endpoint) cannot tell an episode from a blip; such a series is insufficient data.
MIN_REGION_POINTS = 3
# Series are judged through a rolling median of three samples, and at least this many
# seconds: at one sample a second, three samples are three seconds of heavy-tailed noise,
# and the peak of a few hundred of them looks like an excursion everywhere (every service's
# CPU "anomalous" at once, a real shift called a blip for dipping under 2 sigmas half the
# time). In seconds, not samples, what counts as sustained does not depend on the scrape.
SMOOTH_S = 30.0


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float
    scale: float
    points: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """The verdict on one series: how far it went, from where, and since when."""

    score: float          # directional robust z of the sustained peak (>= 0)
    baseline: float
    peak: float           # the value at the sustained peak
    onset: float | None   # Unix seconds where the excursion began, None if not anomalous
    points: int           # samples in the evaluation region
    # Share of the samples from the onset on that are still beyond ONSET_Z: a real fault
    # persists until someone fixes it, a blip that tripped an alert has already passed.
    persistence: float = 1.0
    # Where the excursion first crossed ONSET_Z, however small against its peak: the
    # earliest the episode can be said to have begun.
    since: float | None = None
    # The 95th percentile of the evaluation region (what a CPU request is sized to).
    p95: float | None = None
    # The score from which the run calls an excursion anomalous.
    threshold: float = ANOMALY_Z
    # Samples from the onset on that are still beyond ONSET_Z: one or two are a blip, or an
    # excursion too young to tell from one (the data ends just after it began).
    abnormal: int | None = None
    abnormal_s: float | None = None  # the same, in seconds (samples times their spacing)
    # Samples after the excursion last held above the level its onset was traced back to
    # (a tenth of its peak, or ONSET_Z), and the seconds they span: how long it has been
    # back to normal (0 while it is still abnormal).
    recovered: int | None = None
    recovered_s: float | None = None

    @property
    def anomalous(self) -> bool:
        return self.score >= self.threshold

    def change(self) -> str:
        if not math.isfinite(self.baseline) or abs(self.baseline) < 1e-12:
            return f"{_fmt(self.baseline)} → {_fmt(self.peak)}"
        ratio = self.peak / self.baseline
        return f"{_fmt(self.baseline)} → {_fmt(self.peak)} ({ratio:.1f}×)"


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def ceiling_of(family: str, values: FloatArray) -> float | None:
    """The bound a ratio metric cannot exceed: availability is 100 (%) or 1. Its noise is
    measured on the distance to that bound, the error ratio: 99.9 -> 99.0 is a tenfold
    rise in failures, not a 1% dip."""
    if family != "availability":
        return None
    clean = values[np.isfinite(values)]
    if clean.size == 0 or float(clean.min()) < 0:
        return None
    top = float(clean.max())
    return 1.0 if top <= 1.0 else 100.0 if top <= 100.0 else None


def robust_baseline(values: FloatArray, ceiling: float | None = None, *,
                    min_points: float = MIN_BASELINE_POINTS,
                    rare_cap: float = RARE_CAP) -> Baseline | None:
    clean = values[np.isfinite(values)]
    if clean.size < min_points:
        return None
    median = float(np.median(clean))
    mad = float(np.median(np.abs(clean - median))) * 1.4826
    q75, q25 = np.percentile(clean, [75, 25])
    iqr = float(q75 - q25) / 1.349
    # A flat baseline has zero spread; floor the scale relative to the level (and absolutely)
    # so that any real move registers without tiny jitter looking infinite. A sparse series
    # (mostly zero with rare blips, like a request count of a quiet endpoint) takes its rare
    # excursions as its spread, so one more blip is not a thousand-sigma event. Where the
    # series has a spread of its own, lone outliers (a p95 spiking 3x once an hour, gone
    # after the 3-sample rolling median the region is judged through) count for at most
    # three times that spread: taken whole, they hid a sustained 2.6x slowdown at z=2.
    rare = float(np.percentile(np.abs(clean - median), 99)) / 3.0
    if mad > 0 and clean.size >= 5:
        smooth = rolling_median(clean, 3)
        rare = max(float(np.percentile(np.abs(smooth - median), 99)) / 3.0,
                   min(rare, rare_cap * max(mad, iqr)))
    level = abs(median) if ceiling is None else abs(ceiling - median)
    floor = max(0.05 * level, rare, 1e-6 if ceiling is None else 1e-4 * ceiling)
    return Baseline(median, max(mad, iqr, floor), int(clean.size))


def smoothing_width(t: FloatArray, samples: int = 3) -> int:
    """How many samples the rolling median spans: `samples`, or as many as cover SMOOTH_S
    seconds at this series' typical interval (an odd number, so it stays centred)."""
    if t.size < 2:
        return samples
    step = float(np.median(np.diff(t)))
    if not np.isfinite(step) or step <= 0:
        return samples
    wide = round(SMOOTH_S / step)
    return max(samples, wide | 1)


def rolling_median(values: FloatArray, k: int = 3) -> FloatArray:
    if values.size < k or k <= 1:
        return values.copy()
    pad = k // 2
    padded = np.pad(values, (pad, pad), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    if not np.isnan(values).any():
        # The same answer, several times faster: nanmedian takes a masked-array path.
        return np.asarray(np.median(windows, axis=1), dtype=np.float64)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(np.nanmedian(windows, axis=1), dtype=np.float64)


def directional(z: FloatArray, direction: Direction) -> FloatArray:
    if direction == "up":
        return z
    if direction == "down":
        return -z
    return np.abs(z)


def analyze(
    t: FloatArray,
    v: FloatArray,
    *,
    split: float,
    direction: Direction,
    baseline_end: float | None = None,
    baseline: Baseline | None = None,
    smooth: int = 3,
    ceiling: float | None = None,
    anomaly_z: float = ANOMALY_Z,
    onset_z: float = ONSET_Z,
    onset_share: float = ONSET_SHARE,
    min_baseline_points: float = MIN_BASELINE_POINTS,
    min_region_points: float = MIN_REGION_POINTS,
    rare_cap: float = RARE_CAP,
) -> Anomaly | None:
    """Judge the region t >= split against the baseline t < baseline_end (default: split).

    A baseline that ends a while before the split keeps a slow ramp (a leak that began before
    the symptom) out of the reference. None means insufficient data.
    """
    if baseline is None:
        end = split if baseline_end is None else baseline_end
        baseline = robust_baseline(v[t < end], ceiling, min_points=min_baseline_points,
                                   rare_cap=rare_cap)
        if baseline is None and end < split:
            baseline = robust_baseline(v[t < split], ceiling, min_points=min_baseline_points,
                                       rare_cap=rare_cap)
    if baseline is None:
        return None
    region = t >= split
    n_region = int(np.isfinite(v[region]).sum())
    if n_region < min_region_points:
        return None
    k = smoothing_width(t, smooth) if n_region >= 5 else 1
    smoothed = rolling_median(v, k)
    signed = (smoothed - baseline.median) / baseline.scale
    z = directional(signed, direction)
    z = np.where(np.isfinite(z), z, -np.inf)
    region_idx = np.flatnonzero(region)
    peak_pos = int(region_idx[int(np.argmax(z[region_idx]))])
    if direction == "both":
        # An excursion is one-sided: a surge that follows a dip did not begin in the dip.
        z = np.where(np.isfinite(signed), signed * np.sign(signed[peak_pos] or 1.0), -np.inf)
    score = float(max(0.0, z[peak_pos]))
    onset: float | None = None
    persistence = 1.0
    since: float | None = None
    tail = z[:0]  # no excursion, no samples of one
    if score >= anomaly_z:
        start = _walk_back(z, peak_pos, max(onset_z, onset_share * score))
        onset = float(t[start])
        since = float(t[_walk_back(z, start, onset_z)])
        tail = z[start:]
        persistence = float(np.mean(tail >= onset_z)) if tail.size else 1.0
    finite = v[region][np.isfinite(v[region])]
    return Anomaly(score, baseline.median, float(smoothed[peak_pos]), onset, n_region,
                   persistence, since, float(np.percentile(finite, 95)), anomaly_z,
                   *_abnormal(t, tail, onset_z, max(onset_z, onset_share * score))
                   if onset is not None else (None,) * 4)


def _abnormal(t: FloatArray, tail: FloatArray, onset_z: float, floor: float
              ) -> tuple[int, float, int, float]:
    """Samples of the excursion still beyond `onset_z`, and since when it has been back
    below `floor`: the level its onset was traced back to (a tenth of its peak), so that an
    episode ends where it began, not at every wobble of a noisier aftermath."""
    hits = np.flatnonzero(tail >= onset_z)
    spacing = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    if not hits.size:
        return 0, 0.0, 0, 0.0
    held = np.flatnonzero(tail >= floor)
    last = t.size - tail.size + int((held if held.size else hits)[-1])
    return int(hits.size), hits.size * spacing, t.size - 1 - last, float(t[-1] - t[last])


def _walk_back(z: FloatArray, start: int, floor: float) -> int:
    """Back from `start` while the excursion holds above `floor` (one-sample gaps tolerated)."""
    while start > 0 and (z[start - 1] >= floor or (
            start > 1 and z[start - 2] >= floor and z[start - 1] > 0)):
        start -= 1
    return start


def episode_onset(
    t: FloatArray, v: FloatArray, *, at: float, baseline_end: float, direction: Direction,
    ceiling: float | None = None, anomaly_z: float = ANOMALY_Z, onset_z: float = ONSET_Z,
    min_baseline_points: float = MIN_BASELINE_POINTS, rare_cap: float = RARE_CAP,
) -> float | None:
    """Start of the anomalous episode that is under way at time `at` (the alert's firing)."""
    baseline = robust_baseline(v[t < baseline_end], ceiling, min_points=min_baseline_points,
                               rare_cap=rare_cap)
    if baseline is None:
        return None
    smoothed = rolling_median(v, smoothing_width(t) if t.size >= 5 else 1)
    z = directional((smoothed - baseline.median) / baseline.scale, direction)
    z = np.where(np.isfinite(z), z, -np.inf)
    near = np.flatnonzero(t <= at + 1e-9)
    if near.size == 0:
        return None
    # The episode must be visible at (or just before) the firing time.
    candidates = [i for i in near[-3:] if z[i] >= anomaly_z]
    after = np.flatnonzero(t > at)
    candidates += [i for i in after[:2] if z[i] >= anomaly_z]
    if not candidates:
        return None
    pos = int(min(candidates))
    while pos > 0 and z[pos - 1] >= onset_z:
        pos -= 1
    return float(t[pos])


def poisson_surge(base_count: int, base_span: float, now_count: int, now_span: float) -> float:
    """How surprising `now_count` events are given the baseline rate (a z-like score).

    Uses the Anscombe transform so small counts behave; a zero baseline gets half an event
    of prior so a brand-new error does not score infinity.
    """
    if now_span <= 0 or base_span <= 0:
        return 0.0
    expected = max(base_count, 0.5) * now_span / base_span
    return float(2.0 * (math.sqrt(now_count + 3 / 8) - math.sqrt(expected + 3 / 8)))


def squash(score: float, scale: float = 6.0) -> float:
    """Map an unbounded anomaly score to [0, 1)."""
    return 1.0 - math.exp(-max(score, 0.0) / scale)


def step_score(values: FloatArray, *, min_segment: int = 3) -> float:
    """How cleanly a series steps to a new level, as BARO scores it: the single change point
    that best splits it in two (least squares), then the shift of the median after it
    against the median and interquartile range of everything before it. A step from a quiet
    level scores in the tens or more; a slow drift all window long (a leak) only a few, since
    its own earlier rise widens the reference's spread."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 2 * min_segment:
        return 0.0
    cumulative, squares = np.cumsum(x), np.cumsum(x * x)
    k = np.arange(min_segment, n - min_segment + 1)
    left = squares[k - 1] - cumulative[k - 1] ** 2 / k
    right = (squares[-1] - squares[k - 1]) - (cumulative[-1] - cumulative[k - 1]) ** 2 / (n - k)
    split = int(k[np.argmin(left + right)])
    before, after = x[:split], x[split:]
    q1, q3 = np.percentile(before, [25, 75])
    median = float(np.median(before))
    spread = max(float(q3 - q1), 1e-6 * abs(median), 1e-12)
    return abs(float(np.median(after)) - median) / spread
