"""The catalogue at one service, and the walk down its dependencies.

At each service the investigator tests resource saturation, payloads, a traffic surge (then
followed upstream to where it entered), a recent change, a new or surging error pattern, and
every callee's degradation; a supported callee recurses with the same catalogue. Every test
builds a `Link` and is judged by the same rules (`agents.sre.rules`).
"""

from __future__ import annotations

from agents.sre.candidates import Candidate, Explanation, candidate_at, fallback_kind
from agents.sre.report import Hypothesis
from agents.sre.rules.magnitude import covers, gain
from agents.sre.rules.timing import bulk, when
from agents.sre.run import (
    CHANGE_KINDS,
    DEGRADATION,
    RESOURCE_KINDS,
    Run,
    event_cause,
    event_name,
)
from agents.sre.search import missed_by, settled, traffic_origin
from agents.sre.traces import SpanVerdict
from agents.sre.verdicts import FamilyVerdict, LogVerdict, hhmm, persistence


def statement(kind: str, service: str, effect: str) -> str:
    return {
        "cpu": f"CPU saturation of {service} caused {effect}",
        "memory": f"memory pressure in {service} caused {effect}",
        "disk": f"disk saturation of {service} caused {effect}",
        "network_delay": f"network delay at {service} caused {effect}",
        "network_loss": f"packet loss at {service} caused {effect}",
        "payload": f"abnormally large payloads reaching {service} caused {effect}",
        "traffic": f"a traffic surge at {service} caused {effect}",
    }.get(kind, f"{kind} at {service} caused {effect}")


def _traffic_share(run: Run, verdict: FamilyVerdict, damage_at: float,
                   surge_above: FamilyVerdict | None) -> tuple[FamilyVerdict, bool]:
    """The traffic verdict to judge at a service, and whether it is a share of a surge found
    upstream. Requests below (or within) a baseline recorded at a higher load can still have
    doubled when the damage arrived; and a share of a surge already found upstream need only
    stand out from this service's own noise, not be a surge in its own right (a bottleneck
    slows under a fraction more load)."""
    step_gain = run.thresholds.step_gain
    surged = verdict.anomalous and verdict.anomaly is not None and \
        verdict.anomaly.peak > verdict.anomaly.baseline
    share = False
    if not surged:
        view = run.tools.view
        step = view.step_surge(verdict, damage_at, run.lag, gain=step_gain)
        if step is None and surge_above is not None:
            step = view.step_surge(verdict, damage_at, run.lag, gain=step_gain,
                                   min_score=run.thresholds.onset_z)
            if step is not None and gain(step) < 0.5 * gain(surge_above):
                step = None
            share = step is not None
        verdict = step or verdict
        surged = (verdict.anomalous and bool(verdict.basis)) or share
    if surged and surge_above is not None:
        share = gain(verdict) >= 0.5 * gain(surge_above)
    return verdict, share


