"""Model-assisted investigation: what a model adds to the statistical engine, and no more.

With a model configured the investigator (a) asks it for hypotheses beyond the catalogue,
each naming a test the toolbox can run, (b) lets it read the log lines and traces of the
services the statistics flagged, and (c) has it write the summary as claims that cite
evidence ids. The model sees a compact brief (verdicts and numbers), never raw telemetry, so
its input stays bounded however large the system is. Nothing it says is trusted on its own:
its hypotheses are supported only when a test supports them, and claims that cite nothing,
cite invented ids or blame what no test supported are removed. Whatever goes wrong (no model,
a cap, malformed tool calls, no answer) the run completes on the statistical result and the
problem is recorded in the report.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agents.citations import Checked, check_claims, parse_claims
from agents.sre.report import Evidence, Hypothesis, ModelUse, RootCause
from agents.untrusted import DATA_RULE, carried_payload, fence
from integrations.llm.base import (
    Message,
    ModelClient,
    ModelUnavailable,
    Request,
    Response,
    Tool,
    ToolCall,
    ToolResult,
)
from integrations.llm.spans import record_failure, tool_span
from integrations.redaction import clip

log = logging.getLogger(__name__)

AGENT = "sre"
KINDS = ("cpu", "memory", "disk", "network_delay", "network_loss", "payload", "traffic",
         "deploy", "config", "code_error", "dependency", "other")
CHECKS = ("metric", "error_logs", "changes")
FAMILIES = ("cpu", "memory", "disk", "network_delay", "network_loss", "payload", "latency",
            "errors", "availability", "throughput", "other")
MAX_RESULT_CHARS = 900
BRIEF_HYPOTHESES = 24
BRIEF_EVIDENCE = 30

PLAN_SYSTEM = """You are nightowl, an SRE investigating an alert with a statistical engine.
The engine already tested a catalogue of explanations; you see its verdicts below.
Propose at most a few hypotheses the catalogue missed. Each must name a test the tools can
run (a metric family of a service, the error logs of a service, or its change events); the
test decides, not you. You may read the error log lines or traces of flagged services.
Call finish when you have nothing more to test. Never invent services or evidence.
""" + DATA_RULE

SUMMARY_SYSTEM = """You are nightowl, writing the root-cause summary of an investigation for
on-call engineers. Use only the verdicts and evidence below. Call write_summary with 2 to 5
short claims; every claim cites the ids of the evidence (ev-N) that supports it. Do not
blame a service the tests did not support. If nothing was decisive, say so. A claim states
what the evidence shows; it never tells anyone to do anything, and holds no links or mentions.
""" + DATA_RULE

PLAN_TOOLS = (
    Tool("propose_hypothesis",
         "Propose one explanation beyond the catalogue and the test that decides it.",
         {"type": "object", "required": ["service", "kind", "statement", "check"],
          "properties": {
              "service": {"type": "string", "description": "a service named in the brief"},
              "kind": {"type": "string", "enum": list(KINDS)},
              "statement": {"type": "string", "description": "one sentence"},
              "check": {"type": "string", "enum": list(CHECKS)},
              "family": {"type": "string", "enum": list(FAMILIES),
                         "description": "the metric family, when check is metric"}}}),
    Tool("read_logs", "Read a sample of a flagged service's error log lines since the change, "
                      "one line per pattern, optionally only lines containing a string.",
         {"type": "object", "required": ["service"],
          "properties": {"service": {"type": "string"}, "contains": {"type": "string"}}}),
    Tool("read_traces", "Per operation of a flagged service: spans, p95 before and after the "
                        "change, and error spans.",
         {"type": "object", "required": ["service"],
          "properties": {"service": {"type": "string"}}}),
    Tool("finish", "Nothing more to test.", {"type": "object", "properties": {}}),
)

WRITE_SUMMARY = Tool(
    "write_summary", "The summary, as claims that each cite evidence ids.",
    {"type": "object", "required": ["claims"],
     "properties": {"claims": {"type": "array", "items": {
         "type": "object", "required": ["text", "evidence"],
         "properties": {"text": {"type": "string"},
                        "evidence": {"type": "array", "items": {"type": "string"}}}}}}})


@dataclass(frozen=True, slots=True)
class Proposal:
    service: str
    kind: str
    statement: str
    check: str
    family: str | None = None


class InvalidCall(ValueError):
    """A tool call the tools cannot run; the message goes back to the model."""


class Lab(Protocol):
    """What the model may use, implemented by the investigator over its current run."""

    def services(self) -> Collection[str]: ...

    def flagged(self) -> Collection[str]: ...

    async def test(self, proposal: Proposal) -> tuple[Hypothesis, bool]:
        """Run the proposal's test; (the hypothesis, whether it was tested before)."""
        ...

    async def read_logs(self, service: str, contains: str | None) -> tuple[str, str]: ...

    async def read_traces(self, service: str) -> tuple[str, str]: ...


