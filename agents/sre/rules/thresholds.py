"""Every threshold of the investigator's causal rules and ranking, in one frozen value.

Evals sweep them (`nightowl eval --set NAME=VALUE`); the defaults are what the development
suites chose (docs/evaluation.md says how). The statistics' own definitions (what counts as
an anomaly: 3 robust sigmas, onsets traced back at 2) live in `agents.sre.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True, slots=True)
class Thresholds:
    # ---- timing -------------------------------------------------------------------------------
    # A cause may show up this many samples after its effect (both smoothed, sampled apart)...
    tolerance_samples: float = 1.5
    # ...and at least this many seconds.
    tolerance_min_s: float = 120.0
    # How long a synchronous caller may take to show its callee's degradation (samples, s).
    lag_samples: float = 1.0
    lag_min_s: float = 90.0
    # Logs and metrics clocks may disagree by this much more.
    log_skew_s: float = 120.0
    # A change (deploy, config) explains what follows it within this many seconds.
    change_lookback_s: float = 45 * 60
    # ---- magnitude ----------------------------------------------------------------------------
    # A dependency whose latency rose by less than this share of its caller's cannot explain it.
    min_latency_share: float = 0.1
    # A dependency serving under this share of its caller's requests cannot explain it.
    min_traffic_share: float = 0.01
    # A dependency must be at least this share as anomalous as its caller (squashed scale).
    faint_link: float = 0.5
    # A surge must be at least this share as anomalous as the damage (squashed scale)...
    faint_surge: float = 0.5
    # ...unless the traffic rose by this much (1.0: doubled): a saturated queue has no bound.
    saturating_gain: float = 1.0
    # A new or surging error-log pattern counts from this surge score.
    log_surge: float = 3.0
    # ---- load ---------------------------------------------------------------------------------
    # A step up in requests from their own level just before counts as a surge from +50%.
    step_gain: float = 0.5
    # Load already out of range and borne without harm must rise by this much more.
    coped_gain: float = 0.25
    # A caller's surge carries a callee's only when at least this share of its relative size.
    carries: float = 0.5
    # ---- persistence ------------------------------------------------------------------------
    # Below this share of abnormal samples since onset, an episode is a blip.
    transient: float = 0.35
    # ---- explaining away and ranking ----------------------------------------------------------
    # A deeper cause explains a node when at least this strong (squashed scale).
    explains: float = 0.8
    twin_correlation: float = 0.8
    explained_factor: float = 0.35
    off_path_factor: float = 0.3
    # Off the call graph, began before the alert and lasts: connection unknown...
    unknown_link_factor: float = 0.6
    # ...or on the same node or host as a degraded service of the call path.
    shared_node_factor: float = 0.8
    # The confidence of an answer whose connection is unknown is at most this.
    unknown_link_confidence: float = 0.6
    # Such a cause explains a path's "degraded with no visible cause" when at least this
    # strong against it (squashed scale); on a shared node, whatever its strength.
    unknown_link_explains: float = 0.5
    unconfirmed_path_factor: float = 0.6
    fallback_factor: float = 0.75
    abstain_strength: float = 0.4
    strong_z: float = 100.0
    uncoupled: float = 0.5
    corroboration: float = 0.1
    twin_factor: float = 0.5
    persistent: float = 0.5
    calibration_a: float = 10.71
    calibration_b: float = -1.51

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_values(self, values: dict[str, float]) -> Thresholds:
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; known: "
                             f"{', '.join(self.names())}")
        return replace(self, **values)


DEFAULT = Thresholds()
