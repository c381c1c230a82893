"""Magnitude: a cause is big enough, and strong enough, to account for its effect."""

from __future__ import annotations

from agents.sre.rules.link import Link, rule
from agents.sre.stats import squash
from agents.sre.verdicts import FamilyVerdict, LogVerdict


def gain(verdict: FamilyVerdict, reference: float | None = None) -> float:
    """Relative rise of a verdict's series (0.5 for +50%), from its baseline or `reference`."""
    anomaly = verdict.anomaly
    if anomaly is None:
        return 0.0
    base = anomaly.baseline if reference is None else reference
    return max(anomaly.peak / base - 1.0, 0.0) if base > 0 else 0.0


def rises(cause: FamilyVerdict, effect: FamilyVerdict, *, best: bool = False
          ) -> tuple[float, float] | None:
    """How far a cause's and an effect's latencies rose, on one scale: in seconds when both
    series say their unit (a database's p99 in milliseconds under its caller's in seconds),
    as recorded when neither does (one exporter's convention). None when only one says: an
    Envoy `rq_time` (milliseconds, unsaid) against a gRPC `handling_seconds` cannot be
    compared. `best` gives the cause the largest rise among its latency metrics."""
    if cause.anomaly is None or effect.anomaly is None:
        return None
    mine = cause.anomaly.peak - cause.anomaly.baseline
    if best:
        mine = max(cause.max_rise, mine)
    theirs = effect.anomaly.peak - effect.anomaly.baseline
    scale, other = cause.seconds_per_unit, effect.seconds_per_unit
    if scale and other:
        return mine * scale, theirs * other
    if (scale is None) != (other is None) and cause.metric != effect.metric:
        return None
    return mine, theirs


def covers(cause: FamilyVerdict, effect: FamilyVerdict) -> bool:
    """Did a dependency's latency rise by at least as much as its caller's? Then it accounts
    for the whole of the caller's slowdown, however noisy its own baseline (z-scores compare
    how unusual two moves are; seconds added up along a call chain compare what they did)."""
    if cause.family != "latency" or effect.family != "latency" or \
            cause.anomaly is None or effect.anomaly is None:
        return False
    compared = rises(cause, effect)
    return compared is not None and compared[1] > 0 and compared[0] >= compared[1]


def _too_little(link: Link, detail: str) -> str:
    return f"it moved, but by too little to explain {link.effect_label} ({detail})"


@rule("latency_share", family="magnitude", roles=("dependency",))
def latency_share(link: Link) -> str:
    """Latency adds up along a call chain: a dependency whose latency rose by less than a
    tenth of its caller's rise cannot explain it (1 ms slower under a caller 1 s slower)."""
    cause, effect = link.cause, link.effect
    if not isinstance(cause, FamilyVerdict) or effect is None or \
            cause.family != "latency" or effect.family != "latency" or \
            cause.anomaly is None or effect.anomaly is None:
        return ""
    # Unlike statistics (a p50 under a p99): give the cause its best rise.
    compared = rises(cause, effect, best=cause.metric != effect.metric)
    if compared is None:  # units that cannot be compared: the other rules judge it
        return ""
    cause_delta, effect_delta = compared
    if effect_delta <= 0 or cause_delta >= link.thresholds.min_latency_share * effect_delta:
        return ""
    unit = " s" if cause.seconds_per_unit and effect.seconds_per_unit else ""
    return _too_little(link, f"{cause_delta:+.3g}{unit} against {effect_delta:+.3g}{unit}")


@rule("faint_link", family="magnitude", roles=("dependency",))
def faint_link(link: Link) -> str:
    """A dependency barely out of its normal range does not explain a caller driven far out
    of its own (a 3-sigma wobble below a failure at z=200): it must be at least half as
    anomalous, compared on the squashed scale."""
    cause, effect = link.cause, link.effect
    if not isinstance(cause, FamilyVerdict) or effect is None or not effect.anomalous:
        return ""
    if squash(cause.score) >= link.thresholds.faint_link * squash(effect.score):
        return ""
    return _too_little(link, f"{cause.metric} at z={cause.score:.1f} against {effect.metric} "
                             f"at z={effect.score:.1f}")


