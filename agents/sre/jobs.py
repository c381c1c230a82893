"""Batch jobs as causes. A job that starts (a CronJob creating its Job, as Kubernetes reports
it) sends new work into the system: when a service it calls saturates or slows right after
it started, the job is the cause, however loud the service's own resource looks. Nothing in
the service's metrics names the job; the call graph (topology or traces) and the start time
do."""

from __future__ import annotations

import re

from agents.sre.candidates import Candidate
from agents.sre.catalogue import revealed
from agents.sre.report import Hypothesis
from agents.sre.run import DEGRADATION, RESOURCE_KINDS, Run
from agents.sre.search import reached_from
from agents.sre.verdicts import FamilyVerdict, hhmm, persistence
from integrations.telemetry.base import ChangeEvent

# Kubernetes' CronJob controller reports each run as "Created job <name>" (SuccessfulCreate);
# other schedulers say a job or batch "started".
_JOB_START = re.compile(r"\bcreated job\b|\b(?:job|batch)\b[^.]*\bstarted\b", re.IGNORECASE)


def job_start(event: ChangeEvent) -> bool:
    return event.kind in ("k8s", "other", "scale") and bool(_JOB_START.search(event.summary))


async def batch_jobs(run: Run, effect_onset: float | None, parent: Hypothesis) -> None:
    """A job started before the alert, and a service it calls that the walk reached began to
    degrade or saturate from then to `Thresholds.job_follow_s` after: the job's load is the
    cause (kind `traffic`) and the service's own trouble is explained by it, and so is the
    trouble of its callers that began after the job started. Not a job that had run before
    in the window, harmlessly: a schedule's routine run."""
    th = run.thresholds
    limit = (effect_onset if effect_onset is not None else run.ctx.fired_at_s) + run.tolerance
    starts = [event for event in await run.tools.changes() if job_start(event)]
    # The walk's reach: what it explored, and the dependencies it came to whether or not
    # they had a series to explore (a connection pooler with only its waiters and its CPU).
    reached = run.catalogued | {h.service for h in run.hypotheses if h.kind == "dependency"}
    for event in starts:
        if event.ts > limit:
            continue
        # A job that already ran in the window with nothing following (what it calls was
        # normal then: that is the baseline) is on a schedule: this run is routine too.
        if any(e.service == event.service and e.ts < event.ts - th.job_follow_s
               for e in starts):
            continue
        # What the job calls: the call graph's, and the calls its own lines reveal (a job's
        # pods are rarely in a topology, and its client spans reach no one that traces).
        revealed(run, event.service, await run.tools.error_logs(event.service))
        loaded: list[FamilyVerdict] = []
        for callee in sorted(run.graph.get(event.service, ())):
            if callee not in reached:  # off the alert's path: not what it felt
                continue
            profile = await run.tools.profile(callee)
            loaded += [v for f in (*RESOURCE_KINDS, *DEGRADATION)
                       if (v := profile.families.get(f)) is not None and v.anomalous
                       and v.onset is not None
                       and event.ts - run.tolerance <= v.onset <= event.ts + th.job_follow_s
                       and v.onset <= limit]
        if not loaded:
            continue
        strongest = max(loaded, key=lambda v: v.score)
        if run.judge(kind="traffic", role="local", cause=event, effect=strongest,
                     effect_onset=strongest.onset, effect_service=strongest.service,
                     effect_label=f"{strongest.service} {strongest.family}") is not None:
            continue
        hit = sorted({v.service for v in loaded})
        h = run.new(statement=f"the {event.service} job started at {hhmm(event.ts)} loaded "
                              f"{', '.join(hit)}, which then degraded",
                    kind="traffic", service=event.service, depth=1, parent=parent)
        h.evidence.append(run.tools.cite_event(event, (f"{strongest.service} "
                                                       f"{strongest.family}", strongest.onset)))
        h.evidence.append(run.tools.cite(strongest, effect=(run.ctx.effect, effect_onset)))
        h.status, h.score = "supported", max(8.0, strongest.score)
        run.candidates.append(Candidate(
            service=event.service, kind="traffic", score=h.score, onset=event.ts,
            evidence=list(h.evidence), hypothesis_id=h.id,
            corroboration=len([s for s in hit if s != run.ctx.service]),
            persistence=persistence(strongest)))
        # What it loaded degraded from then on, and so did whatever calls it and whatever it
        # passes the job's work on to (a pooler's database): trouble that began after the
        # job started is the job's doing too.
        below = set(hit).union(*(reached_from(run.graph, s) for s in hit))
        affected = below | {c for s in hit for c in run.callers.get(s, ())}
        affected.discard(event.service)
        for candidate in run.candidates:
            if candidate.service in affected and candidate.onset is not None and \
                    candidate.onset >= event.ts - run.tolerance:
                candidate.explained = True
