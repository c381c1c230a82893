"""Baselines that run on the same cases, written from their published descriptions.

- BARO (Pham, Ha, Zhang; FSE 2024): multivariate Bayesian online change-point detection finds
  the anomaly onset; each metric is then scored by its largest robust deviation after the
  onset, |x - median| / IQR of the data before it; services ranked by their best metric.
- NSigma: the same onset, scored with the mean and standard deviation instead (the classic
  n-sigma rule that one outlier in the reference can fool).
- Random: a seeded shuffle of the services, the floor every method must beat.

They see exactly what the investigator sees: every metric of every service in the window
(they read no logs, traces or change events, as published).
"""

from __future__ import annotations

import hashlib
import math
import random

import numpy as np

from integrations.telemetry.base import Series
from integrations.telemetry.scenario import ScenarioSource


def _all_series(source: ScenarioSource) -> list[Series]:
    window = source.case.window
    out = []
    for series_list in source._series.values():
        for s in series_list:
            mask = (s.t >= window.start_s) & (s.t <= window.end_s)
            if mask.sum() >= 4:
                out.append(Series(s.service, s.metric, s.t[mask], s.v[mask]))
    return out


def _grid(series: list[Series]) -> tuple[np.ndarray, np.ndarray]:
    """All series on one time grid (forward-filled), as a (time, metric) matrix."""
    times = np.unique(np.concatenate([s.t for s in series]))
    matrix = np.full((times.size, len(series)), np.nan)
    for j, s in enumerate(series):
        matrix[np.searchsorted(times, s.t), j] = s.v
    for j in range(matrix.shape[1]):  # forward fill, then back fill the head
        column = matrix[:, j]
        valid = np.flatnonzero(np.isfinite(column))
        if valid.size == 0:
            continue
        idx = np.maximum.accumulate(np.where(np.isfinite(column), np.arange(column.size), 0))
        column[:] = column[idx]
        column[: valid[0]] = column[valid[0]]
    return times, matrix


def bocpd_onset(signal: np.ndarray, *, hazard: float = 1 / 100) -> int | None:
    """Adams & MacKay online change-point detection (Normal-Gamma prior, Student-t predictive).

    Returns the index where the most probable current run began, i.e. the last change point.
    """
    n = signal.size
    if n < 6:
        return None
    x = (signal - np.median(signal)) / (np.std(signal) + 1e-9)
    mu0, kappa0, alpha0, beta0 = 0.0, 1.0, 1.0, 1.0
    log_r = np.array([0.0])
    mu, kappa, alpha, beta = (np.array([mu0]), np.array([kappa0]), np.array([alpha0]),
                              np.array([beta0]))
    log_h, log_1h = math.log(hazard), math.log(1 - hazard)
    best_start = 0
    for t in range(n):
        scale = np.sqrt(beta * (kappa + 1) / (alpha * kappa))
        df = 2 * alpha
        z = (x[t] - mu) / scale
        log_pred = (_lgamma((df + 1) / 2) - _lgamma(df / 2) - 0.5 * np.log(df * math.pi)
                    - np.log(scale) - (df + 1) / 2 * np.log1p(z * z / df))
        growth = log_r + log_pred + log_1h
        change = np.logaddexp.reduce(log_r + log_pred + log_h)
        log_r = np.concatenate([[change], growth])
        log_r -= np.logaddexp.reduce(log_r)
        mu_new = (kappa * mu + x[t]) / (kappa + 1)
        beta = np.concatenate([[beta0], beta + kappa * (x[t] - mu) ** 2 / (2 * (kappa + 1))])
        mu = np.concatenate([[mu0], mu_new])
        kappa = np.concatenate([[kappa0], kappa + 1])
        alpha = np.concatenate([[alpha0], alpha + 0.5])
        run_length = int(np.argmax(log_r))
        best_start = t - run_length + 1
    return best_start if 0 < best_start < n else None


def _lgamma(values: np.ndarray | float) -> np.ndarray:
    return np.asarray(np.vectorize(math.lgamma)(values), dtype=float)


def system_onset(source: ScenarioSource) -> tuple[float, list[Series], np.ndarray,
                                                  np.ndarray]:
    series = _all_series(source)
    times, matrix = _grid(series)
    head = max(3, times.size // 3)
    reference = matrix[:head]
    med = np.nanmedian(reference, axis=0)
    spread = _unit_if_zero(np.nanstd(reference, axis=0))
    deviation = np.nanmean(np.abs((matrix - med) / spread), axis=1)
    onset_index = bocpd_onset(np.nan_to_num(deviation))
    fired = source.case.alert.fired_at.timestamp()
    onset = float(times[onset_index]) if onset_index is not None else fired
    return onset, series, times, matrix


def _rank(series: list[Series], scores: np.ndarray) -> list[str]:
    best: dict[str, float] = {}
    for s, score in zip(series, scores, strict=True):
        if math.isfinite(score) and score > best.get(s.service, -1.0):
            best[s.service] = float(score)
    return [name for name, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))]


def _split(source: ScenarioSource) -> tuple[list[Series], np.ndarray, np.ndarray]:
    """Every series, cut at the detected onset into a reference and an anomalous part."""
    onset, series, times, matrix = system_onset(source)
    before, after = matrix[times < onset], matrix[times >= onset]
    if before.shape[0] < 2 or after.shape[0] == 0:
        before, after = matrix[: matrix.shape[0] // 2], matrix[matrix.shape[0] // 2:]
    return series, before, after


def _unit_if_zero(scale: np.ndarray) -> np.ndarray:
    """A reference with no spread is scaled by 1, as the published implementations do
    (scikit-learn's RobustScaler and StandardScaler, which RCAEval's BARO uses): dividing by
    a tiny epsilon instead puts every sparse count (errors, sockets, throttled periods) that
    moved by one at the top of the ranking."""
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def baro(source: ScenarioSource) -> list[str]:
    series, before, after = _split(source)
    med = np.nanmedian(before, axis=0)
    iqr = np.nanpercentile(before, 75, axis=0) - np.nanpercentile(before, 25, axis=0)
    scores = np.nanmax(np.abs(after - med) / _unit_if_zero(iqr), axis=0)
    return _rank(series, scores)


def nsigma(source: ScenarioSource) -> list[str]:
    series, before, after = _split(source)
    mean = np.nanmean(before, axis=0)
    std = np.nanstd(before, axis=0)
    scores = np.nanmax(np.abs(after - mean) / _unit_if_zero(std), axis=0)
    return _rank(series, scores)


def random_ranking(source: ScenarioSource) -> list[str]:
    services = sorted(source._series)
    seed = int(hashlib.sha256(source.case.id.encode()).hexdigest()[:8], 16)
    random.Random(seed).shuffle(services)
    return services


BASELINES = {"BARO": baro, "NSigma": nsigma, "random": random_ranking}
