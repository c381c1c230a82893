"""Nodes as causes. A node or host whose own telemetry went wrong (a NIC dropping packets, a
disk saturated, memory exhausted) hurts every pod placed on it, whatever workload it
belongs to: the degraded services share the node, not a call path. Where the telemetry says
where pods run (their lines' `node`, `host`, `k8s.node.name` ... attributes) and the node
exports its own series, that is read here."""

from __future__ import annotations

import math
import re

import numpy as np

from agents.sre.candidates import Candidate
from agents.sre.report import Hypothesis
from agents.sre.run import DEGRADATION, RESOURCE_KINDS, Run
from agents.sre.stats import squash
from agents.sre.verdicts import FamilyVerdict, persistence


async def node_faults(run: Run, services: list[str], effect_onset: float | None,
                      parent: Hypothesis) -> None:
    """A node whose own resource went wrong before the alert (a utilisation nearer full than
    `Thresholds.node_headroom`), alone among the nodes (no other at `Thresholds.node_alone` of
    its strength or more, and none dropping as many packets), is the
    cause of the degraded services placed on it that began to degrade with it on some signal
    (from a sample before it to `Thresholds.node_follow_s` after), when there are at least
    `Thresholds.node_victims` of them and its anomaly is as strong as theirs: they are
    explained by it, and it is corroborated by each. So is a service placed elsewhere that
    failed from then on, on its calls to a victim (as the graph or its own error lines say).
    When a workload on the node shows the same resource rising no later than the node does,
    the node only carries that workload's load (a batch job's CPU, a database's disk reads):
    the workload is the cause, a noisy neighbour of the services beside it."""
    th = run.thresholds
    limit = (effect_onset if effect_onset is not None else run.ctx.fired_at_s) + run.tolerance
    degraded: dict[str, list[FamilyVerdict]] = {}  # each service's degradations before it
    for service in services:
        profile = await run.tools.profile(service)
        bad = [v for f in DEGRADATION if (v := profile.families.get(f)) is not None
               and v.anomalous and v.onset is not None and v.onset <= limit]
        if bad:
            degraded[service] = bad
    # Placement is read for the degraded services only: one log query each.
    hosted: dict[str, set[str]] = {}
    for service in sorted(degraded):
        for node in await run.tools.placements(service):
            if node != service:
                hosted.setdefault(node, set()).add(service)
    # Each node's own troubles before the alert, strongest first; a utilisation that stayed
    # well short of full is no trouble to what runs beside it (`room_to_spare`). And every
    # placed node's verdicts by family, anomalous or not (`levels`): a node that always drops
    # more packets than this one's worst is no less troubled for being used to it.
    faults: dict[str, list[FamilyVerdict]] = {}
    levels: dict[str, list[tuple[str, FamilyVerdict]]] = {}
    for node in hosted:
        profile = await run.tools.profile(node)
        for family, v in profile.families.items():
            levels.setdefault(family, []).append((node, v))
        troubles = sorted((v for f in RESOURCE_KINDS if (v := profile.families.get(f))
                           is not None and v.anomalous and v.onset is not None and
                           v.onset <= limit and persistence(v) >= th.persistent
                           and not room_to_spare(run, v)),
                          key=lambda v: -v.score)
        if troubles:
            faults[node] = troubles
    for node, found in sorted(faults.items()):
        # The fault follows one node: the same trouble on other nodes at once, half as
        # strong or more, is the whole cluster's load (every node's network busier with the
        # traffic, every node's CPU up with the afternoon's), not this node's.
        # Nor are packets dropped no more often than on another node: a quiet node's drops
        # standing further out of its own noise while a busier one drops more (every node's
        # drops up with the traffic) single out neither.
        singled = [v for v in found if not any(
            n != node and _as_high(w, v) for n, w in levels.get(v.family, ()))]
        troubles = [v for v in singled if not any(
            n != node and w.family == v.family and w.score >= th.node_alone * v.score
            for n, others in faults.items() for w in others)]
        if not troubles or troubles[0] is not singled[0]:
            continue
        own = troubles[0]
        # A workload on it carrying the first of its troubles (its own use of that resource
        # rising no later than the node's) is the hog: the node only carries its load. What
        # went wrong later is the consequence (a NIC dropping packets, then CPU spent on
        # retries), and what a workload carries of it says nothing of the cause.
        opening = min(troubles, key=lambda v: (v.onset or 0.0, -v.score))
        assert opening.onset is not None
        # The node's dominant trouble (the first is under `node_alone` of its strength),
        # when it began within a sample of the first, is of the same moment (a database's
        # disk reads, and a few retransmits of the traffic they bring a second earlier): a
        # workload carrying it is the hog too. A lesser one is not (CPU spent on retries
        # while the NIC drops packets).
        tried = [opening]
        dominant = troubles[0]
        if opening.score < th.node_alone * dominant.score and (dominant.onset or 0.0) <= \
                opening.onset + max(run.lag, _step(run, opening)):
            tried.append(dominant)
        hog = None
        for trouble in tried:
            assert trouble.onset is not None
            hog = await _carrier(run, services, node, trouble)
            if hog is not None:
                own = trouble
                break
        assert own.onset is not None
        strength = max(own.score, hog.score if hog is not None else 0.0)
        # Onsets a sample apart are one moment, and a node is often scraped more slowly
        # than the services on it.
        slack = max(run.lag, _step(run, own))
        # A victim degraded with the node's trouble on some signal (a service drifting
        # slower for a while before, its errors beginning with the node's drops), and no
        # more strongly than the trouble explains.
        victims = sorted(
            s for s in hosted[node]
            if any(own.onset - slack <= (v.onset or 0.0) <= own.onset + th.node_follow_s
                   and squash(strength) >= th.explains * squash(v.score) for v in degraded[s])
            and (hog is None or s != hog.service))  # the hog is not its own victim
        if len(victims) < th.node_victims:
            continue
        cause = hog or own
        await run.progress(f"{node} hosts {len(victims)} degraded services")
        what = own.family.replace('_', ' ')
        statement = (f"{hog.service}'s {what} use on {node} degraded the services beside it "
                     f"({', '.join(victims)})" if hog is not None else
                     f"a {what} fault of node {node} degraded the services it hosts "
                     f"({', '.join(victims)})")
        h = run.new(statement=statement, kind=own.family, service=cause.service, depth=1,
                    parent=parent)
        if hog is not None:
            h.evidence.append(run.tools.cite(hog, effect=(f"{node} {what}", own.onset)))
        h.evidence.append(run.tools.cite(own, effect=(run.ctx.effect, effect_onset)))
        h.status, h.score = "supported", strength
        named = Candidate(
            service=cause.service, kind=own.family, score=h.score,
            onset=cause.onset, evidence=list(h.evidence), hypothesis_id=h.id,
            reachable=False, unknown_link=True, node=node,
            corroboration=len([s for s in victims if s != run.ctx.service]),
            persistence=persistence(cause))
        run.candidates.append(named)
        # A victim's degradation began with the node's trouble: what it showed before is its
        # cause only when as strong (a bad deploy), not a CPU drifting up for a while. A
        # service placed elsewhere that calls a victim, and began to fail no earlier than the
        # node, fails on those calls: the node's doing too. Calls the graph may not list:
        # its error lines naming a victim say so as well.
        callers = {c for v in victims for c in run.callers.get(v, ())}
        for service in {c.service for c in run.candidates} - callers:  # each read once
            if await run.tools.error_logs(service) is not None and \
                    run.tools.naming(service, set(victims)) >= th.blames:
                callers.add(service)
        callers -= set(victims)
        for candidate in run.candidates:
            victim = candidate.service in victims and (
                candidate.onset is None or candidate.onset >= own.onset - slack or
                squash(strength) >= th.explains * squash(candidate.score))
            caller = candidate.service in callers and candidate.onset is not None and \
                candidate.onset >= own.onset - slack
            if candidate is not named and (victim or caller):
                candidate.explained = True


