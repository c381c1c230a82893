"""The internal form of a model request and answer, and the provider protocol.

Providers translate to and from their wire format; everything above them (the gateway, the
agents) sees only these types, so tool use looks the same whichever model answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True, slots=True)
class Request:
    system: str
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    max_tokens: int = 1024
    temperature: float = 0.0
    # Mark the system prompt and tools cacheable where the provider supports it.
    cache_prefix: bool = True


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Response:
    model: str  # provider:model that answered
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"  # stop | tool_use | length | other
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0  # filled in by the gateway from the price table


class ProviderError(Exception):
    """A call failed. `retryable` errors (timeouts, 429, 5xx, overload) move on to the next
    model of the tier; others (bad request, auth) do too, but open the breaker at once."""

    def __init__(self, message: str, *, status: str, retryable: bool) -> None:
        super().__init__(message)
        self.status = status  # timeout | rate_limited | overloaded | error | auth | bad_request
        self.retryable = retryable


class ModelUnavailable(Exception):
    """No model answered. `reason` is paused | cap | failed | unconfigured."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class ModelClient(Protocol):
    """What agents call: the gateway, or anything that answers like it. Raises
    `ModelUnavailable` when no model may or can answer."""

    async def complete(self, tier: str, request: Request, *, agent: str,
                       incident_id: int | None = None,
                       investigation_id: int | None = None) -> Response: ...


class LLMProvider(Protocol):
    name: str  # anthropic | openai | an OpenAI-compatible endpoint's name

    async def complete(self, model: str, request: Request, *, timeout: float) -> Response: ...