async def explore(run: Run, service: str, effect: str, effect_onset: float | None, *,
                  depth: int, parent: Hypothesis, path: list[str],
                  effect_verdict: FamilyVerdict | None = None, coupling: float = 1.0,
                  surge_above: FamilyVerdict | None = None) -> list[tuple[float, float]]:
    """Test explanations of `effect` at `service`.

    `surge_above` is a traffic surge found to explain a caller on the way here.
    Returns every cause found at or below `service` as (onset, score).
    """
    await run.progress(f"explaining {effect}")
    run.catalogued.add(service)
    profile = await run.tools.profile(service)
    local: list[Explanation] = []
    traffic_from_upstream: float | None = None  # when a surge from upstream arrived here
    surge_here: FamilyVerdict | None = None
    saturated: list[tuple[FamilyVerdict, Hypothesis]] = []  # its resources found supported
    view = run.tools.view

    damage_at = when(view, effect_onset, run.ctx.fired_at_s, effect_verdict)
    for family in (*RESOURCE_KINDS, "throughput"):
        verdict = profile.families.get(family)
        if verdict is None:
            continue
        kind = "traffic" if family == "throughput" else family
        share = False
        if kind == "traffic":
            verdict, share = _traffic_share(run, verdict, damage_at, surge_above)
        h = run.new(statement=statement(kind, service, effect), kind=kind,
                    service=service, depth=depth, parent=parent)
        h.evidence.append(run.tools.cite(verdict, effect=(effect, effect_onset)))
        h.score = verdict.score
        refuted = run.judge(kind=kind, role="local", cause=verdict, effect=effect_verdict,
                            effect_onset=effect_onset, effect_service=service,
                            effect_label=effect, damage_at=damage_at,
                            upstream_surge=surge_above, share=share)
        if refuted is not None:
            h.status, h.reason = "refuted", refuted.reason
            continue
        h.status = "supported"
        if kind != "traffic":
            saturated.append((verdict, h))
        else:
            surge_here = surge_above if share else verdict
            origin = await traffic_origin(run, service, verdict, depth, h, damage_at)
            if origin == service and not share:
                origin = await missed_by(run, service, verdict, depth, h) or service
            if origin != service:
                traffic_from_upstream = verdict.onset if verdict.onset is not None \
                    else damage_at
                continue
        local.append(Explanation(kind, verdict.score, verdict.onset, h.evidence,
                                 persistence(verdict)))
    if saturated and "throughput" not in profile.families:
        # A store that exports no request rate (a MySQL or pgbouncer exporter's CPU, latency
        # and slow queries): its saturation stands in for its load, and what missed_by asks
        # of a surge holds of it too. Its callers sent no more requests, yet a cache they
        # read first missed more, from no later: the reads it stopped answering are that load.
        first, h = min(saturated, key=lambda p: p[0].onset if p[0].onset is not None
                       else float("inf"))
        if await missed_by(run, service, first, depth, h, steady_callers=True) is not None:
            traffic_from_upstream = first.onset if first.onset is not None else damage_at

    for event in await run.tools.changes():
        change = event_cause(event)
        if change is None or event.service != service:
            continue
        if run.judge(kind=change, role="local", cause=event, effect=effect_verdict,
                     effect_onset=effect_onset, effect_service=service,
                     effect_label=effect) is not None:
            continue  # outside the window a change can explain: not even a hypothesis
        h = run.new(statement=f"the {event_name(event)} of {service} at {hhmm(event.ts)} "
                              f"caused {effect}",
                    kind=change, service=service, depth=depth, parent=parent)
        h.evidence.append(run.tools.cite_event(event, (effect, effect_onset)))
        degraded = profile.degradation(DEGRADATION, run.ctx.metric)
        # A change is a discrete fact; it weighs as much as the degradation that follows.
        follows = degraded is not None and degraded.anomalous and (
            degraded.onset is None or degraded.onset >= event.ts - run.tolerance)
        h.score = max(8.0, degraded.score) if follows and degraded else 4.0
        h.status = "supported"
        local.append(Explanation(change, h.score, event.ts, h.evidence))

    # Every service examined gets its error logs read: a code fault may show there alone
    # (no error metric of its own, only a slowdown and its callers' failures).
    # The calls its lines reveal join the call graph first: the lines are then judged with
    # what they say of those callees ("call to inventory-pg failed" reports inventory-pg).
    logs = revealed(run, service, await run.tools.error_logs(service))
    if logs is not None and (logs.baseline_count or logs.region_count):
        lookups = logs.name_lookups  # its resolver failing, not its code
        h = run.new(statement=f"name lookups from {service} failing (DNS) caused {effect}"
                    if lookups else f"a new or surging error in {service}'s code caused "
                    f"{effect}", kind="network_loss" if lookups else "code_error",
                    service=service, depth=depth, parent=parent)
        h.evidence.append(logs.evidence_id)
        h.score = logs.score
        refuted = run.judge(kind="code_error", role="local", cause=logs,
                            effect=effect_verdict, effect_onset=effect_onset,
                            effect_service=service, effect_label=effect)
        if refuted is None:
            h.status = "supported"
            local.append(Explanation("network_loss" if lookups else "code_error", logs.score,
                                     logs.onset, h.evidence, name_lookups=lookups))
        else:
            h.status, h.reason = "refuted", refuted.reason

    await _own_spans(run, service, effect, effect_onset, depth=depth, parent=parent,
                     effect_verdict=effect_verdict, local=local)

    found_below = await _dependencies(run, service, effect, effect_onset, depth=depth,
                                      parent=parent, path=path, effect_verdict=effect_verdict,
                                      coupling=coupling, surge_above=surge_here or surge_above,
                                      own_logs=logs)

    degraded = profile.degradation(DEGRADATION, run.ctx.metric)
    if degraded is not None:
        run.tools.cite(degraded)
    candidate = candidate_at(service, degraded, local, path, below=found_below, depth=depth,
                             hypothesis_id=parent.id,
                             bulk=bulk(view, degraded.onset, degraded)
                             if degraded is not None else None, th=run.thresholds)
    result = list(found_below)
    if candidate is not None:
        candidate.coupling = coupling
        # Saturation that rode in on a surge from upstream is the surge's doing; a deploy or
        # a config change that did harm at once, before the surge arrived, is not (its
        # failures draw the callers' retries: the surge is its doing). One that ran clean
        # until the surge came is a bystander, as anywhere else (`settled`).
        candidate.explained = candidate.explained or (
            traffic_from_upstream is not None and not (
                candidate.kind in CHANGE_KINDS.values() and candidate.onset is not None
                and candidate.onset < traffic_from_upstream - run.tolerance
                and not settled(candidate, run.thresholds)))
        run.candidates.append(candidate)
        result.append((candidate.onset if candidate.onset is not None else float("inf"),
                       candidate.score))
    if result:
        run.explored[service] = result
    return result


