"""The statistics on signals whose answer is known."""

from __future__ import annotations

import numpy as np

from agents.sre.stats import (
    analyze,
    ceiling_of,
    episode_onset,
    poisson_surge,
    robust_baseline,
    squash,
)

T = np.arange(120, dtype=float) * 30.0


def noisy(level: float = 10.0, sigma: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(level, sigma, T.size)


def test_robust_baseline_ignores_outliers() -> None:
    values = noisy()
    values[5] = 1e6  # one absurd sample does not move the median or the MAD
    baseline = robust_baseline(values)
    assert baseline is not None
    assert 9.5 < baseline.median < 10.5 and 0.5 < baseline.scale < 2.0
    assert robust_baseline(np.array([1.0, np.nan, 2.0])) is None  # too few samples


def test_step_change_is_found_with_its_onset() -> None:
    values = noisy()
    values[80:] += 10
    anomaly = analyze(T, values, split=T[70], direction="up")
    assert anomaly is not None and anomaly.anomalous
    assert anomaly.score > 5 and anomaly.onset == T[80] and anomaly.persistence > 0.9


def test_direction_matters() -> None:
    values = noisy()
    values[80:] -= 10
    up = analyze(T, values, split=T[70], direction="up")
    down = analyze(T, values, split=T[70], direction="down")
    assert up is not None and not up.anomalous
    assert down is not None and down.anomalous


def test_a_two_sided_excursion_begins_where_it_crossed_the_baseline() -> None:
    """Traffic that sat below its baseline (recorded at another load) and then surged far
    above it: the surge began at the step up, not in the dip before it."""
    values = noisy()
    values[72:] -= 6    # below the baseline from the split on
    values[80:] += 16   # then a surge, well above it
    anomaly = analyze(T, values, split=T[70], direction="both")
    assert anomaly is not None and anomaly.anomalous and anomaly.peak > anomaly.baseline
    assert anomaly.onset == T[80] and anomaly.persistence > 0.9


def test_single_spike_is_smoothed_away_and_a_blip_is_not_persistent() -> None:
    values = noisy()
    values[90] += 30
    spike = analyze(T, values, split=T[70], direction="up")
    assert spike is not None and not spike.anomalous
    values[90:92] += 30  # two samples survive the rolling median, but then it is over
    blip = analyze(T, values, split=T[70], direction="up")
    assert blip is not None and blip.anomalous and blip.persistence < 0.35


def test_flat_and_sparse_series() -> None:
    flat = np.zeros(T.size)
    flat[100:] = 1.0  # errors appearing from nothing are anomalous
    anomaly = analyze(T, flat, split=T[90], direction="up")
    assert anomaly is not None and anomaly.anomalous
    sparse = np.zeros(T.size)
    sparse[[3, 17, 40, 61]] = 1.0  # a quiet counter with rare blips
    sparse[100] = 1.0
    quiet = analyze(T, sparse, split=T[90], direction="up", smooth=1)
    assert quiet is not None and quiet.score <= 5
    assert analyze(T, np.full(T.size, np.nan), split=T[90], direction="up") is None


def test_slow_ramp_is_measured_against_what_came_before_it() -> None:
    values = noisy(50, 1)
    values[50:] += np.linspace(0, 40, T.size - 50)  # a leak starting well before the split
    anomaly = analyze(T, values, split=T[80], direction="up", baseline_end=T[45])
    assert anomaly is not None and anomaly.anomalous and anomaly.onset is not None
    assert anomaly.onset <= T[80]


def test_episode_onset_at_alert_time() -> None:
    values = noisy()
    values[85:] += 8
    onset = episode_onset(T, values, at=T[95], baseline_end=T[60], direction="up")
    assert onset is not None and T[82] <= onset <= T[86]
    assert episode_onset(T, noisy(), at=T[95], baseline_end=T[60], direction="up") is None


def test_counts_and_squash() -> None:
    assert poisson_surge(10, 3600, 10, 3600) < 1
    assert poisson_surge(0, 3600, 50, 600) > 10
    assert squash(0) == 0 and 0.99 < squash(100) < 1


def test_availability_is_scaled_on_its_error_ratio() -> None:
    values = np.full(T.size, 100.0)
    values[100:] = 97.0  # 3% of requests failing
    assert ceiling_of("availability", values) == 100.0
    assert ceiling_of("availability", values / 100) == 1.0
    assert ceiling_of("latency", values) is None
    plain = analyze(T, values, split=T[90], direction="down")
    bounded = analyze(T, values, split=T[90], direction="down", ceiling=100.0)
    assert plain is not None and not plain.anomalous  # 3 points against a 5% level floor
    assert bounded is not None and bounded.anomalous and bounded.score > 100


def test_one_or_two_samples_since_the_split_are_insufficient() -> None:
    values = noisy()
    values[-2:] += 50
    assert analyze(T, values, split=T[-2], direction="up") is None
    assert analyze(T, values, split=T[-3], direction="up") is not None


def test_smoothing_spans_half_a_minute_whatever_the_scrape() -> None:
    from agents.sre.stats import smoothing_width

    assert smoothing_width(np.arange(0, 3600, 60.0)) == 3
    assert smoothing_width(np.arange(0, 3600, 10.0)) == 3
    assert smoothing_width(np.arange(0, 3600, 2.0)) == 15
    assert smoothing_width(np.arange(0, 3600, 1.0)) == 31


def test_a_shift_sampled_every_second_is_dated_where_it_began() -> None:
    # Three samples of one-second noise dip under 2 sigmas every few seconds, and the onset
    # traced back from the peak stopped at the first dip, minutes late (837 s for a shift at
    # 620 s); half a minute's median holds the excursion together back to where it began.
    rng = np.random.default_rng(9)
    t = np.arange(0.0, 900.0, 1.0)
    shifted = 100 + rng.normal(0, 5, t.size)
    shifted[t >= 620] += 15        # three sigmas, sustained
    verdict = analyze(t, shifted, split=600.0, direction="up")
    assert verdict is not None and verdict.anomalous and verdict.onset is not None
    assert abs(verdict.onset - 620) <= 30 and verdict.persistence > 0.9
