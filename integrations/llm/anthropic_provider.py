"""Anthropic Messages API through the official `anthropic` SDK."""

from __future__ import annotations

from typing import Any

import anthropic

from integrations.llm.base import (
    Message,
    ProviderError,
    Request,
    Response,
    ToolCall,
    Usage,
)


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None = None,
                 max_retries: int = 2) -> None:
        # The SDK's own retries (with its backoff and Retry-After handling) come first; the
        # gateway falls back to the next model only once they are spent.
        self.client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url,
                                               max_retries=max_retries)

    async def complete(self, model: str, request: Request, *, timeout: float) -> Response:
        system: list[dict[str, Any]] = [{"type": "text", "text": request.system}]
        if request.cache_prefix:
            system[0]["cache_control"] = {"type": "ephemeral"}
        kwargs: dict[str, Any] = {
            "model": model, "max_tokens": request.max_tokens, "system": system,
            "messages": [_message(m) for m in request.messages], "timeout": timeout}
        if request.tools:
            kwargs["tools"] = [{"name": t.name, "description": t.description,
                                "input_schema": t.parameters} for t in request.tools]
        try:
            answer = await self.client.messages.create(**kwargs)
        except anthropic.APITimeoutError as exc:
            raise ProviderError(f"timed out after {timeout}s", status="timeout",
                                retryable=True) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError("cannot reach the Anthropic API", status="error",
                                retryable=True) from exc
        except anthropic.APIStatusError as exc:
            raise _status_error(exc.status_code, exc.message) from exc
        texts, calls = [], []
        for block in answer.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = block.input if isinstance(block.input, dict) else {}
                calls.append(ToolCall(block.id, block.name, arguments))
        usage = answer.usage
        finish = {"end_turn": "stop", "tool_use": "tool_use", "max_tokens": "length",
                  "stop_sequence": "stop"}.get(str(answer.stop_reason), "other")
        return Response(
            model=f"anthropic:{model}", text="".join(texts), tool_calls=tuple(calls),
            finish_reason=finish,
            # Anthropic counts cache reads and writes apart from `input_tokens`; the internal
            # form counts every input token in `input_tokens`, as OpenAI does.
            usage=Usage(input_tokens=usage.input_tokens + (usage.cache_read_input_tokens or 0)
                        + (usage.cache_creation_input_tokens or 0),
                        output_tokens=usage.output_tokens,
                        cached_input_tokens=usage.cache_read_input_tokens or 0,
                        cache_write_tokens=usage.cache_creation_input_tokens or 0))


def _message(message: Message) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if message.text:
        content.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name,
                        "input": call.arguments})
    for result in message.tool_results:
        content.append({"type": "tool_result", "tool_use_id": result.call_id,
                        "content": result.content, "is_error": result.is_error})
    return {"role": message.role, "content": content}


def _status_error(status: int, message: str) -> ProviderError:
    if status == 429:
        return ProviderError(f"rate limited: {message}", status="rate_limited", retryable=True)
    if status == 529:
        return ProviderError(f"overloaded: {message}", status="overloaded", retryable=True)
    if status >= 500:
        return ProviderError(f"HTTP {status}: {message}", status="error", retryable=True)
    if status in (401, 403):
        return ProviderError(f"HTTP {status}: check the API key", status="auth",
                             retryable=False)
    return ProviderError(f"HTTP {status}: {message}", status="bad_request", retryable=False)