async def _own_spans(run: Run, service: str, effect: str, effect_onset: float | None, *,
                     depth: int, parent: Hypothesis, effect_verdict: FamilyVerdict | None,
                     local: list[Explanation]) -> None:
    """A code fault seen through traces: this service's own spans fail or slow down (its
    self-time, without its children's) while the spans it calls stay healthy."""
    callees = sorted(run.graph.get(service, ()))
    if effect_verdict is not None and not effect_verdict.anomalous:
        return  # nothing to explain: an effect within its normal range
    spans = await run.tools.span_verdict(service, callees)
    if spans is None or not (spans.failing or spans.slowed):
        return
    if not spans.failing and (any(e.kind in (*RESOURCE_KINDS, "traffic") for e in local)
                              or _has_latency(run, service)):
        # Its own time grew with a saturated resource or a surge (theirs to explain), or
        # its latency metric speaks for its slowness, judged by every rule: spans that
        # only slowed add nothing but noise (sampled self-times swing).
        return
    children = []
    for callee in callees:
        await run.tools.profile(callee)  # the rule reads whether its metrics degraded too
        verdict = await run.tools.span_verdict(callee, sorted(run.graph.get(callee, ())))
        if verdict is not None:
            children.append(verdict)
    h = run.new(statement=f"a fault in {service}'s own code caused {effect} (its spans fail "
                          f"or slow while those they call stay healthy)",
                kind="code_error", service=service, depth=depth, parent=parent)
    h.evidence.append(spans.evidence_id)
    h.score = max(spans.error_z, spans.self_z)
    refuted = run.judge(kind="code_error", role="local", cause=spans, effect=effect_verdict,
                        effect_onset=effect_onset, effect_service=service, effect_label=effect,
                        children=tuple(children), callees=tuple(callees))
    if refuted is None:
        h.status = "supported"
        local.append(Explanation("code_error", h.score, spans.onset, h.evidence))
    else:
        h.status, h.reason = "refuted", refuted.reason