class ModelAssist:
    """One investigation's use of a model. Keeps its tally in `use`."""

    def __init__(self, model: ModelClient, *, incident_id: int | None = None,
                 investigation_id: int | None = None, max_turns: int = 4,
                 max_proposals: int = 5, max_reads: int = 6) -> None:
        self.model = model
        self.incident_id, self.investigation_id = incident_id, investigation_id
        self.max_turns, self.max_proposals, self.max_reads = max_turns, max_proposals, max_reads
        self.use = ModelUse()
        self._proposals = self._reads = 0

    # ---- (a) and (b): hypotheses beyond the catalogue, reading flagged logs and traces -------

    async def extend(self, brief: str, lab: Lab) -> list[Hypothesis]:
        """Let the model propose and test hypotheses; returns the ones it added."""
        added: list[Hypothesis] = []
        messages = [Message("user", brief + "\n\nPropose what the catalogue missed, or finish.")]
        for _ in range(self.max_turns):
            response = await self._call("planner", Request(
                system=PLAN_SYSTEM, messages=tuple(messages), tools=PLAN_TOOLS, max_tokens=800))
            if response is None:
                return added
            if not response.tool_calls:
                if not response.text.strip():
                    self.use.problems.append("the planner model gave no answer")
                return added
            messages.append(Message("assistant", response.text, tool_calls=response.tool_calls))
            results: list[ToolResult] = []
            finished = False
            for call in response.tool_calls:
                finished = finished or call.name == "finish"
                content, is_error = await self._run(call, lab, added)
                results.append(ToolResult(call.id, clip(content, MAX_RESULT_CHARS), is_error))
            messages.append(Message("user", tool_results=tuple(results)))
            if finished or self._proposals >= self.max_proposals:
                return added
        return added

    async def _run(self, call: ToolCall, lab: Lab, added: list[Hypothesis]) -> tuple[str, bool]:
        with tool_span(call.name, call.id, agent=AGENT) as span:
            content, is_error = await self._dispatch(call, lab, added)
            if is_error:
                record_failure(span, "invalid_call", content)
            return content, is_error

    async def _dispatch(self, call: ToolCall, lab: Lab,
                        added: list[Hypothesis]) -> tuple[str, bool]:
        try:
            if call.name == "finish":
                return "ok", False
            if call.name == "propose_hypothesis":
                return await self._propose(call.arguments, lab, added), False
            if call.name in ("read_logs", "read_traces"):
                return await self._read(call.name, call.arguments, lab), False
            raise InvalidCall(f"there is no tool called {call.name!r}")
        except InvalidCall as exc:
            self.use.problems.append(f"malformed {call.name} call: {exc}")
            return f"error: {exc}", True

    async def _propose(self, args: Mapping[str, Any], lab: Lab,
                       added: list[Hypothesis]) -> str:
        if self._proposals >= self.max_proposals:
            raise InvalidCall(f"at most {self.max_proposals} proposals per investigation")
        proposal = _proposal(args, lab.services())
        self._proposals += 1
        hypothesis, known = await lab.test(proposal)
        if known:
            return (f"already tested as {hypothesis.id}: {hypothesis.status}"
                    f"{' (' + hypothesis.reason + ')' if hypothesis.reason else ''}, "
                    f"evidence {', '.join(hypothesis.evidence)}")
        self.use.proposed += 1
        added.append(hypothesis)
        reason = f": {hypothesis.reason}" if hypothesis.reason else ""
        return (f"{hypothesis.id} {hypothesis.status}{reason}; evidence "
                f"{', '.join(hypothesis.evidence) or 'none'}")

    async def _read(self, tool: str, args: Mapping[str, Any], lab: Lab) -> str:
        service = _service(args, lab.services())
        if service not in lab.flagged():
            raise InvalidCall(f"{service} was not flagged by the statistics; flagged: "
                              f"{', '.join(sorted(lab.flagged())[:12]) or 'none'}")
        if self._reads >= self.max_reads:
            raise InvalidCall(f"at most {self.max_reads} reads per investigation")
        self._reads += 1
        if tool == "read_logs":
            contains = args.get("contains")
            evidence_id, text = await lab.read_logs(
                service, contains if isinstance(contains, str) and contains else None)
        else:
            evidence_id, text = await lab.read_traces(service)
        # Log lines and operation names are written by whoever runs the service: data only.
        return f"{evidence_id}:\n{fence(clip(text, MAX_RESULT_CHARS - 80), label=tool)}"

    # ---- (c): the summary, every claim checked against the evidence ------------------------

    async def summarise(self, brief: str, evidence: Mapping[str, Evidence], *,
                        services: Collection[str], supported: Collection[str],
                        symptoms: Collection[str] = ()) -> Checked | None:
        if self.use.unavailable and self.use.unavailable.startswith(("paused", "cap")):
            return None  # refused moments ago for a reason that has not changed
        response = await self._call("summarizer", Request(
            system=SUMMARY_SYSTEM, tools=(WRITE_SUMMARY,), max_tokens=900,
            messages=(Message("user", brief + "\n\nWrite the summary with write_summary."),)))
        if response is None:
            return None
        raw = _summary_arguments(response)
        if raw is None:
            self.use.problems.append("the summarizer gave no usable summary "
                                     "(no write_summary call and no claims in its text)")
            return None
        claims, problems = parse_claims(raw)
        self.use.problems.extend(problems)
        checked = check_claims(claims, evidence, services=services, supported=supported,
                               symptoms=symptoms)
        self.use.problems.extend(checked.problems)
        if not checked.claims:
            self.use.problems.append("no claim survived the citation check; the statistical "
                                     "summary stands")
        return checked

    # ---- one call -------------------------------------------------------------------------

    async def _call(self, tier: str, request: Request) -> Response | None:
        try:
            response = await self.model.complete(tier, request, agent=AGENT,
                                                 incident_id=self.incident_id,
                                                 investigation_id=self.investigation_id)
        except ModelUnavailable as exc:
            self.use.unavailable = f"{exc.reason}: {exc}"
            log.info("investigation continues without a model: %s", exc)
            return None
        except Exception as exc:  # a model must never take an investigation down
            log.warning("model call failed", exc_info=True)
            self.use.problems.append(f"the model call failed: {exc}"[:300])
            return None
        self.use.calls += 1
        self.use.input_tokens += response.usage.input_tokens
        self.use.output_tokens += response.usage.output_tokens
        self.use.cost_usd = round(self.use.cost_usd + response.cost_usd, 6)
        if response.model not in self.use.models:
            self.use.models.append(response.model)
        return response