@rule("traffic_share", family="magnitude", roles=("dependency",))
def traffic_share(link: Link) -> str:
    """A dependency that served under 1% of its caller's requests during the episode cannot
    account for the caller's degradation, however badly it failed (a load balancer left with
    two requests in five minutes, all of them errors). Compared on the caller's own request
    metric, when the dependency reports it too."""
    cause = link.cause
    if not isinstance(cause, FamilyVerdict):
        return ""
    profile = link.series.profile(link.effect_service)
    traffic = profile.families.get("throughput") if profile is not None else None
    if traffic is None:
        return ""
    mine = link.series.volume(cause.service, traffic.metric, link.effect_onset)
    theirs = link.series.volume(link.effect_service, traffic.metric, link.effect_onset)
    share = link.thresholds.min_traffic_share
    if mine is None or theirs is None or theirs <= 0 or mine >= share * theirs:
        return ""
    return _too_little(link, f"{traffic.metric} {mine:.3g} against {theirs:.3g} at "
                             f"{link.effect_service}, under {share:.0%} of its traffic")


@rule("faint_surge", family="magnitude", kinds=("traffic",), roles=("local",))
def faint_surge(link: Link) -> str:
    """A barely-anomalous rise in requests does not explain a violent degradation: traffic
    that drowns a service moves as far out of its normal range as the damage it does, or at
    least doubles (a saturated queue's latency has no bound). A share of a surge found
    upstream is as faint or as strong as the surge; requests that stepped up from their own
    level with the damage are as strong as that step (the baseline's load may differ)."""
    surge = link.upstream_surge if link.share and link.upstream_surge is not None \
        else link.cause
    effect = link.effect
    if not isinstance(surge, FamilyVerdict) or effect is None or not effect.anomalous or \
            surge.anomaly is None:
        return ""
    th = link.thresholds
    needed = th.faint_surge * squash(effect.score)
    if squash(surge.score) >= needed or gain(surge) >= th.saturating_gain:
        return ""
    # Else measured as a step from its own level just before, where it stepped up with the
    # damage (a load test on a baseline recorded at another load): a drift makes no step.
    step = link.series.step_surge(surge, link.effect_onset, link.timing.lag,
                                  gain=th.step_gain)
    if step is not None and squash(step.score) >= needed:
        return ""
    return (f"requests rose only {surge.anomaly.change()} (z={surge.score:.1f}), too little "
            f"to explain {effect.metric} at z={effect.score:.1f}")


@rule("log_surge", family="magnitude", kinds=("code_error", "dependency"))
def log_surge(link: Link) -> str:
    """Error logs explain a symptom only when a pattern is new or surging (a surge score of
    at least 3) and can be placed in time."""
    cause = link.cause
    if not isinstance(cause, LogVerdict):
        return ""
    if cause.score >= link.thresholds.log_surge and cause.onset is not None:
        return ""
    return "no surge of error logs before the symptom"


@rule("nothing_to_explain", family="magnitude", roles=("local",),
      kinds=("cpu", "memory", "disk", "network_delay", "network_loss", "payload"))
def nothing_to_explain(link: Link) -> str:
    """A resource explains a degradation where it is: offered for an effect that did not
    move, at a service that degraded on no other signal either, a saturated CPU or a surge
    of packets there has nothing to explain (every service's CPU rises with the load; the
    alert fired on something else). Not so a traffic surge, whose damage lands on the
    services it flows down to, nor a change, error lines or failing spans."""
    effect = link.effect
    if effect is None or effect.anomalous or not isinstance(link.cause, FamilyVerdict):
        return ""
    profile = link.series.profile(link.effect_service)
    if profile is not None and any(v.anomalous for family, v in profile.families.items()
                                   if family in ("latency", "errors", "availability")):
        return ""
    return (f"{link.effect_label} did not move (z={effect.score:.1f}) and nothing else "
            f"degraded there: nothing to explain")


RULES = (latency_share, faint_link, traffic_share, faint_surge, log_surge, nothing_to_explain)