async def _dependencies(run: Run, service: str, effect: str, effect_onset: float | None, *,
                        depth: int, parent: Hypothesis, path: list[str],
                        effect_verdict: FamilyVerdict | None, coupling: float,
                        surge_above: FamilyVerdict | None,
                        own_logs: LogVerdict | None = None) -> list[tuple[float, float]]:
    """Each callee's degradation as an explanation of `effect`; supported ones recurse.
    `own_logs` are the caller's error logs: lines that name a callee are its view of that
    callee failing, a lead even where the callee's own metrics show nothing."""
    found_below: list[tuple[float, float]] = []
    for callee in sorted(run.graph.get(service, ())):
        blame = own_logs if own_logs is not None and own_logs.blame_of(callee) > 0 and \
            own_logs.blame_share >= run.thresholds.blames else None
        verdict = (await run.tools.profile(callee)).degradation(DEGRADATION, run.ctx.metric)
        if callee in run.visited:
            # Examined on another branch: its finding still explains this caller.
            known = run.explored.get(callee)
            if known and blame is not None and run.judge(
                    kind="dependency", role="dependency", cause=blame, effect=None,
                    effect_onset=effect_onset, effect_service=service,
                    effect_label=effect) is None:
                h = run.new(statement=f"{callee} (a dependency of {service}, examined "
                                      f"above) caused {effect}, as {service}'s error lines "
                                      f"say", kind="dependency", service=callee,
                            depth=depth + 1, parent=parent)
                h.evidence.append(blame.evidence_id)
                h.status, h.score = "supported", blame.blame_score(callee)
                found_below.extend((o, max(s, h.score)) for o, s in known)
            elif known and verdict is not None and run.judge(
                    kind="dependency", role="dependency", cause=verdict,
                    effect=effect_verdict, effect_onset=effect_onset,
                    effect_service=service, effect_label=effect) is None:
                h = run.new(statement=f"{callee} (a dependency of {service}, examined "
                                      f"above) caused {effect}", kind="dependency",
                            service=callee, depth=depth + 1, parent=parent)
                h.evidence.append(run.tools.cite(verdict, effect=(effect, effect_onset)))
                h.status, h.score = "supported", verdict.score
                found_below.extend(known)
            continue
        run.visited.add(callee)
        h = run.new(statement=f"{callee} (a dependency of {service}) is degraded and "
                              f"caused {effect}", kind="dependency", service=callee,
                    depth=depth + 1, parent=parent)
        if verdict is None:
            if await _through_traces(run, callee, service, effect, effect_onset, depth=depth,
                                     parent=h, path=path, coupling=coupling,
                                     found_below=found_below, effect_verdict=effect_verdict,
                                     blame=blame):
                h.status = "supported"
                h.reason = f"no latency, error or availability metrics for {callee}; " \
                           f"its spans, its logs or {service}'s error lines say it fails"
            else:
                h.status = "inconclusive"
                h.reason = f"no latency, error or availability metrics for {callee}"
            continue
        h.evidence.append(run.tools.cite(verdict, effect=(effect, effect_onset)))
        h.score = verdict.score
        refuted = run.judge(kind="dependency", role="dependency", cause=verdict,
                            effect=effect_verdict, effect_onset=effect_onset,
                            effect_service=service, effect_label=effect)
        if refuted is not None and await _through_traces(
                run, callee, service, effect, effect_onset, depth=depth, parent=h, path=path,
                coupling=coupling, found_below=found_below, effect_verdict=effect_verdict,
                blame=blame):
            h.status, h.reason = "supported", (f"{refuted.reason}; its spans, its logs or "
                                               f"{service}'s error lines say otherwise")
        elif refuted is not None:
            h.status, h.reason = "refuted", refuted.reason
        else:
            h.status = "supported"
            if depth + 1 <= run.budget.max_depth:
                link = run.tools.view.co_movement(verdict, effect_verdict) \
                    if effect_verdict is not None else None
                below = await explore(
                    run, callee, f"{callee} {verdict.family}", verdict.onset,
                    depth=depth + 1, parent=h, path=[*path, *h.evidence],
                    effect_verdict=verdict,
                    coupling=coupling if link is None else min(coupling, max(link, 0.0)),
                    surge_above=surge_above)
                if effect_verdict is not None and covers(verdict, effect_verdict):
                    # As strong as the effect for `explains`, whatever its own noise.
                    below = [(o, max(s, effect_verdict.score)) for o, s in below]
                elif effect_verdict is not None and await _failure_carried(
                        run, callee, service, effect_verdict):
                    # Failing spans (or the callee's new exceptions) carried up to this
                    # caller's failures: as strong as its failure, and no later than its
                    # metric (sampled spans and log lines cannot order them finer).
                    start = verdict.onset if verdict.onset is not None else float("inf")
                    below = [(min(o, start), max(s, effect_verdict.score)) for o, s in below]
                if blame is not None and effect_verdict is not None and run.judge(
                        kind="dependency", role="dependency", cause=blame, effect=None,
                        effect_onset=effect_onset, effect_service=service,
                        effect_label=effect) is None and \
                        _named(run, blame, callee, service, effect_verdict, blame.onset):
                    # ...and accounts for this caller's failure as a covering cause does.
                    below = [(o, max(s, effect_verdict.score)) for o, s in below]
                found_below.extend(below)
        await run.progress(f"tested {callee}")
    return found_below


