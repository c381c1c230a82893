"""Searching beyond one service's catalogue: where a traffic surge entered, every other
service when the call path found nothing decisive, and the weights of what was found
(corroboration by other degraded services, a leaf that is only a view of a sibling)."""

from __future__ import annotations

from agents.sre.candidates import Candidate, explains, fallback_kind
from agents.sre.nodes import room_to_spare
from agents.sre.report import Hypothesis
from agents.sre.rules.magnitude import gain
from agents.sre.rules.thresholds import Thresholds
from agents.sre.rules.timing import bulk
from agents.sre.run import CHANGE_KINDS, DEGRADATION, RESOURCE_KINDS, Run, event_cause
from agents.sre.stats import squash, step_score
from agents.sre.verdicts import FamilyVerdict, LogVerdict, persistence


async def traffic_origin(run: Run, service: str, verdict: FamilyVerdict, depth: int,
                         parent: Hypothesis, effect_time: float) -> str:
    """Follow a traffic surge up the callers to where it entered the system (a caller that
    was already sending that much before the damage began is not where it did)."""
    current, current_onset, current_verdict = service, verdict.onset, verdict
    seen = {service}
    passed_on: Candidate | None = None  # the last hop, until the surge is traced above it
    view = run.tools.view
    while True:
        upstream: tuple[str, FamilyVerdict] | None = None
        for caller in sorted(run.callers.get(current, ())):
            if caller in seen:  # only the path walked so far: a caller passed over at one
                continue        # hop may still be where the surge entered the next
            profile = await run.tools.profile(caller)
            v = profile.families.get("throughput")
            if v is None:
                continue
            if not v.anomalous or v.anomaly is None or v.anomaly.peak <= v.anomaly.baseline:
                step = view.step_surge(v, current_onset, run.lag,
                                       gain=run.thresholds.step_gain)
                if step is None:
                    continue
                v = step
            if v.anomaly is None:
                continue
            if run.judge(kind="traffic", role="origin", cause=v, effect=current_verdict,
                         effect_onset=current_onset, effect_service=current,
                         effect_label=f"{current} traffic", damage_at=effect_time) is not None:
                continue
            if upstream is None or v.score > upstream[1].score:
                upstream = (caller, v)
        if upstream is None:
            break
        caller, v = upstream
        seen.add(caller)
        h = run.new(statement=f"the traffic surge entered at {caller}, upstream of {current}",
                    kind="traffic", service=caller, depth=depth, parent=parent)
        h.evidence.append(run.tools.cite(v, effect=(f"{current} traffic", current_onset)))
        h.status, h.score = "supported", v.score
        if passed_on is not None:
            passed_on.explained = True  # it only passed on what entered above it
        passed_on = Candidate(service=caller, kind="traffic", score=v.score, onset=v.onset,
                              evidence=list(h.evidence), hypothesis_id=h.id, depth=depth)
        run.candidates.append(passed_on)
        current, current_onset, current_verdict = caller, v.onset, v
    return current


