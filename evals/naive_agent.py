"""The naive agent, as a baseline for context size: run every query, hand the model all of it.

This is how many LLM agents investigate: list the services, fetch every service's metrics,
error logs and the change events, paste the outputs into one prompt (each tool output
truncated, as such agents do) and ask for a summary. Its input grows with the size of the
system; nightowl's hypothesis-driven investigation sends only compact verdicts. The context
benchmark (`python -m benchmarks context`) measures both through the same gateway.
"""

from __future__ import annotations

from agents.sre.context import AlertContext
from integrations.llm.base import Message, ModelClient, Request, Response
from integrations.telemetry.base import TelemetrySource

TOOL_OUTPUT_CHARS = 4000  # per tool output, a common truncation in agent frameworks

SYSTEM = """You are an SRE assistant. Below are the outputs of every telemetry query for the
system. Find the root cause of the alert and summarise it."""


async def tool_outputs(source: TelemetrySource, ctx: AlertContext) -> list[str]:
    window = ctx.window
    outputs: list[str] = []
    for service in await source.services(window):
        metrics = await source.metrics(service, window)
        text = [f"## metrics of {service}"]
        for series in metrics.series:
            values = " ".join(f"{v:.4g}" for v in series.v[::2])  # every other sample
            text.append(f"{series.metric}: {values}")
        outputs.append("\n".join(text)[:TOOL_OUTPUT_CHARS])
        logs = await source.logs(service, window, min_level="error", limit=200)
        lines = [f"{line.ts:.0f} {line.level} {line.message}" for line in logs.lines]
        outputs.append(("## error logs of " + service + "\n" + "\n".join(lines))
                       [:TOOL_OUTPUT_CHARS])
    events = await source.events(window)
    outputs.append(("## change events\n" + "\n".join(
        f"{e.ts:.0f} {e.service} {e.kind} {e.summary}" for e in events.events))
        [:TOOL_OUTPUT_CHARS])
    return outputs


async def naive_investigation(source: TelemetrySource, ctx: AlertContext,
                              model: ModelClient) -> Response:
    outputs = await tool_outputs(source, ctx)
    prompt = (f"Alert: {ctx.name} on {ctx.service} ({ctx.signal}).\n\n" + "\n\n".join(outputs)
              + "\n\nWhat is the root cause?")
    return await model.complete("summarizer", Request(
        system=SYSTEM, messages=(Message("user", prompt),), max_tokens=800),
        agent="naive-baseline")