async def _carrier(run: Run, services: list[str], node: str,
                   trouble: FamilyVerdict) -> FamilyVerdict | None:
    """The workload on the node whose own use of the node's resource rose no later than the
    node's did (the strongest, if several): the load the node carries. "No later" within two
    tolerances: each onset is read from a smoothed series and may be a sample off, and the
    two are scraped apart (a database's reads ramping up were first seen two minutes after
    its node's quieter disk series crossed, and the node took the blame). A workload's use is
    a part of the node's, so the part that drove the whole grew at least as much as the
    whole did, relative to its own level: a database whose reads doubled while its node's
    disk went from a fifth busy to saturated did not fill the disk; the disk slowed under
    it (`Thresholds.carrier_growth` allows for what a rate's noise does to it)."""
    assert trouble.onset is not None
    whole = _growth(trouble)
    found: list[FamilyVerdict] = []
    for service in services:
        if service == node:
            continue
        verdict = (await run.tools.profile(service)).families.get(trouble.family)
        if verdict is None or not verdict.anomalous or verdict.onset is None or \
                verdict.onset > trouble.onset + 2 * run.tolerance:
            continue
        part = _growth(verdict)
        if whole is not None and part is not None and \
                part < run.thresholds.carrier_growth * whole:
            continue
        if node in await run.tools.placements(service):
            found.append(verdict)
    return max(found, key=lambda v: v.score, default=None)