async def missed_by(run: Run, service: str, surge: FamilyVerdict, depth: int,
                    parent: Hypothesis, *, steady_callers: bool = False) -> str | None:
    """A surge that entered at `service` with no caller sending more: the cache its callers
    read through before it, when that cache's misses rose with it (a cache flushed, evicting
    or restarted sends every read it no longer answers to the store behind it: a stampede).
    `steady_callers`: `surge` is a saturation standing in for a load the service does not
    export, so that no caller sent more is checked here: the misses must outgrow the
    caller's own requests (its retries may follow the failures, at a fraction of the rise).
    Returns the cache's name, with a candidate for it, or None."""
    if surge.onset is None:
        return None
    found: tuple[str, str, FamilyVerdict] | None = None
    for caller in sorted(run.callers.get(service, ())):
        asked = (await run.tools.profile(caller)).families.get("throughput") \
            if steady_callers else None
        more = gain(asked) if asked is not None and asked.anomalous else 0.0
        for sibling in sorted(run.graph.get(caller, set()) - {service}):
            profile = await run.tools.profile(sibling)
            for v in profile.metrics.values():
                if not _misses(v.metric) or not v.anomalous or v.anomaly is None or \
                        v.anomaly.peak <= v.anomaly.baseline or v.onset is None or \
                        v.onset > surge.onset + run.tolerance or \
                        gain(v) < run.thresholds.carries * gain(surge) or \
                        more >= run.thresholds.carries * gain(v):
                    continue  # misses that merely rose with the reads carry no surge
                if found is None or v.score > found[2].score:
                    found = (caller, sibling, v)
    if found is None:
        return None
    caller, cache, v = found
    h = run.new(statement=f"misses at {cache} sent {caller}'s reads on to {service}",
                kind="traffic", service=cache, depth=depth, parent=parent)
    h.evidence.append(run.tools.cite(v, effect=(f"{service} traffic", surge.onset)))
    h.status, h.score = "supported", v.score
    memory = (await run.tools.profile(cache)).families.get("memory")
    kind = "memory" if memory is not None and memory.anomalous else "dependency"
    run.candidates.append(Candidate(service=cache, kind=kind, score=v.score, onset=v.onset,
                                    evidence=list(h.evidence), hypothesis_id=h.id,
                                    depth=depth))
    return cache


def _misses(metric: str) -> bool:
    words = metric.lower().replace(".", "_").replace("-", "_").split("_")
    return "miss" in words or "misses" in words


async def residual_leads(run: Run, services: list[str]) -> None:
    """Nothing stood out anywhere (no hypothesis survived, nothing off the path passed the
    search's bar): the services whose signals moved most since the split, up or down as
    each family reads, are listed as leads, loudest first, for the run to abstain with. An
    empty answer tells a responder nothing; where to look first still does."""
    for service in services:
        if service == run.ctx.service:  # where the alert fired: the symptom, not a lead
            continue
        profile = await run.tools.profile(service)
        moved = [v for f in (*DEGRADATION, *RESOURCE_KINDS, "throughput")
                 if (v := profile.families.get(f)) is not None and v.anomaly is not None
                 and v.score > 0]
        if not moved:
            continue
        best = max(moved, key=lambda v: v.score)
        kind = best.family if best.family in RESOURCE_KINDS else fallback_kind(best.family)
        run.candidates.append(Candidate(
            service=service, kind=kind, score=best.score, onset=best.onset,
            evidence=[run.tools.cite(best)], reachable=False, fallback=True, residual=True,
            persistence=persistence(best)))


async def failing_in_logs(run: Run) -> LogVerdict | None:
    """The alerting service's own error logs, when they say it is failing although its alert
    statistic looks normal: a new pattern surging no later than the alert (an error-only
    fault behind a latency alert, on a service that exports no error metric). Whatever the
    lines blame, the alert is then not noise."""
    logs = await run.tools.error_logs(run.ctx.service)
    if logs is None or not logs.new_templates or logs.onset is None or \
            logs.score < run.thresholds.log_surge or \
            logs.onset > run.ctx.fired_at_s + run.tolerance or lines_stopped(run, logs):
        return None
    return logs


def lines_stopped(run: Run, logs: LogVerdict) -> bool:
    """The surge's lines stopped well before the data ends: silent for the longer of the time
    a metric must stay normal to have recovered and three of the surge's own gaps between
    lines (a sparse pattern pauses without being over)."""
    if logs.last is None:
        return False
    quiet = run.tools.window.end_s - logs.last
    return quiet >= max(run.thresholds.recovered_s, 3 * logs.gap)


