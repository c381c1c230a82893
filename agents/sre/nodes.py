"""Nodes as causes. A node or host whose own telemetry went wrong (a NIC dropping packets, a
disk saturated, memory exhausted) hurts every pod placed on it, whatever workload it
belongs to: the degraded services share the node, not a call path. Where the telemetry says
where pods run (their lines' `node`, `host`, `k8s.node.name` ... attributes) and the node
exports its own series, that is read here."""

from __future__ import annotations

import numpy as np

from agents.sre.candidates import Candidate
from agents.sre.report import Hypothesis
from agents.sre.run import DEGRADATION, RESOURCE_KINDS, Run
from agents.sre.stats import squash
from agents.sre.verdicts import FamilyVerdict, persistence


async def node_faults(run: Run, services: list[str], effect_onset: float | None,
                      parent: Hypothesis) -> None:
    """A node whose own resource went wrong before the alert, alone among the nodes (no other
    at `Thresholds.node_alone` of its strength or more), is the
    cause of the degraded services placed on it that began to degrade with it (from a
    sample before it to `Thresholds.node_follow_s` after), when there are at least
    `Thresholds.node_victims` of them and its anomaly is as strong as theirs: they are
    explained by it, and it is corroborated by each. Not when a workload on the node shows
    the same resource rising no later than the node does: the node only carries that pod's
    load (a batch job's CPU, a database's disk reads), and the pod is the cause."""
    th = run.thresholds
    limit = (effect_onset if effect_onset is not None else run.ctx.fired_at_s) + run.tolerance
    degraded: dict[str, FamilyVerdict] = {}  # each service's first degradation before it
    for service in services:
        profile = await run.tools.profile(service)
        first = [v for f in DEGRADATION if (v := profile.families.get(f)) is not None
                 and v.anomalous and v.onset is not None and v.onset <= limit]
        if first:
            degraded[service] = min(first, key=lambda v: (v.onset, -v.score))
    # Placement is read for the degraded services only: one log query each.
    hosted: dict[str, set[str]] = {}
    for service in sorted(degraded):
        for node in await run.tools.placements(service):
            if node != service:
                hosted.setdefault(node, set()).add(service)
    faults: dict[str, FamilyVerdict] = {}
    for node in hosted:
        own = (await run.tools.profile(node)).best(*RESOURCE_KINDS)
        if own is not None and own.anomalous and own.onset is not None and \
                own.onset <= limit and persistence(own) >= th.persistent:
            faults[node] = own
    for node, own in sorted(faults.items()):
        # The fault follows one node: the same trouble on other nodes at once, half as
        # strong or more, is the whole cluster's load (every node's network busier with the
        # traffic), not this node's.
        if any(n != node and v.family == own.family and v.score >= th.node_alone * own.score
               for n, v in faults.items()):
            continue
        assert own.onset is not None
        # Onsets a sample apart are one moment, and a node is often scraped more slowly
        # than the services on it.
        slack = max(run.lag, _step(run, own))
        victims = sorted(
            s for s in hosted[node]
            if own.onset - slack <= (degraded[s].onset or 0.0) <= own.onset + th.node_follow_s
            and squash(own.score) >= th.explains * squash(degraded[s].score))
        if len(victims) < th.node_victims or \
                await _carried(run, services, node, own.family, own.onset):
            continue
        await run.progress(f"{node} hosts {len(victims)} degraded services")
        h = run.new(statement=f"a {own.family.replace('_', ' ')} fault of node {node} "
                              f"degraded the services it hosts ({', '.join(victims)})",
                    kind=own.family, service=node, depth=1, parent=parent)
        h.evidence.append(run.tools.cite(own, effect=(run.ctx.effect, effect_onset)))
        h.status, h.score = "supported", own.score
        run.candidates.append(Candidate(
            service=node, kind=own.family, score=own.score, onset=own.onset,
            evidence=list(h.evidence), hypothesis_id=h.id, reachable=False,
            unknown_link=True, node=node,
            corroboration=len([s for s in victims if s != run.ctx.service]),
            persistence=persistence(own)))
        for candidate in run.candidates:
            if candidate.service in victims and (candidate.onset is None or
                                                 candidate.onset >= own.onset - slack):
                candidate.explained = True


async def _carried(run: Run, services: list[str], node: str, family: str,
                   onset: float) -> bool:
    """Does a workload on the node show the node's resource rising no later than the node?"""
    for service in services:
        if service == node:
            continue
        verdict = (await run.tools.profile(service)).families.get(family)
        if verdict is not None and verdict.anomalous and verdict.onset is not None and \
                verdict.onset <= onset + run.lag and node in await run.tools.placements(service):
            return True
    return False


def _step(run: Run, verdict: FamilyVerdict) -> float:
    """The sampling step of the series a verdict was read from (0 when unknown)."""
    series = run.tools.view.series_of(verdict)
    if series is None or series.t.size < 2:
        return 0.0
    return float(np.median(np.diff(series.t)))
