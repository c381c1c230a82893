"""The model gateway through the real anthropic/openai SDKs against local wire-format
servers: tool calls, fallback order, circuit breaking, caps, the stop button, redaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from integrations.llm.anthropic_provider import AnthropicProvider
from integrations.llm.base import ModelUnavailable, Request, Tool
from integrations.llm.gateway import Caps, Gateway, user
from integrations.llm.openai_provider import OpenAIProvider
from integrations.llm.prices import PriceTable
from storage.ledger import Ledger
from storage.repository import Store
from tests.fakes.llm import FakeModelServer, slow, status, text, tool
from tests.fakes.server import ServerThread


@dataclass
class Rig:
    anthropic: FakeModelServer
    openai: FakeModelServer
    anthropic_url: str
    openai_url: str


@pytest.fixture
def rig() -> Iterator[Rig]:
    a, o = FakeModelServer(), FakeModelServer()
    with ServerThread(a.app()) as sa, ServerThread(o.app()) as so:
        yield Rig(a, o, sa.url, so.url)


def gateway(rig: Rig, store: Store, *, tiers: dict[str, list[str]] | None = None,
            caps: Caps | None = None, timeout: float = 5.0) -> Gateway:
    providers = {
        "anthropic": AnthropicProvider(api_key="sk-ant-test", base_url=rig.anthropic_url,
                                       max_retries=1),
        "openai": OpenAIProvider(api_key="sk-test", base_url=f"{rig.openai_url}/v1",
                                 max_retries=1),
    }
    return Gateway(providers=providers, ledger=Ledger.beside(store), prices=PriceTable.load(),
                   tiers=tiers or {"worker": ["anthropic:claude-sonnet-4-6", "openai:gpt-5-mini"]},
                   caps=caps, timeout=timeout, breaker_threshold=2, breaker_cooldown=600)


REQUEST = Request(system="You are nightowl.", messages=(user("why is checkout slow?"),),
                  tools=(Tool("query_logs", "error logs of a service",
                              {"type": "object", "properties": {"service": {"type": "string"}},
                               "required": ["service"]}),))


async def test_tool_calls_come_back_in_one_form(rig: Rig, store: Store) -> None:
    rig.anthropic.script = [tool("query_logs", service="checkout")]
    rig.openai.script = [tool("query_logs", service="payments")]
    g = gateway(rig, store)
    first = await g.complete("worker", REQUEST, agent="chat")
    assert first.model == "anthropic:claude-sonnet-4-6" and first.finish_reason == "tool_use"
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("query_logs", {"service": "checkout"})]
    sent = rig.anthropic.requests[0]
    assert sent["tools"][0]["input_schema"]["required"] == ["service"]
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}  # prompt caching
    only_openai = gateway(rig, store, tiers={"worker": ["openai:gpt-5-mini"]})
    second = await only_openai.complete("worker", REQUEST, agent="chat")
    assert [(c.name, c.arguments) for c in second.tool_calls] == [
        ("query_logs", {"service": "payments"})]
    assert rig.openai.requests[0]["tools"][0]["function"]["name"] == "query_logs"


async def test_falls_back_on_429_5xx_and_overload_and_records_it(rig: Rig,
                                                                 store: Store) -> None:
    # The SDK retries once itself; both attempts fail, so the gateway moves on.
    rig.anthropic.script = [status(529), status(529)]
    rig.openai.script = [text("the payments database is saturated")]
    g = gateway(rig, store)
    answer = await g.complete("worker", REQUEST, agent="sre", investigation_id=None)
    assert answer.model == "openai:gpt-5-mini" and "saturated" in answer.text
    calls = await Ledger.beside(store).calls(since=__import__("storage.models").models.utcnow()
                                             .replace(year=2000))
    assert [(c.model, c.status, c.fallback) for c in calls] == [
        ("anthropic:claude-sonnet-4-6", "overloaded", False),
        ("openai:gpt-5-mini", "ok", True)]
    assert calls[1].cost_usd == pytest.approx((120 * 0.25 + 30 * 2.0) / 1e6)


async def test_circuit_opens_after_repeated_failures(rig: Rig, store: Store) -> None:
    rig.anthropic.script = [status(500)] * 4
    g = gateway(rig, store)
    for _ in range(2):
        assert (await g.complete("worker", REQUEST, agent="sre")).model == "openai:gpt-5-mini"
    served_before = len(rig.anthropic.requests)
    answer = await g.complete("worker", REQUEST, agent="sre")
    assert answer.model == "openai:gpt-5-mini"
    assert len(rig.anthropic.requests) == served_before  # not even tried: circuit open


async def test_a_slow_model_times_out_and_the_next_answers(rig: Rig, store: Store) -> None:
    rig.anthropic.script = [slow(3.0), slow(3.0)]
    g = gateway(rig, store, timeout=0.5)
    answer = await g.complete("worker", REQUEST, agent="sre")
    assert answer.model == "openai:gpt-5-mini"


async def test_every_model_failing_is_unavailable_not_a_crash(rig: Rig, store: Store) -> None:
    rig.anthropic.script = [status(503)] * 2
    rig.openai.script = [status(503)] * 2
    with pytest.raises(ModelUnavailable) as failure:
        await gateway(rig, store).complete("worker", REQUEST, agent="sre")
    assert failure.value.reason == "failed" and "anthropic:claude-sonnet-4-6" in str(failure.value)


async def test_caps_refuse_before_calling(rig: Rig, store: Store) -> None:
    g = gateway(rig, store, caps=Caps(per_agent_daily_usd={"chat": 0.00001}))
    await g.complete("worker", REQUEST, agent="chat")  # spends ~$0.0008
    with pytest.raises(ModelUnavailable) as refused:
        await g.complete("worker", REQUEST, agent="chat")
    assert refused.value.reason == "cap" and "daily cap" in str(refused.value)
    assert len(rig.anthropic.requests) == 1
    assert (await g.complete("worker", REQUEST, agent="sre")).text == "ok"  # other agents go on


async def test_the_stop_button_halts_every_call(rig: Rig, store: Store) -> None:
    g = gateway(rig, store)
    await g.set_paused(True, by="U1")
    other_replica = gateway(rig, store)
    with pytest.raises(ModelUnavailable, match="paused"):
        await other_replica.complete("worker", REQUEST, agent="sre")
    assert not rig.anthropic.requests and not rig.openai.requests
    await g.set_paused(False, by="U1")
    assert (await other_replica.complete("worker", REQUEST, agent="sre")).text == "ok"


async def test_secrets_never_reach_the_model(rig: Rig, store: Store) -> None:
    leaky = Request(system="Evidence: DATABASE_URL=postgresql://app:S3cr3tPass@db/orders",
                    messages=(user("log: auth failed for token xoxb-1234567890-abcdefghijkl"),))
    await gateway(rig, store).complete("worker", leaky, agent="sre")
    sent = str(rig.anthropic.requests[0])
    assert "S3cr3tPass" not in sent and "xoxb-1234567890" not in sent
    assert "[REDACTED:url-password]" in sent


def test_misconfigured_models_fail_at_start_naming_the_setting(store: Store) -> None:
    from bot.errors import StartupError
    from bot.models import build_gateway
    from bot.settings import ModelSettings, Settings

    def settings(**models: object) -> Settings:
        return Settings(models=ModelSettings(**models))  # type: ignore[arg-type]

    assert build_gateway(settings(), store) is None  # no provider: statistics only
    with pytest.raises(StartupError, match="NIGHTOWL_MODELS_PLANNER: 'opus' is not"):
        build_gateway(settings(anthropic_api_key="sk-ant-k", planner="opus"), store)
    with pytest.raises(StartupError, match="OPENAI_API_KEY is not set"):
        build_gateway(settings(anthropic_api_key="sk-ant-k", worker="openai:gpt-5-mini"), store)
    gateway = build_gateway(settings(anthropic_api_key="sk-ant-k"), store)
    assert gateway is not None
    assert gateway.tiers["summarizer"] == ["anthropic:claude-haiku-4-5"]
