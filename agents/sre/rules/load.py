"""Load: a traffic surge explains damage only as a change the service could not take."""

from __future__ import annotations

import numpy as np

from agents.sre.rules.link import Link, rule
from agents.sre.rules.magnitude import gain
from agents.sre.rules.persistence import standing_since
from agents.sre.series import SeriesView
from agents.sre.stats import directional
from agents.sre.verdicts import FamilyVerdict, direction_of, hhmm


def coped_with(view: SeriesView, surge: FamilyVerdict, since: float, lag: float,
               more: float, borne_s: float = 0.0) -> str:
    """Why a surge is load the service was already coping with, or ''. Requests already out
    of their normal range (2 sigmas) `lag` before the damage, with no damage yet, must rise by
    `more` (a quarter) as the damage arrives (by one sample after `since`) to be what caused
    it. A baseline recorded at a lower load puts every request count a few of its narrow
    sigmas up, and load drifting over the day adds a few more as it goes: three more sigmas
    is not a surge that broke the service. Borne means for `borne_s` at least: load still
    climbing, that reached the level of the damage moments before it, is a service reaching
    its capacity (a knee), not one that had coped."""
    if surge.basis or surge.anomaly is None or surge.anomaly.peak <= surge.anomaly.baseline:
        return ""
    series = view.series_of(surge)
    z = view.z_scores(series, surge) if series is not None else None
    if series is None or z is None:
        return ""
    t, v = series.t, series.v
    before = np.flatnonzero((t <= since - lag) & np.isfinite(z) & np.isfinite(v))
    if before.size == 0 or z[before[-1]] < view.onset_z or v[before[-1]] <= 0:
        return ""
    coping = float(v[before[-1]])
    arrived = v[(t >= since) & (t <= since + lag) & np.isfinite(v)]
    if arrived.size == 0 or float(np.max(arrived)) >= (1.0 + more) * coping:
        return ""
    level = float(np.max(arrived)) / (1.0 + more)
    below = np.flatnonzero((t < since) & np.isfinite(v) & (v < level))
    if since - (float(t[below[-1]]) if below.size else float(t[0])) < borne_s:
        return ""
    return (f"requests were already {coping:.3g} at {hhmm(float(t[before[-1]]))} (baseline "
            f"{surge.anomaly.baseline:.3g}) with no damage, and rose only to "
            f"{float(np.max(arrived)):.3g} as it arrived: load the service was coping with")


def coping_reason(link: Link) -> str:
    cause = link.cause
    if not isinstance(cause, FamilyVerdict) or cause.basis:
        return ""  # a step measured from the level just before is a change by construction
    at = link.damage_at if link.damage_at is not None else link.timing.fired_at
    standing = standing_since(link.series, cause, at, link.timing.lag)
    if standing and climbing(link.series, cause, at, link.timing.lag, link.thresholds.coped_s):
        standing = ""  # (coped_with makes the same exception for a climb to a knee)
    return standing or \
        coped_with(link.series, cause, at, link.timing.lag, link.thresholds.coped_gain,
                   link.thresholds.coped_s)


def climbing(view: SeriesView, surge: FamilyVerdict, since: float, lag: float,
             borne_s: float) -> bool:
    """Load still climbing into the damage: as it arrived the requests stood higher than
    they had ever been until `borne_s` before it. Abnormal for a while without damage, yet
    never borne at this level: a service reaching its capacity (a knee), not one that had
    been living with it."""
    series = view.series_of(surge)
    if series is None:
        return False
    t, v = series.t, series.v
    ok = np.isfinite(v)
    arrived = v[ok & (t >= since - lag) & (t <= since + lag)]
    before = v[ok & (t < since - borne_s)]
    return arrived.size > 0 and before.size > 0 and float(np.max(arrived)) > float(np.max(before))


@rule("coping", family="load", kinds=("traffic",), roles=("local", "origin"))
def coping(link: Link) -> str:
    """Load the service was already coping with when the damage arrived does not explain it:
    neither load already as high before the damage, nor load already out of its range that
    rose by less than a quarter more as the damage arrived."""
    return coping_reason(link)


@rule("load_lull", family="load", kinds=("traffic",), roles=("local",))
def load_lull(link: Link) -> str:
    """Load drives a slowdown only while it lasts: a surge is refuted when, after the damage
    began, the requests were back within their normal range while the damage was still at
    least half as bad as at its worst (a bystander's request count that spiked once)."""
    surge, effect, view = link.cause, link.effect, link.series
    if link.share or effect is None or not isinstance(surge, FamilyVerdict) or surge.basis \
            or surge.anomaly is None or surge.anomaly.peak <= surge.anomaly.baseline:
        return ""
    since = link.damage_at if link.damage_at is not None else link.timing.fired_at
    load, damage = view.series_of(surge), view.series_of(effect)
    if load is None or damage is None:
        return ""
    load_base, damage_base = view.baseline(load), view.baseline(damage)
    if load_base is None or damage_base is None:
        return ""
    common, il, idm = np.intersect1d(load.t, damage.t, return_indices=True)
    z_load = (load.v[il] - load_base.median) / load_base.scale
    z_damage = directional((damage.v[idm] - damage_base.median) / damage_base.scale,
                           direction_of(damage, effect.family))
    episode = (common >= view.split) & np.isfinite(z_damage)
    if not episode.any():
        return ""
    worst = float(np.max(z_damage[episode]))
    for k in np.flatnonzero((common >= since) & np.isfinite(z_load) & episode):
        if z_load[k] < view.onset_z and z_damage[k] >= max(view.anomaly_z, 0.5 * worst):
            return (f"requests were back to normal at {hhmm(float(common[k]))} "
                    f"({load.v[il[k]]:.3g} against a baseline of {load_base.median:.3g}) "
                    f"while {effect.metric} stayed at {damage.v[idm[k]]:.3g} "
                    f"(z={z_damage[k]:.1f})")
    return ""