async def widen(run: Run, services: list[str], effect_onset: float | None, *,
                beyond_decisive: bool = False) -> None:
    """Look at every service the walk did not, with a penalty for where it sits.

    With nothing decisive on the call path, a service downstream of the alert that degraded
    with it, as strongly, explains the alerting service better than "degraded with no
    visible cause" does, even when a noisy service between them could not confirm the
    link. `beyond_decisive`: the walk found a decisive cause, which may be a victim (a
    noisy neighbour's: its CPU throttled, its latency up). What is found then competes with
    it and explains nothing away; and the alert's callers are left out, known to reach it
    only through the requests they send (which the traffic rules judge): a caller's own
    deploy or CPU, off the path, is not a cause of its callee's trouble."""
    await run.progress("widening the search beyond the call graph")
    downstream = reached_from(run.graph, run.ctx.service)
    upstream = reached_from(run.callers, run.ctx.service)
    symptom = (await run.tools.profile(run.ctx.service)).degradation(DEGRADATION,
                                                                      run.ctx.metric)
    effect = run.ctx.effect
    loud = None if symptom is not None and symptom.anomalous else await failing_in_logs(run)
    # The alerting service looks normal on every degradation signal and its own lines say
    # nothing: when the episode began is unknown (`unknown_links` below, `quiet`).
    quiet = (symptom is None or not symptom.anomalous) and loud is None
    th = run.thresholds
    reference = run.tools.data_start + th.split_floor_share * max(
        run.ctx.fired_at_s - run.tools.data_start, 0.0)
    added: list[Candidate] = []
    for service in services:
        # A callee refuted as a dependency (its latency did not move) had its catalogue
        # left unread: its own resources may still be what hurt a service beside it.
        if service in run.catalogued or service == run.ctx.service or \
                (beyond_decisive and service in upstream):
            continue
        run.visited.add(service)
        profile = await run.tools.profile(service)
        own = _own_resource(run, profile.best(*RESOURCE_KINDS), profile.best(*DEGRADATION))
        # Its own resource, before its own degradation, is that degradation's cause; else the
        # strongest of its signals that stands (a CPU that rose after the alert must not hide
        # the latency that rose before it).
        signals = sorted((v for f in (*DEGRADATION, *RESOURCE_KINDS)
                          if (v := profile.families.get(f)) is not None and v is not own),
                         key=lambda v: -v.score)
        best = next((v for v in ([own] if own is not None else []) + signals
                     if run.judge(kind=v.family, role="widened", cause=v, effect=symptom,
                                  effect_onset=effect_onset, effect_service=run.ctx.service,
                                  effect_label=effect) is None), None)
        if best is not None:
            evidence = run.tools.cite(best, effect=(effect, effect_onset))
            kind = best.family if best.family in RESOURCE_KINDS else fallback_kind(best.family)
            degraded = profile.best(*DEGRADATION)
            score = best.score
            if best is own and degraded is not None and degraded.anomalous:
                # As strong as the degradation it caused (a saturated CPU at z=20 behind a
                # latency at z=70), as a local explanation is on the path.
                score = max(score, degraded.score)
            added.append(Candidate(
                service=service, kind=kind, score=score, onset=best.onset,
                evidence=[evidence], reachable=False, connected=service in downstream,
                fallback=best.family in DEGRADATION, persistence=persistence(best)))
            run.candidates.append(added[-1])
        # A deploy or config change of the service before its own degradation: the
        # catalogue's change test, read off the path.
        degraded = profile.degradation(DEGRADATION, run.ctx.metric)
        if degraded is not None and degraded.anomalous:
            for event in await run.tools.changes():
                change = event_cause(event)
                if change is None or event.service != service:
                    continue
                label = f"{service} {degraded.family}"
                if run.judge(kind=change, role="widened", cause=event, effect=degraded,
                             effect_onset=degraded.onset, effect_service=service,
                             effect_label=label) is not None or run.judge(
                        kind=change, role="widened", cause=event, effect=symptom,
                        effect_onset=effect_onset, effect_service=run.ctx.service,
                        effect_label=effect) is not None:
                    continue
                added.append(Candidate(
                    service=service, kind=change, score=max(8.0, degraded.score),
                    onset=event.ts, evidence=[run.tools.cite_event(event, (label,
                                                                          degraded.onset))],
                    reachable=False, connected=service in downstream,
                    persistence=persistence(degraded), degraded_at=degraded.onset))
                run.candidates.append(added[-1])
        # A service seen in its logs alone (or whose metrics say nothing): a new error
        # pattern that surged before the alert is a code fault somewhere off the path.
        logs = await run.tools.error_logs(service)
        if quiet and (logs is None or not logs.new_templates):
            # Behind a quiet alert, a pattern first written anywhere after the reference
            # part of the data is new: the split, a margin before the alert, may fall long
            # after a fault that has been failing a share of requests since.
            logs = await run.tools.new_pattern(service, after=reference,
                                               until=run.ctx.fired_at_s,
                                               min_lines=int(th.log_onset_lines))
        if logs is not None and logs.new_templates and run.judge(
                kind="code_error", role="widened", cause=logs, effect=symptom,
                effect_onset=effect_onset, effect_service=run.ctx.service,
                effect_label=effect) is None:
            added.append(Candidate(
                service=service, kind="network_loss" if logs.name_lookups else "code_error",
                score=logs.score, onset=logs.onset, evidence=[logs.evidence_id],
                reachable=False, connected=service in downstream,
                name_lookups=logs.name_lookups))
            run.candidates.append(added[-1])
    if not any(run.graph.values()):
        await inherited(run)
    if symptom is not None and symptom.anomalous and \
            persistence(symptom) >= run.thresholds.transient:
        # The alert's own statistic may not have moved while the service degraded on a
        # sibling signal (errors behind a latency alert): its onset is then the effect's.
        await unknown_links(run, added, effect_onset if effect_onset is not None
                            else symptom.onset, explain=not beyond_decisive)
    elif loud is not None:
        await unknown_links(run, added, effect_onset if effect_onset is not None
                            else loud.onset, explain=not beyond_decisive)
    elif symptom is None or not symptom.anomalous:
        # The alerting service looks normal on every degradation signal (an alert raised on
        # a fixed threshold, or on an entry service that barely felt a fault elsewhere):
        # a plain ranking of every service's own anomaly is then all the evidence there is.
        # Only a very strong, lasting anomaly that began before the alert is reported; a
        # blip at the alert (anomalous, not lasting) still abstains.
        await unknown_links(run, added, run.ctx.fired_at_s, quiet=True,
                            explain=not beyond_decisive)
    if not any(run.graph.values()):
        precedence(run)
    below = [(c.onset, c.score) for c in run.candidates if c.connected and c.onset is not None]
    for candidate in run.candidates if not beyond_decisive else ():
        if candidate.service == run.ctx.service and candidate.fallback and explains(
                below, bulk(run.tools.view, candidate.onset, symptom), candidate.score,
                run.thresholds):
            candidate.explained = True


