"""Local servers that speak the Anthropic Messages and OpenAI Chat Completions wire formats,
with scripted replies: text, tool calls, 429/529 with retry headers, 5xx, slow answers."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations.llm.anthropic_provider import AnthropicProvider
from integrations.llm.base import LLMProvider
from integrations.llm.gateway import Caps, Gateway
from integrations.llm.openai_provider import OpenAIProvider
from integrations.llm.prices import PriceTable
from storage.ledger import Ledger
from storage.repository import Store


@dataclass
class Step:
    kind: str  # text | tool | status | slow | reply
    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    seconds: float = 0.0
    # kind "reply": the step is decided by reading the request (a model that reacts to what
    # it is shown, e.g. one that obeys instructions planted in telemetry).
    decide: Callable[[dict[str, Any]], Step] | None = None


def text(value: str) -> Step:
    return Step("text", text=value)


def tool(name: str, **arguments: Any) -> Step:
    return Step("tool", calls=[(name, arguments)])


def tools(*calls: tuple[str, dict[str, Any]]) -> Step:
    """Several tool calls in one answer."""
    return Step("tool", calls=list(calls))


def reply(decide: Callable[[dict[str, Any]], Step]) -> Step:
    """A step computed from the request body (the wire format of the provider called)."""
    return Step("reply", decide=decide)


def status(code: int) -> Step:
    return Step("status", status=code)


def slow(seconds: float, value: str = "late") -> Step:
    return Step("slow", text=value, seconds=seconds)


@dataclass
class FakeModelServer:
    """`script` is consumed one step per request; when empty, it answers "ok"."""

    script: list[Step] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Reported input tokens: a fixed number, or None to count them from the request body
    # (about four characters a token, as tokenizers average on English and JSON).
    input_tokens: int | None = 120
    counted: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    def _tokens(self) -> int:
        return self.input_tokens if self.input_tokens is not None else self.counted[-1]

    def _next(self) -> Step:
        return self.script.pop(0) if self.script else text("ok")

    async def _common(self, request: Request) -> tuple[dict[str, Any], Step | JSONResponse]:
        raw = await request.body()
        body = json.loads(raw)
        self.requests.append(body)
        prompt = {k: body.get(k) for k in ("system", "messages", "tools")}
        self.counted.append(len(json.dumps(prompt, ensure_ascii=False)) // 4)
        step = self._next()
        if step.kind == "reply" and step.decide is not None:
            step = step.decide(body)
        if step.kind == "slow":
            await asyncio.sleep(step.seconds)
        if step.kind == "status":
            error = {429: "rate_limit_error", 529: "overloaded_error"}.get(step.status,
                                                                          "api_error")
            return body, JSONResponse({"type": "error", "error": {"type": error,
                                                                  "message": error}},
                                      status_code=step.status,
                                      headers={"retry-after-ms": "10", "retry-after": "0"})
        return body, step

    def app(self) -> Starlette:
        async def messages(request: Request) -> JSONResponse:
            body, step = await self._common(request)
            if isinstance(step, JSONResponse):
                return step
            content: list[dict[str, Any]] = []
            if step.kind == "tool":
                content.extend({"type": "tool_use", "id": f"toolu_{next(self._ids)}",
                                "name": name, "input": arguments}
                               for name, arguments in step.calls)
            else:
                content.append({"type": "text", "text": step.text})
            return JSONResponse({
                "id": f"msg_{next(self._ids)}", "type": "message", "role": "assistant",
                "model": body["model"], "content": content,
                "stop_reason": "tool_use" if step.kind == "tool" else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": self._tokens(), "output_tokens": 30,
                          "cache_read_input_tokens": 100, "cache_creation_input_tokens": 0}})

        async def completions(request: Request) -> JSONResponse:
            body, step = await self._common(request)
            if isinstance(step, JSONResponse):
                return step
            message: dict[str, Any] = {"role": "assistant", "content": None}
            if step.kind == "tool":
                message["tool_calls"] = [{"id": f"call_{next(self._ids)}", "type": "function",
                                          "function": {"name": name,
                                                       "arguments": json.dumps(arguments)}}
                                         for name, arguments in step.calls]
            else:
                message["content"] = step.text
            return JSONResponse({
                "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
                "created": 1700000000, "model": body["model"],
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if step.kind == "tool" else "stop"}],
                "usage": {"prompt_tokens": self._tokens(), "completion_tokens": 30,
                          "total_tokens": self._tokens() + 30,
                          "prompt_tokens_details": {"cached_tokens": 0}}})

        return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"]),
                                 Route("/v1/chat/completions", completions, methods=["POST"])])


def gateway_for(store: Store, *, anthropic_url: str | None = None,
                openai_url: str | None = None, tiers: dict[str, list[str]] | None = None,
                caps: Caps | None = None) -> Gateway:
    """The real gateway and SDKs, pointed at local fake model servers."""
    providers: dict[str, LLMProvider] = {}
    if anthropic_url:
        providers["anthropic"] = AnthropicProvider(api_key="sk-ant-test", base_url=anthropic_url,
                                                   max_retries=0)
    if openai_url:
        providers["openai"] = OpenAIProvider(api_key="sk-test", base_url=f"{openai_url}/v1",
                                             max_retries=0)
    default = "anthropic:claude-haiku-4-5" if anthropic_url else "openai:gpt-5-mini"
    tiers = tiers or {t: [default] for t in ("planner", "worker", "summarizer")}
    return Gateway(providers=providers, tiers=tiers, ledger=Ledger.beside(store),
                   prices=PriceTable.load(), caps=caps, timeout=10)
