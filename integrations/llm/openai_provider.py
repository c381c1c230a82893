"""OpenAI Chat Completions through the official `openai` SDK; with `base_url` it also serves
OpenAI-compatible endpoints (vLLM, Ollama, LM Studio, ...)."""

from __future__ import annotations

import json
from typing import Any

import openai

from integrations.llm.anthropic_provider import _status_error
from integrations.llm.base import Message, ProviderError, Request, Response, ToolCall, Usage


class OpenAIProvider:
    def __init__(self, *, api_key: str, base_url: str | None = None, name: str = "openai",
                 max_retries: int = 2) -> None:
        self.name = name
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url,
                                         max_retries=max_retries)

    async def complete(self, model: str, request: Request, *, timeout: float) -> Response:
        messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
        for message in request.messages:
            messages.extend(_messages(message))
        kwargs: dict[str, Any] = {"model": model, "messages": messages,
                                  "max_tokens": request.max_tokens,
                                  "temperature": request.temperature, "timeout": timeout}
        if request.tools:
            kwargs["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in request.tools]
        try:
            answer = await self.client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            raise ProviderError(f"timed out after {timeout}s", status="timeout",
                                retryable=True) from exc
        except openai.APIConnectionError as exc:
            raise ProviderError(f"cannot reach {self.name}", status="error",
                                retryable=True) from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc.status_code, exc.message) from exc
        if not answer.choices:
            raise ProviderError("the answer has no choices", status="error", retryable=True)
        choice = answer.choices[0]
        calls: list[ToolCall] = []
        for call in choice.message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is None:
                continue
            try:
                arguments = json.loads(function.arguments or "{}")
            except json.JSONDecodeError:
                arguments = {"_malformed": function.arguments}
            calls.append(ToolCall(call.id, function.name,
                                  arguments if isinstance(arguments, dict) else {}))
        usage = answer.usage
        cached = 0
        if usage is not None and usage.prompt_tokens_details is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        finish = {"stop": "stop", "tool_calls": "tool_use", "length": "length"}.get(
            str(choice.finish_reason), "other")
        return Response(
            model=f"{self.name}:{model}", text=choice.message.content or "",
            tool_calls=tuple(calls), finish_reason=finish,
            usage=Usage(input_tokens=usage.prompt_tokens if usage else 0,
                        output_tokens=usage.completion_tokens if usage else 0,
                        cached_input_tokens=cached))


def _messages(message: Message) -> list[dict[str, Any]]:
    if message.tool_results:
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                for r in message.tool_results]
    out: dict[str, Any] = {"role": message.role, "content": message.text or None}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function", "function": {
            "name": c.name, "arguments": json.dumps(c.arguments)}} for c in message.tool_calls]
    return [out]