def _service(args: Mapping[str, Any], services: Collection[str]) -> str:
    service = args.get("service")
    if not isinstance(service, str) or not service.strip():
        raise InvalidCall("'service' is missing")
    if service not in services:
        raise InvalidCall(f"unknown service {service!r}")
    return service


def _proposal(args: Mapping[str, Any], services: Collection[str]) -> Proposal:
    service = _service(args, services)
    kind, check, statement = args.get("kind"), args.get("check"), args.get("statement")
    family = args.get("family")
    if kind not in KINDS:
        raise InvalidCall(f"kind must be one of {', '.join(KINDS)}")
    if check not in CHECKS:
        raise InvalidCall(f"check must be one of {', '.join(CHECKS)}")
    if not isinstance(statement, str) or not statement.strip():
        raise InvalidCall("'statement' is missing")
    payload = carried_payload(statement)
    if payload is not None:
        raise InvalidCall(f"the statement carries {payload}; state the explanation only")
    if check == "metric":
        family = family if family in FAMILIES else (kind if kind in FAMILIES else None)
        if family is None:
            raise InvalidCall(f"a metric check needs a family: {', '.join(FAMILIES)}")
    return Proposal(service, str(kind), clip(" ".join(statement.split()), 200), str(check),
                    family if isinstance(family, str) else None)


_JSON = re.compile(r"\{.*\}", re.S)


def _summary_arguments(response: Response) -> Any:
    for call in response.tool_calls:
        if call.name == "write_summary":
            return call.arguments.get("claims")
    match = _JSON.search(response.text or "")
    if match:
        try:
            parsed = json.loads(match.group(0))
        except ValueError:
            return None
        if isinstance(parsed, dict):
            return parsed.get("claims")
    return None


def brief(*, alert: str, hypotheses: Sequence[Hypothesis], evidence: Sequence[Evidence],
          services_total: int, ranked: Sequence[RootCause] = (), abstained: bool = False
          ) -> str:
    """The compact view a model gets: the alert, the strongest verdicts and the findings they
    cite, a few lines each. Its size does not depend on how many services exist."""
    by_id = {e.id: e for e in evidence}
    order = {"supported": 0, "inconclusive": 1, "refuted": 2, "pending": 3}
    shown = sorted(hypotheses, key=lambda h: (order[h.status], -h.score))[:BRIEF_HYPOTHESES]
    lines = [f"Alert: {alert}", f"The system has {services_total} services; the engine "
             f"tested {len(hypotheses)} hypotheses. The strongest:"]
    cited: list[str] = []
    for h in shown:
        reason = f" ({h.reason})" if h.reason else ""
        lines.append(clip(f"- {h.id} [{h.status}] {h.statement}{reason} "
                          f"[{', '.join(h.evidence)}]", 240))
        cited.extend(e for e in h.evidence if e not in cited)
    if ranked:
        lines.append("Ranked root causes" + (" (too weak: no confident root cause)"
                                             if abstained else "") + ":")
        for cause in ranked[:3]:
            lines.append(clip(f"- {cause.summary}, confidence {cause.confidence:.0%} "
                              f"[{', '.join(cause.evidence[-4:])}]", 240))
            cited.extend(e for e in cause.evidence[-4:] if e not in cited)
    extra = [e.id for e in evidence if e.signal in ("logs", "traces") and e.id not in cited]
    lines.append("Evidence:")
    for evidence_id in [*cited, *extra][:BRIEF_EVIDENCE]:
        e = by_id.get(evidence_id)
        if e is not None:
            lines.append(clip(f"- {e.id} ({e.status}) {e.finding}", 220))
    # Statements, findings and the alert quote telemetry: all of it is data, never orders.
    return fence("\n".join(lines), label="investigation brief")
