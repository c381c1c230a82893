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
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from agents.sre.assist import ModelAssist, brief
from agents.sre.candidates import Candidate, decisive, rank, render_summary
from agents.sre.catalogue import explore
from agents.sre.context import AlertContext
from agents.sre.jobs import batch_jobs
from agents.sre.lab import Lab
from agents.sre.nodes import node_faults
from agents.sre.report import DEMAND, RECOVERED, TOO_EARLY, Hypothesis, Report, Stats
from agents.sre.rules import DEFAULT, RULES, Rule, Thresholds
from agents.sre.run import DEGRADATION, SYMPTOM_FAMILIES, Budget, ProgressHook, Run
from agents.sre.search import (
    bystanders,
    corroborate,
    failing_in_logs,
    residual_leads,
    twins,
    widen,
)
from agents.sre.stats import ceiling_of, episode_onset
from agents.sre.toolbox import BudgetExhausted, Toolbox
from agents.sre.verdicts import (
    FamilyVerdict,
    abnormal_samples,
    blip,
    direction_of,
    hhmm,
    kind_family,
    persistence,
    recovered,
    young,
)
from agents.sre.wording import plural
from integrations.error_sources.templates import TemplateStore
from integrations.redaction import clip
from integrations.telemetry.base import TelemetrySource, Window

log = logging.getLogger(__name__)

__all__ = ["Budget", "Investigator"]


