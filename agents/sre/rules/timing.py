"""Timing: a cause starts no later than its effect (within a sample's tolerance).

Also the instants the other families measure against: when the bulk of an effect's rise
arrived, when it first began.
"""

from __future__ import annotations

from agents.sre.rules.link import Link, rule
from agents.sre.series import SeriesView
from agents.sre.traces import SpanVerdict
from agents.sre.verdicts import FamilyVerdict, LogVerdict, hhmm
from integrations.telemetry.base import ChangeEvent


def bulk(view: SeriesView, effect_onset: float | None, effect: FamilyVerdict | None
         ) -> float | None:
    """The latest a cause may begin: the effect's onset, or the bulk of its rise when that
    came later (an unrelated blip just before the episode can pull the onset early)."""
    rise = view.rise_time(effect)
    return effect_onset if effect_onset is None or rise is None else max(effect_onset, rise)


def when(view: SeriesView, effect_onset: float | None, fired_at: float,
         effect: FamilyVerdict | None = None) -> float:
    """When the effect a cause must meet arrived: its onset, or with `effect`, the bulk of its
    rise where that can be timed; an effect that could not be placed was under way when the
    alert fired."""
    rise = view.rise_time(effect) if effect is not None else None
    if rise is not None:
        return rise
    return effect_onset if effect_onset is not None else fired_at


def began(effect_onset: float | None, fired_at: float, effect: FamilyVerdict | None) -> float:
    """The earliest the effect can be said to have begun (where it first crossed ONSET_Z):
    a dependency must already have been this bad before that to be a standing condition."""
    since = effect.anomaly.since if effect is not None and effect.anomaly is not None else None
    times = [x for x in (effect_onset, since) if x is not None]
    return min(times) if times else fired_at


def precedes(cause: float | None, effect: float | None, tolerance: float) -> bool:
    return cause is not None and (effect is None or cause <= effect + tolerance)


@rule("late", family="timing")
def late(link: Link) -> str:
    """A cause starts no later than its effect, give or take one sample.

    A dependency or a widened candidate may instead meet the bulk of the effect's rise (a
    blip just before the episode can pull the effect's onset early, smoothing joins them);
    error logs get two more minutes for the clock skew between logs and metrics. An effect
    whose onset could not be placed was under way when the alert fired: a cause that began
    after that is too late whatever the effect's series shows."""
    tolerance = link.timing.tolerance
    cause = link.cause
    onset = link.effect_onset if link.effect_onset is not None else link.timing.fired_at
    if isinstance(cause, LogVerdict):
        if precedes(cause.onset, onset, tolerance + link.thresholds.log_skew_s):
            return ""
        return "no surge of error logs before the symptom"
    deadline: float | None = onset
    if link.role in ("dependency", "widened"):
        deadline = bulk(link.series, onset, link.effect)
    if isinstance(cause, SpanVerdict):
        if precedes(cause.onset, deadline, tolerance):
            return ""
        return f"its spans changed at {hhmm(cause.onset)}, after {link.effect_label}"
    if isinstance(cause, ChangeEvent):
        if precedes(cause.ts, onset, tolerance):
            return ""
        return f"the {cause.kind} at {hhmm(cause.ts)} came after the symptom"
    if precedes(cause.onset, deadline, tolerance):
        return ""
    return f"anomalous, but it started at {hhmm(cause.onset)}, after {link.effect_label}"


@rule("change_window", family="timing", kinds=("deploy", "config", "memory", "traffic"))
def change_window(link: Link) -> str:
    """A change (or an OOM kill, or a batch job's start) explains what follows it within the
    lookback (45 minutes), not older trouble. An effect whose onset could not be placed was
    under way when the alert fired (as `late` holds it): the lookback runs back from then."""
    cause = link.cause
    if not isinstance(cause, ChangeEvent):
        return ""
    onset = link.effect_onset if link.effect_onset is not None else link.timing.fired_at
    if cause.ts < onset - link.thresholds.change_lookback_s:
        return f"the {cause.kind} at {hhmm(cause.ts)} is too long before the symptom"
    return ""


RULES = (late, change_window)
