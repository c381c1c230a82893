"""The SRE investigator: hypotheses tested by targeted queries, followed down the call graph.

From the alert's service it tests a catalogue of explanations (a degraded dependency, resource
saturation, a change, a traffic surge, a new error pattern, abnormal payloads). A supported
dependency hypothesis recurses into that dependency with the same catalogue; a cause must be
anomalous against its own baseline and must start no later than the effect it explains. The
root cause is the deepest supported node whose own explanations are refuted below it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agents.sre.assist import ModelAssist, Proposal, brief
from agents.sre.candidates import Candidate, rank, render_summary
from agents.sre.context import AlertContext
from agents.sre.report import Hypothesis, Progress, Report, Stats
from agents.sre.stats import FAMILY_DIRECTION, ONSET_Z, ceiling_of, episode_onset, squash
from agents.sre.toolbox import BudgetExhausted, FamilyVerdict, Toolbox, hhmm, kind_family
from integrations.redaction import clip
from integrations.telemetry.base import TelemetrySource, Window

log = logging.getLogger(__name__)

# The families an alert of each signal is about, in order of preference.
SYMPTOM_FAMILIES: dict[str, tuple[str, ...]] = {
    "latency": ("latency",),
    "errors": ("errors", "availability"),
    "availability": ("availability", "errors"),
    "saturation": ("other", "cpu", "memory", "disk", "network_delay", "network_loss"),
    "throughput": ("throughput",),
    "other": ("latency", "errors", "availability", "other", "throughput", "cpu", "memory"),
}
# Degradation that propagates from a callee to its callers.
DEGRADATION = ("latency", "errors", "availability")
RESOURCE_KINDS = ("cpu", "memory", "disk", "network_delay", "network_loss", "payload")
CHANGE_KINDS = {"deploy": "deploy", "config": "config"}
CHANGE_LOOKBACK_S = 45 * 60
# Traffic that at least doubled can account for any slowdown, however noisy its series (a
# saturated queue's latency grows without bound): its z-score alone would call it faint.
SATURATING_GAIN = 1.0
TRANSIENT = 0.35  # below this share of abnormal samples since onset, an episode is a blip

ProgressHook = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Budget:
    max_queries: int = 400
    max_depth: int = 6


@dataclass(slots=True)
class _Run:
    ctx: AlertContext
    tools: Toolbox
    graph: dict[str, set[str]]
    callers: dict[str, set[str]]
    tolerance: float
    lag: float  # how long a synchronous caller may take to show its callee's degradation
    hypotheses: list[Hypothesis] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)
    # What exploring a service found (every cause at or below it, as (onset, score)), for
    # other branches that reach it too.
    explored: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    on_progress: ProgressHook | None = None

    def new(self, *, statement: str, kind: str, service: str, depth: int,
            parent: Hypothesis | None) -> Hypothesis:
        h = Hypothesis(id=f"h{len(self.hypotheses) + 1}", statement=statement, kind=kind,
                       service=service, depth=depth)
        self.hypotheses.append(h)
        if parent is not None:
            parent.children.append(h.id)
        return h

    def precedes(self, cause: float | None, effect: float | None) -> bool:
        return cause is not None and (effect is None or cause <= effect + self.tolerance)

    async def progress(self, current: str) -> None:
        if self.on_progress is None:
            return
        done = [h for h in self.hypotheses if h.status != "pending"]
        await self.on_progress(Progress(
            tested=len(done), supported=sum(h.status == "supported" for h in done),
            refuted=sum(h.status == "refuted" for h in done), current=current,
            queries=self.tools.queries))


class Investigator:
    def __init__(self, source: TelemetrySource, *, budget: Budget | None = None,
                 topology: dict[str, set[str]] | None = None,
                 assist: ModelAssist | None = None) -> None:
        self.source = source
        self.budget = budget or Budget()
        self.static_topology = topology or {}
        self.assist = assist  # None: the statistical engine alone

    async def investigate(self, ctx: AlertContext, *,
                          on_progress: ProgressHook | None = None) -> Report:
        started = time.perf_counter()
        window = ctx.window
        tools = Toolbox(self.source, window, split=ctx.fired_at_s,
                        max_queries=self.budget.max_queries)
        services = await self._services(tools, window)
        graph = await self._topology(tools, window)
        callers: dict[str, set[str]] = {}
        for caller, callees in graph.items():
            for callee in callees:
                callers.setdefault(callee, set()).add(caller)

        symptom_onset, step, data_start = await self._symptom_onset(tools, ctx)
        tools.data_start = data_start
        # A cause may show up to one sample after its effect (both are smoothed, and sampled
        # apart), never two: at five-minute resolution, ten minutes late is after the fact.
        run = _Run(ctx, tools, graph, callers, tolerance=max(1.5 * step, 120.0),
                   lag=max(step, 90.0),
                   on_progress=on_progress)
        run.visited.add(ctx.service)
        # Cut the baseline before the episode began: whatever moves after this is "the change".
        anchor = symptom_onset if symptom_onset is not None else ctx.fired_at_s
        earliest = data_start + 0.35 * max(ctx.fired_at_s - data_start, 0.0)
        tools.split = max(anchor - max(2 * step, 0.04 * (ctx.fired_at_s - data_start)),
                          earliest)

        root = run.new(statement=f"{ctx.service} {ctx.signal} is abnormal ({ctx.name})",
                       kind="symptom", service=ctx.service, depth=0, parent=None)
        try:
            symptom = await self._test_symptom(run, root)
            effect_onset = symptom.onset if symptom and symptom.anomalous else symptom_onset
            await self._explore(run, ctx.service, f"{ctx.service} {ctx.signal}", effect_onset,
                                depth=0, parent=root, path=list(root.evidence),
                                effect_verdict=symptom)
            if not _decisive(run.candidates):
                await self._widen(run, services, effect_onset)
            if self.assist is not None:
                await run.progress("asking the model for hypotheses beyond the catalogue")
                lab = _Lab(run, services, effect_onset, root)
                await self.assist.extend(self._brief(run, services), lab)
            await self._corroborate(run)
            await self._twins(run)
        except BudgetExhausted as exc:
            run.notes.append(str(exc))
            log.info("investigation stopped early: %s", exc)

        ranked, abstained, confidence_note = rank(run.candidates, symptom_anomalous=bool(
            symptom and symptom.anomalous))
        if confidence_note:
            run.notes.append(confidence_note)
        summary, next_steps = render_summary(ctx, ranked, abstained, tools.evidence, run.notes)
        report = Report(
            root_causes=[c.as_root_cause() for c in ranked[:5]],
            abstained=abstained,
            summary=summary,
            hypotheses=run.hypotheses,
            evidence=tools.evidence,
            next_steps=next_steps,
            stats=Stats(elapsed_s=round(time.perf_counter() - started, 3), queries=tools.queries,
                        services_seen=len(services)),
            alert={"service": ctx.service, "signal": ctx.signal, "name": ctx.name,
                   "fired_at": hhmm(ctx.fired_at_s)},
        )
        if self.assist is not None:
            await run.progress("writing the summary")
            await self._narrate(report, run, services)
        return report

    # ---- with a model -----------------------------------------------------------------------

    def _brief(self, run: _Run, services: list[str], report: Report | None = None) -> str:
        ctx = run.ctx
        return brief(alert=clip(f"{ctx.name} on {ctx.service} ({ctx.signal}), fired at "
                                f"{hhmm(ctx.fired_at_s)} UTC: {ctx.summary}", 300),
                     hypotheses=run.hypotheses, evidence=run.tools.evidence,
                     services_total=len(set(services) | run.visited),
                     ranked=report.root_causes if report else (),
                     abstained=report.abstained if report else False)

    async def _narrate(self, report: Report, run: _Run, services: list[str]) -> None:
        """The model's summary replaces the statistical one only when some claim survives
        the citation check; the ranking itself is always the engine's."""
        assert self.assist is not None
        checked = await self.assist.summarise(
            self._brief(run, services, report), report.evidence_by_id(),
            services=set(services) | run.visited | {h.service for h in report.hypotheses},
            supported=report.supported_services())
        if checked is not None and checked.claims:
            report.claims = checked.claims
            report.summary = checked.text()
        use = self.assist.use
        if use.unavailable:
            report.summary += f" (Continued without a model: {use.unavailable}.)"
        report.model = use
        report.stats.llm_calls = use.calls
        report.stats.llm_input_tokens = use.input_tokens

    # ---- setup ------------------------------------------------------------------------------

    async def _services(self, tools: Toolbox, window: Window) -> list[str]:
        tools.queries += 1
        try:
            return await self.source.services(window)
        except Exception as exc:
            tools.record(query="list services", status="error",
                         finding=f"the service list could not be read: {exc}")
            return []

    async def _topology(self, tools: Toolbox, window: Window) -> dict[str, set[str]]:
        graph = {k: set(v) for k, v in self.static_topology.items()}
        tools.queries += 1
        try:
            learned = await self.source.topology(window)
        except Exception as exc:
            tools.record(query="call graph", status="error",
                         finding=f"the call graph could not be read: {exc}")
            learned = {}
        for caller, callees in learned.items():
            graph.setdefault(caller, set()).update(callees)
        return graph

    async def _symptom_onset(self, tools: Toolbox, ctx: AlertContext
                             ) -> tuple[float | None, float, float]:
        """When the alerting signal's episode began, the data's sampling step, and where the
        data actually starts (a window may reach back further than the telemetry)."""
        result = await tools.fetch_metrics(ctx.service)
        families = SYMPTOM_FAMILIES.get(ctx.signal, SYMPTOM_FAMILIES["other"])
        onsets: list[float] = []
        steps: list[float] = []
        firsts = [float(s.t[0]) for s in result.series if s.t.size]
        data_start = max(ctx.window.start_s, min(firsts)) if firsts else ctx.window.start_s
        for series in result.series:
            if series.t.size > 1:
                steps.append(float((series.t[-1] - series.t[0]) / (series.t.size - 1)))
            family = kind_family(series.metric, series.family)
            if ctx.metric and ctx.metric.lower() not in series.metric.lower():
                continue
            if not ctx.metric and family not in families:
                continue
            baseline_end = data_start + 0.5 * (ctx.fired_at_s - data_start)
            onset = episode_onset(series.t, series.v, at=ctx.fired_at_s,
                                  baseline_end=baseline_end,
                                  direction=FAMILY_DIRECTION.get(series.family, "both"),
                                  ceiling=ceiling_of(series.family, series.v))
            if onset is not None:
                onsets.append(onset)
        step = sorted(steps)[len(steps) // 2] if steps else 60.0
        return (min(onsets) if onsets else None), step, data_start

    # ---- the catalogue ----------------------------------------------------------------------

    async def _test_symptom(self, run: _Run, root: Hypothesis) -> FamilyVerdict | None:
        profile = await run.tools.profile(run.ctx.service)
        families = SYMPTOM_FAMILIES.get(run.ctx.signal, SYMPTOM_FAMILIES["other"])
        verdict = None
        if run.ctx.metric:
            verdict = profile.metrics.get(run.ctx.metric)
            if verdict is None:
                matching = [v for v in profile.metrics.values()
                            if run.ctx.metric.lower() in v.metric.lower()]
                verdict = max(matching, key=lambda v: v.score, default=None)
        verdict = verdict or profile.best(*families) or profile.best(*profile.families)
        if verdict is None:
            root.status = "inconclusive"
            root.reason = f"no metrics for {run.ctx.service}"
            root.evidence.append(run.tools.record(
                query=f"metrics of {run.ctx.service}", status="insufficient_data",
                service=run.ctx.service,
                finding=f"no {run.ctx.signal} metrics for {run.ctx.service} in the window"))
            return None
        root.evidence.append(run.tools.cite(verdict))
        root.score = verdict.score
        if verdict.anomalous and _persistence(verdict) < TRANSIENT:
            root.status = "inconclusive"
            root.reason = (f"a transient blip: only {_persistence(verdict):.0%} of the samples "
                           f"since {hhmm(verdict.onset)} are abnormal")
        elif verdict.anomalous:
            root.status = "supported"
        else:
            root.status = "inconclusive"
            root.reason = f"the alerting signal is within its normal range (z={verdict.score:.1f})"
        return verdict

    async def _explore(self, run: _Run, service: str, effect: str, effect_onset: float | None,
                       *, depth: int, parent: Hypothesis, path: list[str],
                       effect_verdict: FamilyVerdict | None = None, coupling: float = 1.0,
                       surge_above: FamilyVerdict | None = None
                       ) -> list[tuple[float, float]]:
        """Test explanations of `effect` at `service`.

        `surge_above` is a traffic surge found to explain a caller on the way here.
        Returns every cause found at or below `service` as (onset, score).
        """
        await run.progress(f"explaining {effect}")
        profile = await run.tools.profile(service)
        local: list[Explanation] = []
        traffic_from_upstream = False
        surge_here: FamilyVerdict | None = None

        damage_at = _when(effect_onset, run, effect_verdict)
        for family in (*RESOURCE_KINDS, "throughput"):
            verdict = profile.families.get(family)
            if verdict is None:
                continue
            kind = "traffic" if family == "throughput" else family
            surged = verdict.anomalous and verdict.anomaly is not None and \
                verdict.anomaly.peak > verdict.anomaly.baseline
            share = False  # this service's traffic rose as part of `surge_above`
            if kind == "traffic" and not surged:
                # Requests below (or within) a baseline recorded at a higher load can still
                # have doubled when the damage arrived; and a share of a surge already found
                # upstream need only stand out from this service's own noise, not be a surge
                # in its own right (a bottleneck slows under a fraction more load).
                step = run.tools.step_surge(verdict, damage_at, run.lag)
                if step is None and surge_above is not None:
                    step = run.tools.step_surge(verdict, damage_at, run.lag, min_score=ONSET_Z)
                    if step is not None and _gain(step) < 0.5 * _gain(surge_above):
                        step = None
                    share = step is not None
                verdict = step or verdict
                surged = (verdict.anomalous and bool(verdict.basis)) or share
            if kind == "traffic" and surged and surge_above is not None:
                share = _gain(verdict) >= 0.5 * _gain(surge_above)
            h = run.new(statement=_statement(kind, service, effect), kind=kind,
                        service=service, depth=depth, parent=parent)
            h.evidence.append(run.tools.cite(verdict, effect=(effect, effect_onset)))
            h.score = verdict.score
            # A share of an upstream surge is as faint or as strong as the surge itself.
            faint = kind == "traffic" and _faint_surge(
                surge_above if share and surge_above is not None else verdict, effect_verdict)
            # Load the service was already coping with when the damage arrived does not explain
            # it. (Not applied to resources: a steady oversized payload or a full disk can do
            # damage that accumulates, like a queue filling.)
            stale = _coping(run, verdict, damage_at) if kind == "traffic" else ""
            if kind == "traffic" and not share and not stale:
                stale = run.tools.load_lull(verdict, effect_verdict, damage_at)
            if (verdict.anomalous or share) and run.precedes(verdict.onset, effect_onset) \
                    and (kind != "traffic" or surged) and not faint and not stale:
                h.status = "supported"
                if kind == "traffic":
                    surge_here = surge_above if share else verdict
                    origin = await self._traffic_origin(run, service, verdict, depth, h,
                                                        damage_at)
                    if origin != service:
                        traffic_from_upstream = True
                        continue
                local.append(Explanation(kind, verdict.score, verdict.onset, h.evidence,
                                         _persistence(verdict)))
            elif faint and verdict.anomalous:
                h.status, h.reason = "refuted", faint
            elif stale and verdict.anomalous:
                h.status, h.reason = "refuted", stale
            else:
                h.status = "refuted"
                h.reason = _refutation(verdict, effect)

        for event in await run.tools.changes():
            change = CHANGE_KINDS.get(event.kind)
            if change is None or event.service != service or effect_onset is None:
                continue
            kind = change
            if not effect_onset - CHANGE_LOOKBACK_S <= event.ts <= effect_onset + run.tolerance:
                continue
            h = run.new(statement=f"the {kind} of {service} at {hhmm(event.ts)} caused {effect}",
                        kind=kind, service=service, depth=depth, parent=parent)
            h.evidence.append(run.tools.cite_event(event, (effect, effect_onset)))
            degraded = profile.degradation(DEGRADATION, run.ctx.metric)
            # A change is a discrete fact; it weighs as much as the degradation that follows.
            follows = degraded is not None and degraded.anomalous and (
                degraded.onset is None or degraded.onset >= event.ts - run.tolerance)
            h.score = max(8.0, degraded.score) if follows and degraded else 4.0
            h.status = "supported"
            local.append(Explanation(kind, h.score, event.ts, h.evidence))

        degraded = profile.degradation(DEGRADATION, run.ctx.metric)
        if degraded is not None and (degraded.family in ("errors", "availability") or depth == 0):
            logs = await run.tools.error_logs(service)
            if logs is not None and (logs.baseline_count or logs.region_count):
                h = run.new(statement=f"a new or surging error in {service}'s code caused {effect}",
                            kind="code_error", service=service, depth=depth, parent=parent)
                h.evidence.append(logs.evidence_id)
                h.score = logs.score
                skew = run.tolerance + 120  # logs and metrics clocks may disagree a little
                if logs.score >= 3.0 and logs.onset is not None and (
                        effect_onset is None or logs.onset <= effect_onset + skew):
                    h.status = "supported"
                    local.append(Explanation("code_error", logs.score, logs.onset, h.evidence))
                else:
                    h.status = "refuted"
                    h.reason = "no surge of error logs before the symptom"

        found_below: list[tuple[float, float]] = []
        for callee in sorted(run.graph.get(service, ())):
            if callee in run.visited:
                # Examined on another branch: its finding still explains this caller.
                known = run.explored.get(callee)
                verdict = (await run.tools.profile(callee)).degradation(
                    DEGRADATION, run.ctx.metric)
                if known and verdict is not None and verdict.anomalous and \
                        run.precedes(verdict.onset, _bulk(effect_onset, run,
                                                          effect_verdict)) and \
                        not _too_small(verdict, effect_verdict) and \
                        not _faint_link(verdict, effect_verdict) and \
                        not await _small_share(run, callee, service, effect_onset) and \
                        not run.tools.held_before(verdict, _began(effect_onset, run,
                                                                  effect_verdict), run.lag):
                    h = run.new(statement=f"{callee} (a dependency of {service}, examined "
                                          f"above) caused {effect}", kind="dependency",
                                service=callee, depth=depth + 1, parent=parent)
                    h.evidence.append(run.tools.cite(verdict, effect=(effect, effect_onset)))
                    h.status, h.score = "supported", verdict.score
                    found_below.extend(known)
                continue
            run.visited.add(callee)
            callee_profile = await run.tools.profile(callee)
            verdict = callee_profile.degradation(DEGRADATION, run.ctx.metric)
            h = run.new(statement=f"{callee} (a dependency of {service}) is degraded and "
                                  f"caused {effect}", kind="dependency", service=callee,
                        depth=depth + 1, parent=parent)
            if verdict is None:
                h.status = "inconclusive"
                h.reason = f"no latency, error or availability metrics for {callee}"
                continue
            h.evidence.append(run.tools.cite(verdict, effect=(effect, effect_onset)))
            h.score = verdict.score
            too_small = _too_small(verdict, effect_verdict) or \
                _faint_link(verdict, effect_verdict) or \
                await _small_share(run, callee, service, effect_onset)
            stale = run.tools.held_before(verdict, _began(effect_onset, run, effect_verdict),
                                          run.lag)
            if verdict.anomalous and run.precedes(verdict.onset, _bulk(effect_onset, run,
                                                                       effect_verdict)) and \
                    not too_small and not stale:
                h.status = "supported"
                if depth + 1 <= self.budget.max_depth:
                    link = run.tools.co_movement(verdict, effect_verdict) \
                        if effect_verdict is not None else None
                    below = await self._explore(
                        run, callee, f"{callee} {verdict.family}", verdict.onset,
                        depth=depth + 1, parent=h, path=[*path, *h.evidence],
                        effect_verdict=verdict,
                        coupling=coupling if link is None else min(coupling, max(link, 0.0)),
                        surge_above=surge_here or surge_above)
                    if effect_verdict is not None and _covers(verdict, effect_verdict):
                        # As strong as the effect for `_explains`, whatever its own noise.
                        below = [(o, max(s, effect_verdict.score)) for o, s in below]
                    found_below.extend(below)
            elif too_small:
                h.status = "refuted"
                h.reason = (f"it moved, but by too little to explain {effect} "
                            f"({too_small})")
            elif stale and verdict.anomalous:
                h.status, h.reason = "refuted", stale
            else:
                h.status = "refuted"
                h.reason = _refutation(verdict, effect)
            await run.progress(f"tested {callee}")

        degraded = profile.degradation(DEGRADATION, run.ctx.metric)
        if degraded is not None:
            run.tools.cite(degraded)
        candidate = _candidate_at(service, degraded, local, path,
                                  below=found_below, depth=depth, parent=parent,
                                  bulk=_bulk(degraded.onset, run, degraded)
                                  if degraded is not None else None)
        result = list(found_below)
        if candidate is not None:
            candidate.coupling = coupling
            # Saturation that rode in on a surge from upstream is the surge's doing.
            candidate.explained = candidate.explained or traffic_from_upstream
            run.candidates.append(candidate)
            result.append((candidate.onset if candidate.onset is not None else float("inf"),
                           candidate.score))
        if result:
            run.explored[service] = result
        return result

    async def _corroborate(self, run: _Run) -> None:
        """Count, for each candidate, the other degraded services it would also explain. A
        failing service shows in every caller, even those the alert never named; a second
        view of the same failure (a load balancer seen from one client) does not."""
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

    async def _twins(self, run: _Run) -> None:
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
                if not run.callers.get(leaf.service, set()) & run.callers.get(other.service,
                                                                              set()):
                    continue
                if leaf.onset is None or other.onset is None or \
                        abs(leaf.onset - other.onset) > run.lag:
                    continue
                a = (await run.tools.profile(leaf.service)).degradation(DEGRADATION,
                                                                      run.ctx.metric)
                b = (await run.tools.profile(other.service)).degradation(DEGRADATION,
                                                                       run.ctx.metric)
                if a is None or b is None:
                    continue
                link = run.tools.co_movement(a, b)
                if link is not None and link >= TWIN_CORRELATION:
                    leaf.twin_of = other.service
                    leaf.explained = other.explained
                    break

    async def _traffic_origin(self, run: _Run, service: str, verdict: FamilyVerdict,
                              depth: int, parent: Hypothesis, effect_time: float) -> str:
        """Follow a traffic surge up the callers to where it entered the system (a caller
        that was already sending that much before the damage began is not where it did)."""
        current, current_onset, current_verdict = service, verdict.onset, verdict
        seen = {service}
        passed_on: Candidate | None = None  # the last hop, until the surge is traced above it
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
                    step = run.tools.step_surge(v, current_onset, run.lag)
                    if step is None:
                        continue
                    v = step
                if v.anomaly is None or not run.precedes(v.onset, current_onset):
                    continue
                if _coping(run, v, effect_time):
                    continue
                if not _carries(v, current_verdict, run.tools):
                    continue  # the surge entered below it (or through another caller)
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

    async def _widen(self, run: _Run, services: list[str], effect_onset: float | None) -> None:
        """Nothing decisive on the call path: look at every other service, with a penalty.

        A service downstream of the alert that degraded with it, as strongly, explains the
        alerting service better than "degraded with no visible cause" does, even when a noisy
        service between them could not confirm the link."""
        await run.progress("widening the search beyond the call graph")
        downstream, frontier = set(), [run.ctx.service]
        while frontier:
            for callee in run.graph.get(frontier.pop(), ()):
                if callee not in downstream:
                    downstream.add(callee)
                    frontier.append(callee)
        symptom = (await run.tools.profile(run.ctx.service)).degradation(DEGRADATION,
                                                                          run.ctx.metric)
        latest = _bulk(effect_onset, run, symptom)
        for service in services:
            if service in run.visited:
                continue
            run.visited.add(service)
            profile = await run.tools.profile(service)
            best = profile.best(*DEGRADATION, *RESOURCE_KINDS)
            if best is None or not best.anomalous or not run.precedes(best.onset, latest) \
                    or run.tools.held_before(best, _when(effect_onset, run), run.lag):
                continue
            evidence = run.tools.cite(best, effect=(f"{run.ctx.service} {run.ctx.signal}",
                                                    effect_onset))
            kind = best.family if best.family in RESOURCE_KINDS else _fallback_kind(best.family)
            run.candidates.append(Candidate(
                service=service, kind=kind, score=best.score, onset=best.onset,
                evidence=[evidence], reachable=False, connected=service in downstream,
                fallback=best.family in DEGRADATION,
                persistence=_persistence(best)))
        below = [(c.onset, c.score) for c in run.candidates if c.connected and c.onset is not None]
        for candidate in run.candidates:
            if candidate.service == run.ctx.service and candidate.fallback and _explains(
                    below, _bulk(candidate.onset, run, symptom), candidate.score):
                candidate.explained = True


class _Lab:
    """The model's access to a run: it proposes, the toolbox tests, the engine's rules judge."""

    def __init__(self, run: _Run, services: list[str], effect_onset: float | None,
                 root: Hypothesis) -> None:
        self.run, self.effect_onset, self.root = run, effect_onset, root
        self._services = set(services) | run.visited | set(run.graph)

    def services(self) -> set[str]:
        return self._services

    def flagged(self) -> set[str]:
        run = self.run
        return ({c.service for c in run.candidates}
                | {h.service for h in run.hypotheses if h.status == "supported"})

    async def read_logs(self, service: str, contains: str | None) -> tuple[str, str]:
        return await self.run.tools.sample_logs(service, contains=contains)

    async def read_traces(self, service: str) -> tuple[str, str]:
        return await self.run.tools.trace_summary(service)

    async def test(self, proposal: Proposal) -> tuple[Hypothesis, bool]:
        run = self.run
        for h in run.hypotheses:
            if (h.service, h.kind) == (proposal.service, proposal.kind) and \
                    h.status != "pending":
                return h, True
        h = run.new(statement=proposal.statement, kind=proposal.kind,
                    service=proposal.service, depth=self.root.depth + 1, parent=self.root)
        h.origin = "model"
        effect = f"{run.ctx.service} {run.ctx.signal}"
        onset: float | None = None
        if proposal.check == "metric":
            assert proposal.family is not None
            verdict = (await run.tools.profile(proposal.service)).families.get(proposal.family)
            if verdict is None:
                h.status, h.reason = "inconclusive", f"no {proposal.family} metrics"
            else:
                h.evidence.append(run.tools.cite(verdict, effect=(effect, self.effect_onset)))
                h.score, onset = verdict.score, verdict.onset
                if not (verdict.anomalous and run.precedes(verdict.onset, self.effect_onset)):
                    h.status, h.reason = "refuted", _refutation(verdict, effect)
                elif _persistence(verdict) < TRANSIENT:
                    h.status, h.reason = "refuted", "a transient blip"
                else:
                    h.status = "supported"
        elif proposal.check == "error_logs":
            logs = await run.tools.error_logs(proposal.service)
            if logs is None:
                h.status, h.reason = "inconclusive", "the error logs could not be read"
            else:
                h.evidence.append(logs.evidence_id)
                h.score, onset = logs.score, logs.onset
                if logs.score >= 3.0 and run.precedes(logs.onset, self.effect_onset):
                    h.status = "supported"
                else:
                    h.status, h.reason = "refuted", "no surge of error logs before the symptom"
        else:
            events = [e for e in await run.tools.changes() if e.service == proposal.service
                      and self.effect_onset is not None
                      and self.effect_onset - CHANGE_LOOKBACK_S <= e.ts
                      <= self.effect_onset + run.tolerance]
            for event in events[:3]:
                h.evidence.append(run.tools.cite_event(event, (effect, self.effect_onset)))
            if events:
                h.status, h.score, onset = "supported", 6.0, events[0].ts
            else:
                h.status, h.reason = "refuted", "no change events shortly before the symptom"
        if h.status == "supported":
            run.candidates.append(Candidate(
                service=proposal.service, kind=proposal.kind, score=h.score, onset=onset,
                evidence=list(h.evidence), hypothesis_id=h.id, depth=h.depth,
                reachable=proposal.service in run.visited))
        await run.progress(f"tested the model's hypothesis: {clip(proposal.statement, 80)}")
        return h, False


MIN_LATENCY_SHARE = 0.1
MIN_TRAFFIC_SHARE = 0.01
FAINT_LINK = 0.5
TWIN_CORRELATION = 0.8


@dataclass(slots=True)
class Explanation:
    """A supported local explanation at one node."""

    kind: str
    score: float
    onset: float | None
    evidence: list[str]
    persistence: float = 1.0


def _persistence(verdict: FamilyVerdict) -> float:
    return verdict.anomaly.persistence if verdict.anomaly is not None else 1.0


def _too_small(cause: FamilyVerdict, effect: FamilyVerdict | None) -> str:
    """Latency adds up along a call chain: a dependency that got 1 ms slower cannot explain a
    caller that got a second slower. Returns why it is too small, or '' when it is not."""
    if effect is None or cause.family != "latency" or effect.family != "latency":
        return ""
    if cause.anomaly is None or effect.anomaly is None:
        return ""
    cause_delta = cause.anomaly.peak - cause.anomaly.baseline
    if cause.metric != effect.metric:  # unlike statistics: give the cause its best rise
        cause_delta = max(cause.max_rise, cause_delta)
    effect_delta = effect.anomaly.peak - effect.anomaly.baseline
    if effect_delta <= 0 or cause_delta >= MIN_LATENCY_SHARE * effect_delta:
        return ""
    return f"{cause_delta:+.3g} against {effect_delta:+.3g}"


def _covers(cause: FamilyVerdict, effect: FamilyVerdict) -> bool:
    """Did a dependency's latency rise by at least as much as its caller's? Then it accounts
    for the whole of the caller's slowdown, however noisy its own baseline (z-scores compare
    how unusual two moves are; seconds added up along a call chain compare what they did)."""
    if cause.family != "latency" or effect.family != "latency" or \
            cause.anomaly is None or effect.anomaly is None:
        return False
    effect_delta = effect.anomaly.peak - effect.anomaly.baseline
    return effect_delta > 0 and cause.anomaly.peak - cause.anomaly.baseline >= effect_delta


def _faint_link(cause: FamilyVerdict, effect: FamilyVerdict | None) -> str:
    """A dependency barely out of its normal range does not explain a caller driven far out
    of its own (a 3-sigma wobble below a failure at z=200). Compared on the squashed scale,
    as z-scores of different metrics are not commensurable. Returns why, or ''."""
    if effect is None or not effect.anomalous:
        return ""
    if squash(cause.score) >= FAINT_LINK * squash(effect.score):
        return ""
    return (f"{cause.metric} at z={cause.score:.1f} against {effect.metric} at "
            f"z={effect.score:.1f}")


async def _small_share(run: _Run, callee: str, caller: str, since: float | None) -> str:
    """A dependency that served a sliver of its caller's requests during the episode cannot
    account for the caller's degradation, however badly it failed (a load balancer left with
    two requests in five minutes, all of them errors). Compared on the caller's own request
    metric, when the dependency reports it too. Returns why it is too small, or ''."""
    traffic = (await run.tools.profile(caller)).families.get("throughput")
    if traffic is None:
        return ""
    mine = run.tools.volume(callee, traffic.metric, since)
    theirs = run.tools.volume(caller, traffic.metric, since)
    if mine is None or theirs is None or theirs <= 0 or mine >= MIN_TRAFFIC_SHARE * theirs:
        return ""
    return (f"{traffic.metric} {mine:.3g} against {theirs:.3g} at {caller}, "
            f"under {MIN_TRAFFIC_SHARE:.0%} of its traffic")


def _gain(verdict: FamilyVerdict, reference: float | None = None) -> float:
    """Relative rise of a verdict's series (0.5 for +50%), from its baseline or `reference`."""
    anomaly = verdict.anomaly
    if anomaly is None:
        return 0.0
    base = anomaly.baseline if reference is None else reference
    return max(anomaly.peak / base - 1.0, 0.0) if base > 0 else 0.0


def _carries(caller: FamilyVerdict, callee: FamilyVerdict, tools: Toolbox) -> bool:
    """Can the caller's surge carry the callee's? Only one of comparable relative size: a
    caller whose traffic rose 20% cannot carry a callee's tripling. Sizes are compared from
    the baselines and, failing that, as steps at the instant the caller's surge arrived: a
    baseline recorded at another load (stale, or borrowed) distorts ratios to it unevenly, as
    the share of each service's requests that scales with load differs, while the ratio of
    two steps taken at the same moment holds. Both steps are measured alike, from the level
    just before to the mean of the two samples from the step on, whether a verdict's own
    peak was smoothed or its surge was itself found as such a step."""
    if _gain(caller) >= 0.5 * _gain(callee):
        return True
    step = tools.rise_time(caller)
    return tools.step_gain(caller, step) >= 0.5 * tools.step_gain(callee, step)


def _coping(run: _Run, surge: FamilyVerdict, damage_at: float) -> str:
    """Why a traffic surge is load the service was already coping with when the damage
    arrived, or '' (a step measured from the level just before is a change by construction)."""
    if surge.basis:
        return ""
    return run.tools.held_before(surge, damage_at, run.lag) or \
        run.tools.coped_with(surge, damage_at, run.lag)


def _when(effect_onset: float | None, run: _Run, effect: FamilyVerdict | None = None
          ) -> float:
    """When the effect a cause must meet arrived: its onset, or with `effect`, the bulk of its
    rise where that can be timed; an effect that could not be placed was under way when the
    alert fired."""
    rise = run.tools.rise_time(effect) if effect is not None else None
    if rise is not None:
        return rise
    return effect_onset if effect_onset is not None else run.ctx.fired_at_s


def _began(effect_onset: float | None, run: _Run, effect: FamilyVerdict | None) -> float:
    """The earliest the effect can be said to have begun (where it first crossed ONSET_Z):
    a dependency must already have been this bad before that to be a standing condition."""
    since = effect.anomaly.since if effect is not None and effect.anomaly is not None else None
    times = [x for x in (effect_onset, since) if x is not None]
    return min(times) if times else run.ctx.fired_at_s


def _bulk(effect_onset: float | None, run: _Run, effect: FamilyVerdict | None
          ) -> float | None:
    """The latest a cause may begin: the effect's onset, or the bulk of its rise when that
    came later (an unrelated blip just before the episode can pull the onset early)."""
    rise = run.tools.rise_time(effect)
    return effect_onset if effect_onset is None or rise is None else max(effect_onset, rise)


def _faint_surge(surge: FamilyVerdict, effect: FamilyVerdict | None) -> str:
    """A barely-anomalous rise in requests does not explain a violent degradation: traffic
    that drowns a service moves as far out of its normal range as the damage it does
    (compared on the squashed scale, as z-scores of different metrics are not commensurable).
    Returns why it is too faint, or '' when it is not."""
    if effect is None or not effect.anomalous or surge.anomaly is None:
        return ""
    if squash(surge.score) >= 0.5 * squash(effect.score) or _gain(surge) >= SATURATING_GAIN:
        return ""
    return (f"requests rose only {surge.anomaly.change()} (z={surge.score:.1f}), too little "
            f"to explain {effect.metric} at z={effect.score:.1f}")


def _decisive(candidates: list[Candidate]) -> bool:
    strong = [c for c in candidates if not c.fallback and c.score >= 5.0]
    return bool(strong)


def _explains(below: list[tuple[float, float]], onset: float | None, score: float) -> bool:
    """Does a cause found deeper explain this node? Only one that began no later than this
    node's own explanation and is of comparable strength: a faint wobble downstream does not
    explain a twenty-fold latency jump here (however early it began, while a strong cause
    beside it did)."""
    # Compared on the squashed scale: z-scores of different metrics are not commensurable
    # (an error rate rising from ~0 reaches z in the hundreds), their saturation is.
    return any((onset is None or below_onset <= onset)
               and squash(below_score) >= 0.8 * squash(score)
               for below_onset, below_score in below)


def _candidate_at(service: str, degraded: FamilyVerdict | None,
                  local: list[Explanation], path: list[str], *,
                  below: list[tuple[float, float]], depth: int,
                  parent: Hypothesis, bulk: float | None = None) -> Candidate | None:
    """The candidate at a node, if any. A cause found below that explains this node's
    degradation makes it a discounted candidate rather than none at all."""
    if local:
        top = max(item.score for item in local)
        # Among the strong local explanations, the earliest is the cause of the others
        # (payloads before memory, a deploy before the errors, traffic before CPU).
        strong = [item for item in local if item.score >= 0.5 * top]
        pick = min(strong, key=lambda i: (i.onset if i.onset is not None else float("inf"),
                                          -i.score))
        score = max(top, degraded.score if degraded is not None else 0.0)
        supporting = [e for item in local for e in item.evidence]
        # Compare like with like: the deeper cause's strength against this node's own
        # degradation (both metric z-scores), not against a log-surge or event score.
        explained = _explains(below, pick.onset,
                              degraded.score if degraded is not None else score)
        return Candidate(service=service, kind=pick.kind, score=score, onset=pick.onset,
                         evidence=list(dict.fromkeys([*path, *pick.evidence, *supporting])),
                         hypothesis_id=parent.id, explained=explained, depth=depth,
                         persistence=max(item.persistence for item in strong))
    if degraded is not None and degraded.anomalous:
        return Candidate(service=service, kind=_fallback_kind(degraded.family),
                         score=degraded.score, onset=degraded.onset,
                         evidence=list(dict.fromkeys([*path, degraded.evidence_id])),
                         hypothesis_id=parent.id, depth=depth, fallback=True,
                         explained=_explains(below, bulk or degraded.onset, degraded.score),
                         persistence=_persistence(degraded))
    return None


def _fallback_kind(family: str) -> str:
    # A degraded leaf with no visible resource or change behind it: a failing dependency for
    # slowness and unavailability, a code error when it is failing requests.
    return "code_error" if family == "errors" else "dependency"


def _statement(kind: str, service: str, effect: str) -> str:
    return {
        "cpu": f"CPU saturation of {service} caused {effect}",
        "memory": f"memory pressure in {service} caused {effect}",
        "disk": f"disk saturation of {service} caused {effect}",
        "network_delay": f"network delay at {service} caused {effect}",
        "network_loss": f"packet loss at {service} caused {effect}",
        "payload": f"abnormally large payloads reaching {service} caused {effect}",
        "traffic": f"a traffic surge at {service} caused {effect}",
    }.get(kind, f"{kind} at {service} caused {effect}")


def _refutation(verdict: FamilyVerdict, effect: str) -> str:
    anomaly = verdict.anomaly
    if anomaly is None:
        return "insufficient data"
    if not anomaly.anomalous:
        return f"normal (z={anomaly.score:.1f})"
    return f"anomalous, but it started at {hhmm(anomaly.onset)}, after {effect}"