def revealed(run: Run, service: str, logs: LogVerdict | None) -> LogVerdict | None:
    """Calls the topology does not list that `service`'s own error lines reveal: a service
    named by a share of them ("call to users-pg failed", "upstream braintree-api responded
    503") is one it calls. Topologies drawn from traces or manifests miss databases and
    third parties; a caller's lines do not. Each such edge is added to the call graph (and
    said in the evidence), so the callee is judged as any dependency is: the lines only
    say where to look."""
    if logs is None or not logs.region_count:
        return logs
    found = [(name, count) for name, count in logs.unlisted
             if count / logs.region_count >= run.thresholds.revealed]
    for name, count in found:
        run.graph.setdefault(service, set()).add(name)
        run.callers.setdefault(name, set()).add(service)
        run.tools.record(query=f"call graph from {service}'s error lines", service=service,
                         signal="logs", finding=f"{count} of {service}'s "
                         f"{logs.region_count} error lines since {hhmm(run.tools.split)} "
                         f"name {name}, which the topology does not list as its callee: "
                         f"treated as one")
    return run.tools.reblame(service) if found else logs


def _has_latency(run: Run, service: str) -> bool:
    profile = run.tools.view.profile(service)
    return profile is not None and "latency" in profile.families


async def _failure_carried(run: Run, callee: str, caller: str,
                           effect: FamilyVerdict) -> bool:
    """Is a failure carried from `callee` up to `caller`? Either the traces show it (both
    fail more since the split), or the caller fails more (errors, availability) while the
    callee logs a new error pattern surging at the onset, an exception with no error metric
    of its own. Then the callee accounts for the caller's failures as a covering cause
    does."""
    below = await run.tools.span_verdict(callee, sorted(run.graph.get(callee, ())))
    above = await run.tools.span_verdict(caller, sorted(run.graph.get(caller, ())))
    if below is not None and above is not None and below.failing and above.failing:
        return True
    if effect.family not in ("errors", "availability") or not effect.anomalous:
        return False
    logs = await run.tools.error_logs(callee)
    return logs is not None and bool(logs.new_templates) and run.judge(
        kind="code_error", role="dependency", cause=logs, effect=None,
        effect_onset=effect.onset, effect_service=caller, effect_label=f"{caller} errors") is None