class Investigator:
    def __init__(self, source: TelemetrySource, *, budget: Budget | None = None,
                 topology: dict[str, set[str]] | None = None,
                 assist: ModelAssist | None = None, thresholds: Thresholds = DEFAULT,
                 rules: tuple[Rule, ...] = RULES,
                 templates: TemplateStore | None = None) -> None:
        self.source = source
        self.budget = budget or Budget()
        self.static_topology = topology or {}
        self.assist = assist  # None: the statistical engine alone
        self.thresholds = thresholds
        self.rules = rules  # evals leave some out to see what each is worth
        # Log-template miners kept between runs and shared with the error scan (None: each
        # run mines afresh, as evals do so that their figures are reproducible).
        self.templates = templates

    async def investigate(self, ctx: AlertContext, *,
                          on_progress: ProgressHook | None = None) -> Report:
        started = time.perf_counter()
        window = ctx.window
        tools = Toolbox(self.source, window, split=ctx.fired_at_s,
                        max_queries=self.budget.max_queries, templates=self.templates,
                        thresholds=self.thresholds)
        services = await self._services(tools, window)
        tools.services = set(services)
        graph = await self._topology(tools, window)
        tools.graph = graph
        callers: dict[str, set[str]] = {}
        for caller, callees in graph.items():
            for callee in callees:
                callers.setdefault(callee, set()).add(caller)

        ctx, alert_notes = await self._alert_metric(tools, ctx)
        symptom_onset, step, data_start, from_lines = await self._symptom_onset(tools, ctx)
        tools.data_start = data_start
        alert_notes += await self._alert_outside_data(tools, ctx, step)
        # A cause may show up to one sample after its effect (both are smoothed, and sampled
        # apart), never two: at five-minute resolution, ten minutes late is after the fact.
        th = self.thresholds
        run = Run(ctx, tools, graph, callers,
                  tolerance=max(th.tolerance_samples * step, th.tolerance_min_s),
                  lag=max(th.lag_samples * step, th.lag_min_s), thresholds=th,
                  rules=self.rules, budget=self.budget, on_progress=on_progress)
        run.visited.add(ctx.service)
        run.notes.extend(alert_notes)
        # Cut the baseline before the episode began: whatever moves after this is "the change".
        # No earlier than the reference part of the data (the first fifth), which a fault
        # that began long before its alert still leaves clean.
        anchor = symptom_onset if symptom_onset is not None else ctx.fired_at_s
        earliest = data_start + th.split_floor_share * max(ctx.fired_at_s - data_start, 0.0)
        tools.split = max(anchor - max(2 * step, 0.04 * (ctx.fired_at_s - data_start)),
                          earliest)
        tools.run_up = run.tolerance

        root = run.new(statement=f"{ctx.effect} is abnormal ({ctx.name})",
                       kind="symptom", service=ctx.service, depth=0, parent=None)
        try:
            symptom = await self._test_symptom(run, root)
            effect_onset = effect_onset_of(symptom, symptom_onset, from_lines=from_lines)
            await explore(run, ctx.service, ctx.effect, effect_onset,
                          depth=0, parent=root, path=list(root.evidence),
                          effect_verdict=symptom)
            # With no call graph at all the walk saw one service: a "decisive" cause there
            # (a change of its own, a resource) has had no competitor yet. Nor has one found
            # for an alert whose statistic never moved: what it would explain is not there.
            # Past a decisive cause, the search still looks beyond the path (a noisy
            # neighbour throttles its victim's CPU: the victim looks decisive), and what it
            # finds competes with the path's answer but explains none of it away.
            await widen(run, services, effect_onset, beyond_decisive=decisive(
                run.candidates) and any(graph.values()) and bool(symptom and symptom.anomalous))
            if self.assist is not None:
                await run.progress("asking the model for hypotheses beyond the catalogue")
                lab = Lab(run, services, effect_onset, root)
                await self.assist.extend(self._brief(run, services), lab)
            bystanders(run)
            await corroborate(run)
            await twins(run)
            await node_faults(run, services, effect_onset, root)
            await batch_jobs(run, effect_onset, root)
            if not run.candidates:
                await residual_leads(run, services)
        except BudgetExhausted as exc:
            run.notes.append(str(exc))
            log.info("investigation stopped early: %s", exc)
        run.notes.extend(coverage_notes(run, services, self.source))
        if self.templates is not None:
            if self.templates.problem:
                run.notes.append(self.templates.problem)
            try:
                self.templates.save()
            except OSError as exc:
                run.notes.append(f"log templates not saved for the next run: {exc}")

        # The alerting service is failing when its alert's statistic is abnormal, or when
        # it degraded lastingly on a sibling signal (its errors behind a latency alert), or
        # its own error logs say so (a new pattern surging by the alert).
        failing = (await tools.profile(ctx.service)).degradation(DEGRADATION, ctx.metric)
        try:
            loud = await failing_in_logs(run) is not None
        except BudgetExhausted:
            loud = False
        # Lines are no more current than the counters beside them: failures the service's
        # own metrics show over since the alert (back to normal for minutes) are over,
        # whatever lines still trickle in about them. (Metrics back to normal before the alert
        # fired do not read what it fired on.)
        loud = loud and not (failing is not None and
                             recovered(failing, th.recovered_samples, th.recovered_s) and
                             ended_after(tools, failing, ctx.fired_at_s - run.tolerance))
        brief = symptom is not None and blip(symptom, th.blip_samples, th.blip_s)
        too_early = brief and symptom is not None and young(symptom)
        over = symptom is not None and recovered(symptom, th.recovered_samples, th.recovered_s)
        symptom_anomalous = bool(symptom and symptom.anomalous and not brief and not over) or \
            bool(failing is not None and failing.anomalous and persistence(failing) >=
                 th.transient and not blip(failing, th.blip_samples, th.blip_s)
                 and not recovered(failing, th.recovered_samples, th.recovered_s)) or loud
        blip_note = None
        if over and not brief and not symptom_anomalous and symptom is not None:
            blip_note = f"{ctx.service}'s {ctx.signal} {recovery(symptom)}"
        # The alert's own statistic never moved, and the degradation beside it (its errors
        # behind a throughput alert) is over as well: an episode that ended by itself.
        gone = not symptom_anomalous and not brief and blip_note is None and \
            failing is not None and recovered(failing, th.recovered_samples, th.recovered_s)
        if gone and failing is not None:
            blip_note = f"{ctx.service}'s {failing.metric} {recovery(failing)}"
        if brief and not symptom_anomalous and symptom is not None:
            samples = plural(abnormal_samples(symptom) or 0, "sample")
            blip_note = (f"{ctx.service}'s {ctx.signal} has been abnormal in only {samples} "
                         f"since {hhmm(symptom.onset)}: {TOO_EARLY} a lasting "
                         "degradation from a blip" if too_early else
                         f"{ctx.service}'s {ctx.signal} was abnormal in only {samples} from "
                         f"{hhmm(symptom.onset)}: a blip, already over")
        # An alert on more requests (a crawler, a campaign) asks whether they did harm: a rise
        # the service took with its latency and its share of failed requests normal is
        # demand, not a fault, and what the search found are leads.
        demand = ctx.signal == "throughput" and blip_note is None and not loud and \
                symptom is not None and symptom.anomalous and symptom.anomaly is not None and \
                symptom.anomaly.peak > symptom.anomaly.baseline and \
                (failing is None or not failing.anomalous)
        if demand and symptom is not None and symptom.anomaly is not None:
            symptom_anomalous = False
            blip_note = (f"{ctx.service}'s requests rose {symptom.anomaly.change()} from "
                         f"{hhmm(symptom.onset)} and nothing degraded with them (its latency "
                         f"and its share of failed requests normal): {DEMAND}")
            root.status, root.reason = "inconclusive", blip_note
        ranked, abstained, confidence_note = rank(
            run.candidates, symptom_anomalous=symptom_anomalous, blip=blip_note, th=th,
            evidence={e.id: e for e in tools.evidence}, charted=any(graph.values()))
        if confidence_note:
            run.notes.append(confidence_note)
        baseline = baseline_samples(tools, ctx.service)
        caveat = cap_by_history(ranked, baseline, th)
        summary, next_steps = render_summary(
            ctx, ranked, abstained, tools.evidence, run.notes,
            young=too_early and blip_note is not None,
            over=((over and not brief) or gone) and blip_note is not None, demand=demand)
        report = Report(
            root_causes=[c.as_root_cause() for c in ranked[:5]],
            abstained=abstained,
            summary=summary,
            hypotheses=run.hypotheses,
            evidence=tools.evidence,
            next_steps=next_steps,
            stats=Stats(elapsed_s=round(time.perf_counter() - started, 3), queries=tools.queries,
                        services_seen=len(services), baseline_samples=baseline),
            caveats=[caveat] if caveat else [],
            alert={"service": ctx.service, "signal": ctx.signal, "name": ctx.name,
                   "fired_at": hhmm(ctx.fired_at_s)},
            confidence_basis=ranked[0].basis.as_dict() if ranked and ranked[0].basis else {},
        )
        if self.assist is not None:
            await run.progress("writing the summary")
            await self._narrate(report, run, services)
        return report

    # ---- with a model -----------------------------------------------------------------------

    def _brief(self, run: Run, services: list[str], report: Report | None = None) -> str:
        ctx = run.ctx
        return brief(alert=clip(f"{ctx.name} on {ctx.service} ({ctx.signal}), fired at "
                                f"{hhmm(ctx.fired_at_s)} UTC: {ctx.summary}", 300),
                     hypotheses=run.hypotheses, evidence=run.tools.evidence,
                     services_total=len(set(services) | run.visited),
                     ranked=report.root_causes if report else (),
                     abstained=report.abstained if report else False)

    async def _narrate(self, report: Report, run: Run, services: list[str]) -> None:
        """The model's summary replaces the statistical one only when some claim survives
        the citation check; the ranking itself is always the engine's."""
        assert self.assist is not None
        checked = await self.assist.summarise(
            self._brief(run, services, report), report.evidence_by_id(),
            services=set(services) | run.visited | {h.service for h in report.hypotheses},
            supported=report.supported_services(), symptoms={run.ctx.service})
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

    async def _alert_metric(self, tools: Toolbox, ctx: AlertContext
                            ) -> tuple[AlertContext, list[str]]:
        """A metric the alert names that the alerting service does not report is set aside,
        and said to be: its series of the alert's kind are read instead, as when an alert
        names none."""
        series = (await tools.fetch_metrics(ctx.service)).series
        if not ctx.metric or not series or any(ctx.metric.lower() in s.metric.lower()
                                                for s in series):
            return ctx, []
        note = (f"the alert names the metric '{clip(ctx.metric, 80)}', which {ctx.service} "
                f"does not report: its {ctx.signal} series were read instead")
        return replace(ctx, metric=None), [note]

    async def _alert_outside_data(self, tools: Toolbox, ctx: AlertContext,
                                  step: float) -> list[str]:
        """An alert that fired before the alerting service's first sample or long after its
        last (`step`: the data's sampling step), said with its date: a day's difference
        reads as nothing in a clock time."""
        series = [s for s in (await tools.fetch_metrics(ctx.service)).series if s.t.size]
        if not series:
            return []
        first = min(float(s.t[0]) for s in series)
        last = max(float(s.t[-1]) for s in series)
        when = _instant(ctx.fired_at_s)
        if ctx.fired_at_s < first:
            return [f"the alert fired at {when}, before {ctx.service}'s first sample "
                    f"({_instant(first)}): nothing before it to judge it against"]
        if ctx.fired_at_s > last + max(5 * step, 300.0):
            return [f"the alert fired at {when}, {(ctx.fired_at_s - last) / 60:.0f} min after "
                    f"{ctx.service}'s last sample ({_instant(last)}): what happened as it "
                    f"fired is not in the data"]
        return []

    async def _symptom_onset(self, tools: Toolbox, ctx: AlertContext
                             ) -> tuple[float | None, float, float, bool]:
        """When the alerting signal's episode began, the data's sampling step, where the
        data actually starts (a window may reach back further than the telemetry), and
        whether the onset was read from the service's own error lines (the statistic had no
        episode)."""
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
            th = self.thresholds
            onset = episode_onset(series.t, series.v, at=ctx.fired_at_s,
                                  baseline_end=baseline_end,
                                  direction=direction_of(series, family),
                                  ceiling=ceiling_of(series.family, series.v),
                                  anomaly_z=th.anomaly_z, onset_z=th.onset_z,
                                  min_baseline_points=th.min_baseline_points,
                                  rare_cap=th.rare_cap)
            if onset is not None:
                onsets.append(onset)
        step = sorted(steps)[len(steps) // 2] if steps else 60.0
        if not onsets:
            # The statistic never moved (a threshold crossed by a share of requests failing
            # for half an hour): the service's own error lines may say when it began, a
            # pattern it never wrote in the reference part of the data (the first fifth),
            # written since.
            th = self.thresholds
            began = await tools.lines_onset(
                ctx.service, after=data_start + th.split_floor_share * (
                    ctx.fired_at_s - data_start),
                until=ctx.fired_at_s, min_lines=int(th.log_onset_lines))
            if began is not None:
                return began, step, data_start, True
        return (min(onsets) if onsets else None), step, data_start, False

    # ---- the catalogue ----------------------------------------------------------------------

    async def _test_symptom(self, run: Run, root: Hypothesis) -> FamilyVerdict | None:
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
        if verdict.anomalous and persistence(verdict) < self.thresholds.transient:
            root.status = "inconclusive"
            root.reason = (f"a transient blip: only {persistence(verdict):.0%} of the samples "
                           f"since {hhmm(verdict.onset)} are abnormal")
        elif blip(verdict, self.thresholds.blip_samples, self.thresholds.blip_s):
            root.status = "inconclusive"
            root.reason = (f"abnormal in only {plural(abnormal_samples(verdict) or 0, 'sample')}"
                           f" since {hhmm(verdict.onset)}: " +
                           (f"{TOO_EARLY} from a blip" if young(verdict) else "a blip, over"))
        elif recovered(verdict, self.thresholds.recovered_samples, self.thresholds.recovered_s):
            root.status, root.reason = "inconclusive", recovery(verdict)
        elif verdict.anomalous:
            root.status = "supported"
        else:
            root.status = "inconclusive"
            root.reason = f"the alerting signal is within its normal range (z={verdict.score:.1f})"
        return verdict


def effect_onset_of(symptom: FamilyVerdict | None, traced: float | None, *,
                    from_lines: bool = False) -> float | None:
    """When the alert's effect began, for every cause to be timed against: the symptom's
    onset when its statistic is abnormal. Judged and found within its normal range (a
    threshold crossed by a drift, z=2.4), its statistic places nothing: an episode traced on
    that same series is noise, and the effect is held to the moment the alert fired (None),
    as `late` and `change_window` hold an effect that could not be placed. Otherwise the
    episode `traced` on the alert's series, or the service's own new error lines."""
    if symptom is not None and symptom.anomalous:
        return symptom.onset
    if symptom is not None and symptom.anomaly is not None and not from_lines:
        return None
    return traced


def ended_after(tools: Toolbox, verdict: FamilyVerdict, moment: float) -> bool:
    """Whether a recovered verdict's episode ended after `moment` (its series' last sample
    less the time it has been back to normal)."""
    series = tools.view.series_of(verdict)
    back = verdict.anomaly.recovered_s if verdict.anomaly is not None else None
    return series is not None and series.t.size > 0 and back is not None and \
        float(series.t[-1]) - back >= moment


def baseline_samples(tools: Toolbox, service: str) -> int | None:
    """How many samples of the alerting service precede the episode (its best series)."""
    result = tools.view.metrics.get(service)
    if result is None or not result.series:
        return None
    return max(int(np.sum(np.isfinite(s.v) & (s.t < tools.split))) for s in result.series)


def cap_by_history(ranked: list[Candidate], samples: int | None, th: Thresholds) -> str | None:
    """No answer is surer than the baseline it was judged against allows. Counted in
    samples, not minutes: ten minutes at one sample a second is a long history, an hour at
    five-minute resolution a short one."""
    if samples is None:
        return None if not ranked else ("no history of the alerting service itself: the "
                                        "baseline it was judged against is unknown")
    if samples >= th.history_samples or not ranked:
        return None
    cap = th.history_floor + (1 - th.history_floor) * samples / th.history_samples
    if all(c.confidence <= cap for c in ranked):
        return None
    for candidate in ranked:
        candidate.confidence = min(candidate.confidence, cap)
    return (f"confidence capped at {cap:.0%}: the alerting service has only {samples} "
            f"sample{'s' if samples != 1 else ''} before the episode to judge it against")


def _instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def coverage_notes(run: Run, services: list[str], source: object) -> list[str]:
    """What the investigation could not use, said plainly (missing topology, traces without
    parents, services seen in one modality only, rows the source had to skip)."""
    notes = []
    if not any(run.graph.values()):
        notes.append("no call graph: no topology was given and no traces linked services, "
                     "so causes were ranked by their own anomaly and timing")
    spans = run.tools.cached_spans()
    if spans and not any(span.parent_id for span in spans):
        notes.append("the traces carry no parent ids: they could not link services or "
                     "separate a span's own time from its children's")
    silent = sorted(run.tools.silent_services)
    if silent:
        notes.append(f"{len(silent)} service(s) had no telemetry of their own "
                      f"({', '.join(silent[:4])}{', ...' if len(silent) > 4 else ''}): known "
                      f"only from the topology and what their callers' lines say")
    no_metrics = [s for s in sorted(set(services) | run.visited)
                  if (p := run.tools.view.profile(s)) is not None and p.status != "ok"
                  and s not in run.tools.silent_services]
    if no_metrics:
        notes.append(f"{len(no_metrics)} service(s) had no usable metrics "
                     f"({', '.join(no_metrics[:4])}{', ...' if len(no_metrics) > 4 else ''}): "
                     f"judged from their logs and traces alone")
    readings = getattr(source, "notes", None)
    if isinstance(readings, list):
        notes.extend(str(r) for r in readings)
    warnings = getattr(source, "warnings", None)
    if isinstance(warnings, list) and warnings:
        notes.append(f"the telemetry source reported {len(warnings)} problem(s) with its "
                     f"input, e.g. {str(warnings[0])[:140]}")
    return notes


def recovery(verdict: FamilyVerdict) -> str:
    """How an alert's signal that recovered by itself is told (`Report.recovered` reads
    `RECOVERED` back from it)."""
    back = (verdict.anomaly.recovered_s or 0.0) if verdict.anomaly is not None else 0.0
    return (f"was abnormal from {hhmm(verdict.onset)} and has been {RECOVERED} for the last "
            f"{max(back / 60, 1):.0f} min: over by itself")
