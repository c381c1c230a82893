"""Thread chat: a responder's question in an incident thread, answered with evidence.

The questions it recognises (what changed, error logs, why not X, summary) are answered by
the lookups directly, with or without a model. Anything else goes to a model, which may use
the same lookups as tools and must answer in claims that cite evidence ids; claims the
citation check rejects are dropped. Without a model it says how to enable free-form questions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.chat.intents import COMMANDS, Intent, parse, strip_mentions
from agents.chat.lookups import Lookups, NotAnswerable, Thread, summary_text
from agents.citations import check_claims, parse_claims
from agents.sre.assist import brief
from agents.sre.report import Evidence
from agents.sre.wording import evidence_text
from agents.untrusted import fence, inert
from integrations.llm.base import (
    Message,
    ModelClient,
    ModelUnavailable,
    Request,
    Tool,
    ToolCall,
    ToolResult,
)
from integrations.llm.spans import record_failure, tool_span
from integrations.redaction import clip

log = logging.getLogger(__name__)

AGENT = "chat"
MAX_TURNS = 4

SYSTEM = """You are nightowl, answering an on-call engineer's question in an incident thread.
Use the investigation brief and the lookup tools; never guess. Finish by calling answer with
short claims, each citing the evidence ids (ev-N from the brief, q-N from your lookups) that
support it. If the evidence does not answer the question, say so in one claim citing what you
checked."""

TOOLS = (
    Tool("what_changed", "Change events and metrics that moved for a service recently.",
         {"type": "object", "required": ["service"],
          "properties": {"service": {"type": "string"},
                         "minutes": {"type": "integer", "minimum": 1, "maximum": 1440}}}),
    Tool("error_logs", "Error log patterns of a service since a UTC time (HH:MM).",
         {"type": "object", "required": ["service"],
          "properties": {"service": {"type": "string"}, "since": {"type": "string"}}}),
    Tool("why_not", "What the investigation found about a service it did not blame.",
         {"type": "object", "required": ["service"],
          "properties": {"service": {"type": "string"}}}),
    Tool("answer", "The final answer, as claims citing evidence ids.",
         {"type": "object", "required": ["claims"],
          "properties": {"claims": {"type": "array", "items": {
              "type": "object", "required": ["text", "evidence"],
              "properties": {"text": {"type": "string"},
                             "evidence": {"type": "array", "items": {"type": "string"}}}}}}}),
)

ENABLE_MODELS = ("Free-form questions need a model: set `ANTHROPIC_API_KEY` or "
                 "`OPENAI_API_KEY` (or `OPENAI_BASE_URL` for a local OpenAI-compatible model); "
                 "see docs/models.md.")


@dataclass
class Answer:
    text: str  # Slack mrkdwn
    model: str | None = None
    problems: list[str] = field(default_factory=list)


class ThreadChat:
    def __init__(self, model: ModelClient | None) -> None:
        self.model = model

    async def answer(self, question: str, thread: Thread) -> Answer:
        intent = parse(question)
        lookups = Lookups(thread)
        try:
            if intent is not None:
                return Answer(await self._command(intent, lookups))
            if self.model is None:
                return Answer(f"I can't answer free-form questions without a model. "
                              f"{ENABLE_MODELS}\n{_usage()}")
            return await self._free_form(strip_mentions(question), lookups, thread)
        except NotAnswerable as exc:
            return Answer(str(exc))

    async def _command(self, intent: Intent, lookups: Lookups) -> str:
        if intent.kind == "help":
            return _usage()
        if intent.kind == "summary":
            return summary_text(lookups.thread.report)
        if intent.kind == "changed":
            return await lookups.what_changed(intent.target, intent.minutes)
        if intent.kind == "logs":
            return await lookups.logs(intent.target, intent.since,
                                      errors_only=intent.errors_only)
        return await lookups.why_not(intent.target)

    # ---- with a model ------------------------------------------------------------------------

    async def _free_form(self, question: str, lookups: Lookups, thread: Thread) -> Answer:
        assert self.model is not None
        report = thread.report
        context = "No investigation has finished in this thread yet."
        if report is not None:
            context = brief(alert=f"{thread.ctx.name} on {thread.ctx.service}",
                            hypotheses=report.hypotheses, evidence=report.evidence,
                            services_total=len(lookups.known_services()),
                            ranked=report.root_causes, abstained=report.abstained)
        messages = [Message("user", f"{context}\n\nQuestion: {clip(question, 1000)}")]
        answer = Answer("")
        for _ in range(MAX_TURNS):
            try:
                response = await self.model.complete("worker", Request(
                    system=SYSTEM, messages=tuple(messages), tools=TOOLS, max_tokens=900),
                    agent=AGENT, incident_id=thread.incident_id)
            except ModelUnavailable as exc:
                return Answer(f"I can't answer free-form questions right now ({exc}). "
                              f"These work without a model:\n{_usage()}")
            answer.model = response.model
            final = next((c for c in response.tool_calls if c.name == "answer"), None)
            if final is not None:
                return self._checked(final.arguments, lookups, thread, answer)
            if not response.tool_calls:
                answer.problems.append("the model answered without citing evidence")
                break
            messages.append(Message("assistant", response.text, tool_calls=response.tool_calls))
            results = []
            for call in response.tool_calls:
                with tool_span(call.name, call.id, agent=AGENT) as span:
                    content, is_error = await self._tool(call, lookups)
                    if is_error:
                        record_failure(span, "invalid_call", content)
                results.append(ToolResult(call.id, fence(content, label=f"tool {call.name}"),
                                          is_error))
            messages.append(Message("user", tool_results=tuple(results)))
        answer.text = ("I couldn't back an answer to that with evidence. "
                       f"These questions I can answer:\n{_usage()}")
        return answer

    async def _tool(self, call: ToolCall, lookups: Lookups) -> tuple[str, bool]:
        args = call.arguments
        service = args.get("service")
        if not isinstance(service, str) or not service:
            return "error: 'service' is missing", True
        try:
            if call.name == "what_changed":
                minutes = args.get("minutes", 60)
                return await lookups.what_changed(
                    service, int(minutes) if isinstance(minutes, int | float) else 60), False
            if call.name == "error_logs":
                since = _hhmm(args.get("since"))
                return await lookups.logs(service, since), False
            if call.name == "why_not":
                return await lookups.why_not(service), False
        except NotAnswerable as exc:
            return f"error: {exc}", True
        return f"error: there is no tool called {call.name!r}", True

    def _checked(self, arguments: Mapping[str, Any], lookups: Lookups, thread: Thread,
                 answer: Answer) -> Answer:
        claims, problems = parse_claims(arguments.get("claims"))
        report = thread.report
        evidence: dict[str, Evidence] = {e.id: e for e in lookups.evidence}
        supported: set[str] = set()
        if report is not None:
            evidence |= report.evidence_by_id()
            supported = report.supported_services()
        checked = check_claims(claims, evidence, services=lookups.known_services(),
                               supported=supported, symptoms={thread.ctx.service})
        answer.problems = [*answer.problems, *problems, *checked.problems]
        if not checked.claims:
            answer.text = ("I couldn't back an answer to that with evidence"
                           + (f" ({len(answer.problems)} claims set aside)"
                              if answer.problems else "") + ".")
            return answer
        lines = [f"• {inert(c.text)} {' '.join(f'`{e}`' for e in c.evidence)}"
                 for c in checked.claims]
        used = list(dict.fromkeys(e for c in checked.claims for e in c.evidence))
        lines.append("*Evidence*")
        lines += [f"`{e}` {inert(clip(evidence_text(evidence[e]), 200))}" for e in used[:10]]
        removed = len(claims) - len(checked.claims)
        if removed:
            lines.append(f"_{removed} claim{'s' if removed > 1 else ''} without supporting "
                         f"evidence {'were' if removed > 1 else 'was'} removed._")
        answer.text = "\n".join(lines)
        return answer


def _usage() -> str:
    return "Ask me:\n" + "\n".join(f"• {c}" for c in COMMANDS)


def _hhmm(value: object) -> tuple[int, int] | None:
    if not isinstance(value, str) or ":" not in value:
        return None
    hh, _, mm = value.strip().partition(":")
    if hh.isdigit() and mm[:2].isdigit() and int(hh) < 24 and int(mm[:2]) < 60:
        return int(hh), int(mm[:2])
    return None