def reached_from(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every service reached from `start` along `edges` (callees or callers), directly or
    through others."""
    seen: set[str] = set()
    frontier = [start]
    while frontier:
        for neighbour in edges.get(frontier.pop(), ()):
            if neighbour not in seen:
                seen.add(neighbour)
                frontier.append(neighbour)
    return seen


def began(c: Candidate) -> float | None:
    """When a candidate's trouble began: its service's degradation, for a change found off
    the path (the deploy itself may be long before), else its own onset."""
    return c.degraded_at if c.degraded_at is not None else c.onset


def settled(c: Candidate, th: Thresholds) -> bool:
    """A change whose service ran clean for a while after it before degrading."""
    return c.degraded_at is not None and c.onset is not None and \
        c.degraded_at - c.onset > th.change_settled_s


def precedence(run: Run) -> None:
    """No call graph at all (no topology, no traces linking services): who hurt whom can only
    be read from time. A service degraded with no cause of its own, or whose degradation
    follows a change of its own, is more likely a victim than a cause when another
    candidate's trouble began a full sample (the lag) before its degradation and is as
    strong: a caller's routine deploy does not explain the failure it inherited below."""
    th = run.thresholds
    for candidate in run.candidates:
        start = began(candidate)
        if not (candidate.fallback or candidate.kind in CHANGE_KINDS.values()) or \
                candidate.explained or start is None:
            continue
        for other in run.candidates:
            if other is candidate or other.service == candidate.service:
                continue
            at = began(other)
            if at is None or at > start - run.lag:
                continue
            if squash(other.score) >= th.explains * squash(candidate.score):
                candidate.explained = True
                break


async def inherited(run: Run) -> None:
    """No call graph, and several services degraded together with no resource cause of their
    own: who called whom can still be read from how much each degraded. Latency adds up
    along a call chain and only fades going up it (a caller waits on part of its callee's
    added time, at most all of it per call), and so does an error ratio (a caller fails a
    share of what its callee failed, unless it retries it away). Of two such services whose
    trouble began within a sample of each other, one that rose by less on every statistic
    they share is likely a caller inheriting the other's trouble, not where it began; a
    change of its own does not explain what it inherited."""
    th = run.thresholds
    rises: dict[str, dict[str, tuple[str, float]]] = {}
    eligible: list[Candidate] = []
    for candidate in run.candidates:
        if not (candidate.fallback or candidate.kind in CHANGE_KINDS.values()) or \
                candidate.explained or began(candidate) is None or \
                candidate.service == run.ctx.service:  # the alert is the effect, not a cause
            continue
        eligible.append(candidate)
        if candidate.service in rises:
            continue
        profile = await run.tools.profile(candidate.service)
        rises[candidate.service] = {}
        for family in ("latency", "errors"):
            verdict = profile.metrics.get(run.ctx.metric) if run.ctx.metric else None
            if verdict is None or verdict.family != family:
                verdict = profile.families.get(family)
            if verdict is not None and verdict.anomalous and verdict.anomaly is not None:
                rises[candidate.service][family] = (
                    verdict.metric, verdict.anomaly.peak - verdict.anomaly.baseline)
    for candidate in eligible:
        start, mine = began(candidate), rises[candidate.service]
        for other in eligible:
            at, theirs = began(other), rises[other.service]
            if other.service == candidate.service or start is None or at is None or \
                    at > start + run.lag:
                continue
            shared = [f for f in mine if f in theirs and mine[f][0] == theirs[f][0]]
            if shared and all(theirs[f][1] > max(mine[f][1], 0.0) for f in shared) and \
                    squash(other.score) >= th.explains * squash(candidate.score):
                candidate.explained = True
                break


def _own_resource(run: Run, resource: FamilyVerdict | None,
                  degraded: FamilyVerdict | None) -> FamilyVerdict | None:
    """A widened service's saturated resource that began no later than its own degradation
    (within the tolerance): the catalogue's local explanation, read off the path."""
    if resource is None or not resource.anomalous or resource.onset is None:
        return None
    if degraded is not None and degraded.anomalous and degraded.onset is not None and \
            resource.onset > degraded.onset + run.tolerance:
        return None
    return resource


async def _clean_step(run: Run, candidate: Candidate) -> bool:
    """For a quiet alert, the bar a cause off the graph must clear: a resource (or a metric
    of no known family) of its own, strong against its own baseline, whose series steps
    cleanly to a new level as BARO scores it (a slow leak all window long does not)."""
    th = run.thresholds
    if candidate.fallback or candidate.anomaly(th) < th.quiet_alert_strength:
        return False
    verdict = (await run.tools.profile(candidate.service)).families.get(candidate.kind)
    if verdict is None or verdict.series is None:
        return False
    return step_score(verdict.series.v) >= th.quiet_step


async def unknown_links(run: Run, found: list[Candidate], effect_onset: float | None, *,
                        quiet: bool = False, explain: bool = True) -> None:
    """Causes off the call graph: a service whose anomaly began before the alert's and lasts
    (a noisy neighbour, a hog the topology does not connect to the alert) is a cause whose
    connection is unknown, weighed below a path but not dropped. A resource qualifies; a
    degradation only when the alerting service has no known call graph at all. When the
    telemetry places it on the same node as a degraded service of the path, that is the
    connection; on different nodes, it is not promoted. Either way, unless `explain` is
    off, it explains away the "degraded with no visible cause" it preceded, on the path or
    downstream of the alert through services that did not confirm it."""
    th = run.thresholds
    if effect_onset is None:
        return
    isolated = not run.graph.get(run.ctx.service)  # nothing known below the alert to walk
    # Services the call graph knows at all: one it never mentions (not traced, no topology
    # entry) may be a dependency the graph missed, so its placement cannot rule it out.
    charted = set(run.graph) | {c for callees in run.graph.values() for c in callees}
    path = [c for c in run.candidates if (c.reachable or c.connected) and c.fallback]
    places = {c.service: await run.tools.placements(c.service) for c in path[:5]}
    # Who went first, among those strong enough to matter: a resource or an error pattern
    # before a degradation (which is more often a victim), then the earlier onset (to the
    # sample), then a change that did harm at once before one that had run clean for a
    # while (`change_settled_s`: what began with the damage explains that better), then the
    # stronger anomaly. Only the best is promoted.
    step = max(run.lag, 1.0)
    ranked = sorted(found, key=lambda c: (c.fallback, round((began(c) or 0.0) / step),
                                          settled(c, th), -c.strength(th)))
    for candidate in ranked:
        if candidate.onset is None or candidate.onset > effect_onset + run.tolerance or \
                candidate.persistence < th.persistent or \
                candidate.strength(th) / th.off_path_factor < th.abstain_strength:
            continue
        # A change whose service ran clean for a while before degrading is judged at that
        # degradation (`settled`): off the path it is that degradation, and is promoted only
        # where a degradation is, when the alert has no call graph below it.
        if (candidate.fallback or settled(candidate, th)) and not isolated:
            continue
        # A service off the call graph hurts others only through what it shares with them:
        # CPU or disk used on nodes that all kept room to spare of it harmed no one there
        # (a batch job busy on a node with idle cores).
        if not candidate.connected and candidate.kind in ("cpu", "disk") and \
                await _room_beside(run, candidate):
            continue
        # A host's network counters (retransmits, drops) rise whenever any pod on it loses
        # packets. Outside a call graph that charts the services (a host is in none), and
        # with nothing saying where the path's services run, such a rise that began with a
        # path service failing for no visible reason of its own is as much a view of that
        # failure as its cause: it is not promoted over it.
        if candidate.kind in ("network_loss", "network_delay") and charted and \
                candidate.service not in charted and not any(places.values()) and any(
                    v.onset is not None and abs(v.onset - candidate.onset) <= run.tolerance
                    for v in path):
            continue
        if quiet:
            if not await _clean_step(run, candidate):
                continue
            candidate.quiet_pick = True
        shared: set[str] = set()
        if not candidate.connected:  # downstream of the alert: connected, if unconfirmed
            mine = await run.tools.placements(candidate.service)
            shared = {s for s, nodes in places.items() if mine & nodes}
            if mine and places and not shared and candidate.service in charted and \
                    all(places.values()):
                continue  # placed elsewhere than every degraded service of the path
            candidate.unknown_link = True
            if shared:
                # The node it shares with them: one all of them run on if there is one,
                # else any they run on (the first by name, for a stable answer).
                theirs = [places[s] for s in shared]
                candidate.node = min(mine.intersection(*theirs) or mine & set().union(*theirs))
            else:
                candidate.node = None
        for victim in path if explain else ():
            # A change that ran clean for a while before its own service degraded is a
            # bystander's routine deploy (`_judged_at`): it explains no one's degradation.
            if victim.explained or settled(candidate, th) or (
                    victim.onset is not None and candidate.onset > victim.onset + run.tolerance):
                continue
            # One its callers' error lines name is where their calls fail: only a node it
            # is known to share explains that away, not a strength with no connection.
            if victim.service in shared or (not victim.named_by and candidate.anomaly(th)
                                            >= th.unknown_link_explains * victim.anomaly(th)):
                victim.explained = True
        return


async def _room_beside(run: Run, candidate: Candidate) -> bool:
    """Whether the resource the candidate used kept room to spare (`nodes.room_to_spare`)
    wherever it was used: on itself, a node whose own utilisation stayed short of full, or
    on every node the telemetry places it on; False when that is not known."""
    own = (await run.tools.profile(candidate.service)).families.get(candidate.kind)
    if own is not None and room_to_spare(run, own):
        return True
    nodes = await run.tools.placements(candidate.service)
    if not nodes:
        return False
    for node in nodes:
        verdict = (await run.tools.profile(node)).families.get(candidate.kind)
        if verdict is None or not room_to_spare(run, verdict):
            return False
    return True


def bystanders(run: Run) -> None:
    """A change that ran clean for a while before its service degraded (`settled`), when
    another service's trouble, as strong and with a connection to the alert, had begun by
    the time that degradation did, is a bystander's routine deploy: what began by then
    explains its service's trouble better, in another branch of the call graph as in a
    deeper one (`_judged_at`). Only when that degradation began inside the episode (after
    the split): one read before it was read against a baseline that already held trouble,
    and when it began is not known well enough to call the change clean before it."""
    th = run.thresholds
    for change in run.candidates:
        if change.explained or not settled(change, th) or change.degraded_at is None or \
                change.degraded_at < run.tools.split:
            continue
        if any(other.service != change.service and not other.explained
               and (other.reachable or other.connected or other.unknown_link)
               and not settled(other, th) and other.onset is not None
               and (began(other) or other.onset) <= change.degraded_at + run.tolerance
               and other.anomaly(th) >= th.explains * change.anomaly(th)
               for other in run.candidates):
            change.explained = True


async def corroborate(run: Run) -> None:
    """Count, for each candidate, the other degraded services it would also explain. A
    failing service shows in every caller, even those the alert never named; a second view
    of the same failure (a load balancer seen from one client) does not."""
    degraded: dict[str, bool] = {}

    async def is_degraded(service: str) -> bool:
        if service not in degraded:
            verdict = (await run.tools.profile(service)).degradation(
                DEGRADATION, run.ctx.metric)
            degraded[service] = verdict is not None and verdict.anomalous
        return degraded[service]

    reach: dict[tuple[str, bool], int] = {}
    for candidate in run.candidates:
        # A surge of traffic spreads down to the callees, a failure up to the callers.
        down = candidate.kind == "traffic"
        edges = run.graph if down else run.callers
        key = (candidate.service, down)
        if key not in reach:
            seen, frontier = {candidate.service}, [candidate.service]
            while frontier:
                for neighbour in sorted(edges.get(frontier.pop(), ())):
                    if neighbour not in seen and await is_degraded(neighbour):
                        seen.add(neighbour)
                        frontier.append(neighbour)
            reach[key] = len(seen - {candidate.service, run.ctx.service})
        candidate.corroboration = reach[key]


async def twins(run: Run) -> None:
    """Mark a leaf that fails in lockstep with a sibling service as a likely second view of
    it. Service maps often hold both a service and its callers' client-side view of it (a
    load balancer, a remote endpoint) with no edge between them; the view is a leaf, the
    service has dependencies of its own, examined. Where they explain the service, they
    explain its view too."""
    services = [c for c in run.candidates
                if c.fallback and c.kind == "dependency" and c.reachable]
    for leaf in [c for c in services if not c.explained]:
        if run.graph.get(leaf.service):
            continue
        for other in services:
            if other.service == leaf.service or not run.graph.get(other.service):
                continue
            if not run.callers.get(leaf.service, set()) & run.callers.get(other.service, set()):
                continue
            if leaf.onset is None or other.onset is None or \
                    abs(leaf.onset - other.onset) > run.lag:
                continue
            a = (await run.tools.profile(leaf.service)).degradation(DEGRADATION, run.ctx.metric)
            b = (await run.tools.profile(other.service)).degradation(DEGRADATION,
                                                                   run.ctx.metric)
            if a is None or b is None:
                continue
            link = run.tools.view.co_movement(a, b)
            if link is not None and link >= run.thresholds.twin_correlation:
                leaf.twin_of = other.service
                leaf.explained = other.explained
                break
