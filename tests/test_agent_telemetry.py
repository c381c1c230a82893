"""The agents' own telemetry: a GenAI-convention span per model call and per tool call,
exported by OTLP to a local collector when configured, and model counters in /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agents.sre.assist import ModelAssist
from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from bot.metrics import Metrics
from bot.tracing import configure_tracing
from integrations.llm.base import ModelUnavailable
from integrations.llm.base import Request as ModelRequest
from integrations.llm.gateway import user
from integrations.telemetry.scenario import ScenarioSource, load_case
from storage.repository import Store
from tests.fakes.llm import FakeModelServer, gateway_for, status, tool, tools
from tests.fakes.server import ServerThread

SCENARIO = Path(__file__).parents[1] / "bot" / "demo" / "scenarios" / "frontend-latency"


class Collector:
    """A local OTLP/HTTP endpoint that keeps what it receives."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            self.bodies.append(await request.body())
            return Response(b"", media_type="application/x-protobuf")

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


async def test_spans_per_model_and_tool_call_exported_by_otlp_and_counted(
        sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    collector, model = Collector(), FakeModelServer()
    with ServerThread(collector.app()) as otlp, ServerThread(model.app()) as llm:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url)
        provider = configure_tracing()
        assert provider is not None
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        try:
            metrics = Metrics()
            gateway = gateway_for(sqlite_store, anthropic_url=llm.url)
            gateway.on_call = metrics.record_model_call
            model.script = [
                tools(("propose_hypothesis", {"service": "cart", "kind": "memory",
                                              "check": "metric", "statement": "cart leaks"}),
                      ("read_logs", {"service": "nowhere"})),
                tool("finish"),
                tool("write_summary", claims=[{"text": "cart CPU saturated",
                                               "evidence": ["ev-10"]}]),
                status(500),
            ]
            investigator = Investigator(ScenarioSource(SCENARIO), assist=ModelAssist(gateway))
            await investigator.investigate(AlertContext.from_case(load_case(SCENARIO)))
            with pytest.raises(ModelUnavailable):
                await gateway.complete("worker", ModelRequest(
                    system="s", messages=(user("hello"),)), agent="chat")
            provider.force_flush()
        finally:
            provider.shutdown()

    spans = memory.get_finished_spans()
    chats = [s for s in spans if s.name == "chat claude-haiku-4-5"]
    assert len(chats) == 4
    ok = dict(chats[0].attributes or {})
    assert ok["gen_ai.operation.name"] == "chat" and ok["gen_ai.provider.name"] == "anthropic"
    assert ok["gen_ai.request.model"] == "claude-haiku-4-5"
    assert ok["gen_ai.usage.input_tokens"] == 220 and ok["gen_ai.usage.output_tokens"] == 30
    assert ok["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert ok["nightowl.cost_usd"] > 0 and ok["nightowl.agent"] == "sre"
    failed = dict(chats[-1].attributes or {})
    assert failed["error.type"] == "error" and not chats[-1].status.is_ok

    tool_spans = {s.name: s for s in spans if s.name.startswith("execute_tool")}
    assert set(tool_spans) == {"execute_tool propose_hypothesis", "execute_tool read_logs",
                               "execute_tool finish"}
    bad = tool_spans["execute_tool read_logs"]
    assert (bad.attributes or {})["gen_ai.tool.name"] == "read_logs"
    assert not bad.status.is_ok  # 'nowhere' is not a service

    exported = b"".join(collector.bodies)
    assert b"gen_ai.usage.input_tokens" in exported and b"execute_tool propose_hypothesis" \
        in exported

    text = metrics.render()
    assert 'nightowl_model_calls_total{agent="sre",model="anthropic:claude-haiku-4-5",' \
           'status="ok"} 3' in text
    assert 'nightowl_model_calls_total{agent="chat",model="anthropic:claude-haiku-4-5",' \
           'status="error"} 1' in text
    assert 'nightowl_model_tokens_total{agent="sre",model="anthropic:claude-haiku-4-5",' \
           'direction="input"} 660' in text
    assert "nightowl_model_cost_usd_total{" in text


def test_no_endpoint_no_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert configure_tracing() is None
