"""The model's access to a run: it proposes, the toolbox tests, the engine's rules judge.

A model-proposed hypothesis goes through the same `judge` as the catalogue's, with the role
"model" (which adds one rule: a blip that is already over does not count).
"""

from __future__ import annotations

from agents.sre.assist import Proposal
from agents.sre.candidates import Candidate
from agents.sre.report import Hypothesis
from agents.sre.rules.link import Cause
from agents.sre.run import Run
from agents.sre.verdicts import FamilyVerdict
from integrations.redaction import clip


class Lab:
    def __init__(self, run: Run, services: list[str], effect_onset: float | None,
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
        effect = run.ctx.effect
        symptom = (await run.tools.profile(run.ctx.service)).degradation(
            ("latency", "errors", "availability"), run.ctx.metric)
        onset: float | None = None
        causes: list[Cause] = []
        if proposal.check == "metric":
            assert proposal.family is not None
            verdict: FamilyVerdict | None = (await run.tools.profile(proposal.service)
                                             ).families.get(proposal.family)
            if verdict is None:
                h.status, h.reason = "inconclusive", f"no {proposal.family} metrics"
            else:
                h.evidence.append(run.tools.cite(verdict, effect=(effect, self.effect_onset)))
                h.score, onset = verdict.score, verdict.onset
                causes.append(verdict)
        elif proposal.check == "error_logs":
            logs = await run.tools.error_logs(proposal.service)
            if logs is None:
                h.status, h.reason = "inconclusive", "the error logs could not be read"
            else:
                h.evidence.append(logs.evidence_id)
                h.score, onset = logs.score, logs.onset
                causes.append(logs)
        else:
            events = [e for e in await run.tools.changes() if e.service == proposal.service
                      and run.judge(kind="deploy" if e.kind == "deploy" else "config",
                                    role="model", cause=e, effect=symptom,
                                    effect_onset=self.effect_onset,
                                    effect_label=effect) is None]
            for event in events[:3]:
                h.evidence.append(run.tools.cite_event(event, (effect, self.effect_onset)))
            if events:
                h.status, h.score, onset = "supported", 6.0, events[0].ts
            else:
                h.status, h.reason = "refuted", "no change events shortly before the symptom"
        for cause in causes:
            # Logs are judged as a code error whatever kind the model named.
            kind = proposal.kind if isinstance(cause, FamilyVerdict) else "code_error"
            refuted = run.judge(kind=kind, role="model", cause=cause, effect=symptom,
                                effect_onset=self.effect_onset, effect_label=effect)
            if refuted is None:
                h.status = "supported"
            else:
                h.status, h.reason = "refuted", refuted.reason
        if h.status == "supported":
            run.candidates.append(Candidate(
                service=proposal.service, kind=proposal.kind, score=h.score, onset=onset,
                evidence=list(h.evidence), hypothesis_id=h.id, depth=h.depth,
                reachable=proposal.service in run.visited))
        await run.progress(f"tested the model's hypothesis: {clip(proposal.statement, 80)}")
        return h, False
