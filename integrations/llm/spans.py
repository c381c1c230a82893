"""OpenTelemetry spans for the agents themselves: one per model call, one per tool call.

Attributes follow the GenAI semantic conventions (gen_ai.*), plus `nightowl.cost_usd` and
the agent and tier. Without an SDK configured the API is a no-op; `bot.tracing` installs one
that exports by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from integrations.llm.base import Request, Response

_tracer = trace.get_tracer("nightowl.agents")


@contextmanager
def model_span(model: str, request: Request, *, agent: str, tier: str,
               fallback: bool) -> Iterator[Span]:
    provider, _, name = model.partition(":")
    with _tracer.start_as_current_span(f"chat {name}", kind=SpanKind.CLIENT,
                                       record_exception=False) as span:
        span.set_attributes({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.system": provider,  # the older name of the same attribute
            "gen_ai.request.model": name,
            "gen_ai.request.max_tokens": request.max_tokens,
            "nightowl.agent": agent,
            "nightowl.tier": tier,
            "nightowl.fallback": fallback,
        })
        yield span


def record_response(span: Span, response: Response) -> None:
    span.set_attributes({
        "gen_ai.response.model": response.model.partition(":")[2] or response.model,
        "gen_ai.usage.input_tokens": response.usage.input_tokens,
        "gen_ai.usage.output_tokens": response.usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": response.usage.cached_input_tokens,
        "gen_ai.response.finish_reasons": [response.finish_reason],
        "nightowl.cost_usd": response.cost_usd,
    })


def record_failure(span: Span, error_type: str, message: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message[:200]))


@contextmanager
def tool_span(tool: str, call_id: str, *, agent: str) -> Iterator[Span]:
    with _tracer.start_as_current_span(f"execute_tool {tool}", kind=SpanKind.INTERNAL,
                                       record_exception=False) as span:
        span.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                             "gen_ai.tool.call.id": call_id, "gen_ai.tool.type": "function",
                             "nightowl.agent": agent})
        yield span