# A share of a resource's capacity in use: CPU or disk utilisation (`node_cpu_utilisation`,
# `system.io.util`), or a disk's busy seconds per second (`node_disk_io_time_seconds_total`
# read as a rate; its `_weighted` sibling is a queue length, unbounded), whatever separates the
# words (`node-disk-io-time-seconds-total`, a recording rule's `instance:disk_util:ratio`).
_UTILISATION = re.compile(r"utili[sz]|(?:^|[_.:\-])util(?:$|[_.:\-])"
                          r"|io[_.\-]time(?![_.\-]weighted)")


def room_to_spare(run: Run, verdict: FamilyVerdict) -> bool:
    """Whether a node's trouble is a utilisation that never came near full: a disk half
    busy or a CPU at 47% slows nothing placed on it, however far it rose from its usual
    level (a batch job warming a node with cores to spare; a database's heavier reads
    showing on its node's disk). Full is 1 for a share, 100 for a percentage: a series that
    never exceeded 1 is read as a share, one that never exceeded 100 as a percentage, and
    anything else says nothing."""
    a = verdict.anomaly
    series = run.tools.view.series_of(verdict)
    if a is None or series is None or not _UTILISATION.search(verdict.metric.lower()):
        return False
    values = series.v[np.isfinite(series.v)]
    if values.size == 0:
        return False
    top = float(values.max())
    full = 1.0 if top <= 1.0 else 100.0 if top <= 100.0 else None
    return full is not None and a.peak < run.thresholds.node_headroom * full


def _as_high(other: FamilyVerdict, verdict: FamilyVerdict) -> bool:
    """Whether another node counted at least as many of the same network troubles (packets
    dropped, errors, retransmits) during the episode: its sustained peak, or its baseline (a
    node that always drops more). Not a utilisation's: a node gone from half busy to full is
    in trouble however busy the others always are."""
    a, b = other.anomaly, verdict.anomaly
    if other.metric != verdict.metric or not verdict.family.startswith("network") or \
            a is None or b is None or b.peak <= b.baseline:
        return False
    return max(a.peak, a.baseline) >= b.peak


def _growth(verdict: FamilyVerdict) -> float | None:
    """How far a use rose over its own baseline, relative to it (1: doubled); infinite from
    nothing (new work); None where it fell (a headroom, not a use) or is not known."""
    a = verdict.anomaly
    if a is None or not (math.isfinite(a.baseline) and math.isfinite(a.peak)) or \
            a.peak <= a.baseline:
        return None
    return a.peak / a.baseline - 1.0 if a.baseline > 0 else math.inf


def _step(run: Run, verdict: FamilyVerdict) -> float:
    """The sampling step of the series a verdict was read from (0 when unknown)."""
    series = run.tools.view.series_of(verdict)
    if series is None or series.t.size < 2:
        return 0.0
    return float(np.median(np.diff(series.t)))