@rule("carries", family="load", kinds=("traffic",), roles=("origin",))
def carries(link: Link) -> str:
    """A caller's surge carries a callee's only when it is of comparable relative size: from
    the baselines or, failing that, as the two steps taken at the instant the caller's surge
    arrived, both measured alike (a baseline recorded at another load distorts ratios to it
    unevenly, two steps taken at the same moment keep their ratio)."""
    caller, callee = link.cause, link.effect
    if not isinstance(caller, FamilyVerdict) or callee is None:
        return ""
    share = link.thresholds.carries
    if gain(caller) >= share * gain(callee):
        return ""
    step = link.series.rise_time(caller)
    if link.series.step_gain(caller, step) >= share * link.series.step_gain(callee, step):
        return ""
    return "the surge entered below it (or through another caller)"


def per_request(view: SeriesView, cpu: FamilyVerdict, requests: FamilyVerdict
                ) -> tuple[float, float] | None:
    """How far a CPU series rose over the episode's worst stretch, and how far its CPU per
    request did, both as ratios to the baseline's medians; None when they cannot be read."""
    cpu_s, req_s = view.series_of(cpu), view.series_of(requests)
    if cpu_s is None or req_s is None or cpu.anomaly is None:
        return None
    ok = np.isfinite(req_s.v)
    if ok.sum() < 3:
        return None
    t, c = cpu_s.t, cpu_s.v
    r = np.interp(t, req_s.t[ok], req_s.v[ok], left=np.nan, right=np.nan)
    usable = np.isfinite(c) & np.isfinite(r) & (r > 0)
    before = usable & (t < view.baseline_end(cpu_s))
    z = view.z_scores(cpu_s, cpu)
    if z is None or before.sum() < 3:
        return None
    region = usable & (t >= view.split) & np.isfinite(z)
    if not region.any():
        return None
    peak = float(np.max(z[region]))
    worst = region & (z >= max(view.anomaly_z, 0.5 * peak))
    if not worst.any():
        return None
    c0, q0 = float(np.median(c[before])), float(np.median((c / np.where(r > 0, r, 1))[before]))
    if c0 <= 0 or q0 <= 0:
        return None
    return (float(np.median(c[worst])) / c0,
            float(np.median(c[worst] / r[worst])) / q0)


@rule("cpu_with_load", family="load", kinds=("cpu",))
def cpu_with_load(link: Link) -> str:
    """CPU that rose with the service's requests, CPU per request unchanged, is the load
    reaching it (a surge, retries, a campaign), not a fault of its CPU: every service's CPU
    follows its traffic. A hog, a runaway loop or a neighbour spends CPU no request asked
    for, and raises CPU per request."""
    cpu = link.cause
    if not isinstance(cpu, FamilyVerdict) or cpu.family != "cpu" or cpu.anomaly is None \
            or cpu.anomaly.peak <= cpu.anomaly.baseline:
        return ""
    profile = link.series.profile(cpu.service)
    requests = profile.families.get("throughput") if profile is not None else None
    if requests is None:
        return ""
    rose = per_request(link.series, cpu, requests)
    if rose is None:
        return ""
    cpu_gain, unit_gain = rose
    if cpu_gain <= 1.0 or np.log(max(unit_gain, 1e-9)) > \
            link.thresholds.per_request * np.log(cpu_gain):
        return ""
    return (f"its CPU rose {cpu_gain:.2g}x with its requests (CPU per request "
            f"{unit_gain:.2g}x): the load reaching it, not its CPU")


@rule("rising", family="load", kinds=("traffic",), roles=("local",))
def rising(link: Link) -> str:
    """Only more requests overload a service: traffic that fell, or stayed within a baseline
    recorded at a higher load without stepping up, is not a surge."""
    cause = link.cause
    if link.share or not isinstance(cause, FamilyVerdict) or cause.anomaly is None:
        return ""
    if cause.anomalous and (cause.basis or cause.anomaly.peak > cause.anomaly.baseline):
        return ""
    if not cause.anomalous:
        return f"normal (z={cause.anomaly.score:.1f})"
    return f"requests fell ({cause.anomaly.change()}): less traffic does not overload"


RULES = (coping, load_lull, carries, cpu_with_load, rising)
