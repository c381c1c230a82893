"""Persistence: a cause is abnormal now, got worse with its effect, and is not a blip."""

from __future__ import annotations

import numpy as np

from agents.sre.rules.link import Link, rule
from agents.sre.rules.timing import began
from agents.sre.series import SeriesView
from agents.sre.verdicts import FamilyVerdict, hhmm, persistence

DEGRADATION = ("latency", "errors", "availability")


def standing_since(view: SeriesView, verdict: FamilyVerdict, effect_onset: float | None,
                   lag: float) -> str:
    """Why `verdict`'s anomaly is a condition that predates the effect, or '' if it is not.

    A dependency explains its caller's degradation by getting worse when the caller did.
    One that was already as bad `lag` before the caller began to suffer, and got no worse
    after, was a standing condition the caller had been living with: a constant cannot
    explain a change. (Telemetry spliced from another period shows exactly this.)
    """
    if effect_onset is None or verdict.anomaly is None or not verdict.anomalous:
        return ""
    series = view.series_of(verdict)
    z = view.z_scores(series, verdict) if series is not None else None
    if series is None or z is None:
        return ""
    t = series.t
    before = np.flatnonzero((t <= effect_onset - lag) & np.isfinite(z))
    after = np.flatnonzero((t > effect_onset - lag) & np.isfinite(z))
    if before.size == 0 or after.size == 0:
        return ""
    z_before = float(z[before[-1]])
    rise = float(np.max(z[after])) - z_before
    if z_before < view.anomaly_z or rise >= view.anomaly_z:
        return ""
    return (f"it was already this abnormal at {hhmm(float(t[before[-1]]))} (z={z_before:.1f}), "
            f"before the effect began, and got no worse with it")


@rule("normal", family="persistence")
def normal(link: Link) -> str:
    """A cause must itself be anomalous against its own baseline (a share of a surge found
    upstream need only stand out of its own noise, tested when the share is measured)."""
    cause = link.cause
    if not isinstance(cause, FamilyVerdict) or link.share:
        return ""
    if cause.anomaly is None:
        return "insufficient data"
    if not cause.anomaly.anomalous:
        return f"normal (z={cause.anomaly.score:.1f})"
    return ""


@rule("standing", family="persistence", roles=("dependency", "widened"))
def standing(link: Link) -> str:
    """A dependency that was already as abnormal one sample before its effect first crossed
    2 sigmas, and got no worse with it, is a standing condition: a constant cannot explain a
    change. (Off the path, resources are exempt: their damage builds up. With no call graph
    at all, so is everything off the path: "one sample before" assumes a direct call, and
    the hops between a widened cause and the alert are unknown; each adds its own lag.)"""
    if not isinstance(link.cause, FamilyVerdict) or (link.role == "widened" and
                                                      not link.charted):
        return ""
    if link.role == "dependency":
        at = began(link.effect_onset, link.timing.fired_at, link.effect)
    elif link.kind not in DEGRADATION:
        # A resource off the path (a hog on the node) does damage that builds up: memory
        # pressure or a CPU hog that began minutes before its victims slowed is a cause,
        # not a condition they had been living with.
        return ""
    else:
        at = link.effect_onset if link.effect_onset is not None else link.timing.fired_at
    return standing_since(link.series, link.cause, at, link.timing.lag)


@rule("transient", family="persistence", roles=("local", "dependency", "widened", "model"))
def transient(link: Link) -> str:
    """A blip that is already over (abnormal in under 35% of its samples since its onset)
    does not explain an incident still going on, whether the catalogue, a dependency's
    test, the widened search or a model proposed it. (A blip found beside a lasting
    degradation once stood as that service's cause, and its brevity then sank the service's
    rank; refuted, the lasting degradation speaks for itself.) An effect that was as brief,
    a ten-minute load test's slowness, may still be its work. Where a surge entered upstream
    is the same surge measured as a step, not a cause of its own: not judged here."""
    threshold = link.thresholds.transient
    effect = link.effect
    brief_effect = effect is not None and effect.anomaly is not None and \
        effect.anomaly.anomalous and persistence(effect) < threshold
    if isinstance(link.cause, FamilyVerdict) and persistence(link.cause) < threshold and \
            not brief_effect:
        return "a transient blip, over while its effect went on"
    return ""


RULES = (standing, normal, transient)