async def _through_traces(run: Run, callee: str, service: str, effect: str,
                          effect_onset: float | None, *, depth: int, parent: Hypothesis,
                          path: list[str], coupling: float,
                          found_below: list[tuple[float, float]],
                          effect_verdict: FamilyVerdict | None,
                          blame: LogVerdict | None = None) -> bool:
    """A dependency its metrics do not show as degraded (or that exports none) whose spans
    fail or slow down, or whose logs show a new error pattern surging, before the effect:
    traces or logs carry the link, and the walk goes on. So do the caller's own error lines
    when they name this callee (`blame`): then the caller is failing although its metric
    may not show it (a share of requests erroring behind a latency alert), and the callee
    is where its lines point, whatever the callee's own telemetry shows."""
    if effect_verdict is not None and not effect_verdict.anomalous and blame is None:
        return False  # nothing to explain: an effect within its normal range
    if blame is not None and run.judge(kind="dependency", role="dependency", cause=blame,
                                       effect=None, effect_onset=effect_onset,
                                       effect_service=service, effect_label=effect):
        blame = None
    spans = await run.tools.span_verdict(callee, sorted(run.graph.get(callee, ())))
    cause: SpanVerdict | LogVerdict | None = None
    usable = spans is not None and (spans.failing or not _has_latency(run, callee))
    if spans is not None and usable and run.judge(
            kind="dependency", role="dependency", cause=spans, effect=None,
            effect_onset=effect_onset, effect_service=service, effect_label=effect) is None:
        cause = spans
    else:
        logs = await run.tools.error_logs(callee)
        if logs is not None and logs.new_templates and run.judge(
                kind="code_error", role="dependency", cause=logs, effect=None,
                effect_onset=effect_onset, effect_service=service,
                effect_label=effect) is None:
            cause = logs
        else:
            cause = blame
    if cause is None:
        return False
    parent.evidence.append(cause.evidence_id)
    # The callee was failing from the first sign of it, its own or its caller's lines: what
    # explains it there must come no later.
    onset = min((o for o in (cause.onset, blame.onset if blame else None) if o is not None),
                default=None)
    if depth + 1 <= run.budget.max_depth:
        what = "spans" if isinstance(cause, SpanVerdict) else \
            f"failures in {service}'s error logs" if cause is blame else "error logs"
        label = f"{callee} {what}"
        below = await explore(run, callee, label, onset, depth=depth + 1,
                              parent=parent, path=[*path, cause.evidence_id],
                              effect_verdict=None, coupling=coupling)
        if not below and blame is not None and onset is not None:
            # Nothing of its own explains it: the failure its callers' lines name is all
            # the evidence, as a degraded leaf's is.
            # A callee with no telemetry of its own (a third-party API) is a failing
            # dependency of its caller, not a code error anyone here can read.
            silent = await run.tools.silent(callee)
            own = cause.score if isinstance(cause, LogVerdict) and cause is not blame else 0.0
            candidate = Candidate(service=callee,
                                  kind="dependency" if silent else fallback_kind("errors"),
                                  score=max(blame.blame_score(callee), own), onset=onset,
                                  evidence=list(dict.fromkeys([*path, blame.evidence_id,
                                                               cause.evidence_id])),
                                  hypothesis_id=parent.id, depth=depth + 1, fallback=True,
                                  coupling=coupling, named_by=service,
                                  reported_at=service if silent else None)
            run.candidates.append(candidate)
            below = [(onset, candidate.score)]
        elif blame is not None and cause is blame:
            _named(run, blame, callee, service, effect_verdict, onset)
        if effect_verdict is not None:
            # Failing spans (or a new error) below a caller failing with them account for
            # it, whatever the scale of each one's numbers (a proportion's z against a
            # metric's), and began no later than it (sampled telemetry cannot order them
            # finer).
            start = effect_onset if effect_onset is not None else float("inf")
            below = [(min(o, start), max(s, effect_verdict.score)) for o, s in below]
        found_below.extend(below)
    return True


def _named(run: Run, blame: LogVerdict, callee: str, caller: str,
           effect: FamilyVerdict | None, onset: float | None) -> bool:
    """A callee whose own telemetry barely moved, named by most of its caller's error lines
    ("timeout calling payment-router", "read: connection reset"): what the caller suffers is
    its failure seen from outside (lost packets never reach its own error count), so its
    "degraded with no visible cause" carries the caller's strength. Not a callee among
    several the lines name alike (a caller's own deadline expiring on every call). Says
    whether the lines single it out; the caller is then its to account for."""
    if effect is None or not effect.anomalous or \
            blame.named_share(callee) < run.thresholds.blames:
        return False
    for candidate in run.candidates:
        if candidate.service == callee and candidate.fallback and not candidate.explained:
            candidate.score = max(candidate.score, effect.score)
            candidate.named_by = candidate.named_by or caller
            if onset is not None and (candidate.onset is None or onset < candidate.onset):
                candidate.onset = onset  # failing from its caller's first line naming it
    return True
