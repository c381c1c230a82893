"""The model gateway: tiers of models with fallback, circuit breakers, caps, the stop button,
redaction, and a ledger row for every call (including the ones it refused).

    response = await gateway.complete("summarizer", request, agent="sre", investigation_id=7)

raises `ModelUnavailable` when no model may or can answer; callers carry on without a model
and say why (paused, over the cap, every model failing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from integrations.llm.base import (
    LLMProvider,
    Message,
    ModelUnavailable,
    ProviderError,
    Request,
    Response,
    ToolResult,
)
from integrations.llm.prices import PriceTable
from integrations.llm.spans import model_span, record_failure, record_response
from integrations.redaction import Redactor, active
from storage.ledger import MODELS_PAUSED, Ledger
from storage.models import LLMCall, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caps:
    daily_usd: float | None = None
    per_agent_daily_usd: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Breaker:
    """Opens after `threshold` consecutive failures; lets one call through after `cooldown`."""

    threshold: int = 3
    cooldown: float = 60.0
    failures: int = 0
    open_until: float = 0.0

    def allows(self, now: float) -> bool:
        return self.failures < self.threshold or now >= self.open_until

    def success(self) -> None:
        self.failures = 0

    def failure(self, now: float, *, hard: bool = False) -> None:
        self.failures = self.threshold if hard else self.failures + 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class Gateway:
    def __init__(self, *, providers: Mapping[str, LLMProvider],
                 tiers: Mapping[str, Sequence[str]], ledger: Ledger, prices: PriceTable,
                 caps: Caps | None = None, redactor: Redactor | None = None,
                 timeout: float = 60.0, breaker_threshold: int = 3,
                 breaker_cooldown: float = 60.0, paused_by_setting: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.providers = dict(providers)
        self.tiers = {k: list(v) for k, v in tiers.items()}
        self.ledger = ledger
        self.prices = prices
        self.caps = caps or Caps()
        self.redactor = redactor  # None: the process-wide one, custom patterns included
        self.timeout = timeout
        self.paused_by_setting = paused_by_setting
        self.clock = clock
        self._breakers: dict[str, Breaker] = {}
        # Told of every call, answered, failed or refused (the service's /metrics counters).
        self.on_call: Callable[[LLMCall], None] | None = None
        self._threshold, self._cooldown = breaker_threshold, breaker_cooldown

    def breaker(self, model: str) -> Breaker:
        return self._breakers.setdefault(model, Breaker(self._threshold, self._cooldown))

    async def paused(self) -> bool:
        return self.paused_by_setting or await self.ledger.control(MODELS_PAUSED) == "true"

    async def set_paused(self, paused: bool, *, by: str) -> None:
        await self.ledger.set_control(MODELS_PAUSED, "true" if paused else "false", by=by)

    async def complete(self, tier: str, request: Request, *, agent: str,
                       incident_id: int | None = None,
                       investigation_id: int | None = None) -> Response:
        models = self.tiers.get(tier) or []
        base = LLMCall(agent=agent, tier=tier, model=models[0] if models else "none",
                       incident_id=incident_id, investigation_id=investigation_id)
        if not models:
            raise ModelUnavailable("unconfigured", f"no model is configured for {tier}")
        if await self.paused():
            await self._refuse(base, "refused_paused", "model calls are paused")
            raise ModelUnavailable("paused", "model calls are paused (/nightowl resume)")
        over = await self._over_cap(agent)
        if over:
            await self._refuse(base, "refused_cap", over)
            raise ModelUnavailable("cap", over)
        request = self._redacted(request)
        errors: list[str] = []
        for index, model in enumerate(models):
            provider = self.providers.get(model.partition(":")[0])
            breaker = self.breaker(model)
            row = LLMCall(agent=agent, tier=tier, model=model, incident_id=incident_id,
                          investigation_id=investigation_id, fallback=index > 0)
            if provider is None:
                errors.append(f"{model}: provider not configured")
                continue
            if not breaker.allows(self.clock()):
                row.status, row.error = "open_circuit", "circuit open after repeated failures"
                await self._record(row)
                errors.append(f"{model}: circuit open")
                continue
            answer = await self._attempt(model, provider, request, row)
            if answer is None:
                errors.append(f"{model}: {row.error}")
                continue
            return answer
        raise ModelUnavailable("failed", "; ".join(errors) or "no model answered")

    async def _attempt(self, model: str, provider: LLMProvider, request: Request,
                       row: LLMCall) -> Response | None:
        """One model's try: a span, the breaker, the ledger row. None when it failed."""
        breaker = self.breaker(model)
        started = time.perf_counter()
        with model_span(model, request, agent=row.agent, tier=row.tier,
                        fallback=row.fallback) as span:
            try:
                response = await asyncio.wait_for(
                    provider.complete(model.partition(":")[2], request, timeout=self.timeout),
                    timeout=self.timeout + 5)
            except (ProviderError, TimeoutError) as exc:
                status = exc.status if isinstance(exc, ProviderError) else "timeout"
                hard = isinstance(exc, ProviderError) and not exc.retryable
                breaker.failure(self.clock(), hard=hard)
                row.status, row.error = status, str(exc)[:500] or status
                row.latency_ms = int((time.perf_counter() - started) * 1000)
                record_failure(span, status, row.error)
                await self._record(row)
                log.warning("model %s failed (%s); trying the next one of %s", model, status,
                            row.tier)
                return None
            breaker.success()
            usage = response.usage
            row.input_tokens, row.output_tokens = usage.input_tokens, usage.output_tokens
            row.cached_input_tokens = usage.cached_input_tokens
            row.cache_write_tokens = usage.cache_write_tokens
            row.cost_usd = self.prices.cost(model, usage)
            row.finish_reason = response.finish_reason
            row.latency_ms = int((time.perf_counter() - started) * 1000)
            response = replace(response, cost_usd=row.cost_usd)
            record_response(span, response)
            await self._record(row)
            return response

    async def _record(self, row: LLMCall) -> None:
        await self.ledger.record(row)
        if self.on_call is not None:
            self.on_call(row)

    async def _refuse(self, row: LLMCall, status: str, why: str) -> None:
        row.status, row.error = status, why
        await self._record(row)
        log.info("model call refused for %s: %s", row.agent, why)

    async def _over_cap(self, agent: str) -> str | None:
        today = day_start(utcnow())
        agent_cap = self.caps.per_agent_daily_usd.get(agent)
        if agent_cap is not None:
            spent = await self.ledger.spent(today, agent=agent)
            if spent >= agent_cap:
                return f"{agent} spent ${spent:.2f} of its ${agent_cap:.2f} daily cap"
        if self.caps.daily_usd is not None:
            spent = await self.ledger.spent(today)
            if spent >= self.caps.daily_usd:
                return f"model spend ${spent:.2f} reached the ${self.caps.daily_usd:.2f} daily cap"
        return None

    def _redacted(self, request: Request) -> Request:
        redact = (self.redactor or active()).redact
        messages = tuple(replace(m, text=redact(m.text), tool_results=tuple(
            ToolResult(r.call_id, redact(r.content), r.is_error) for r in m.tool_results))
            for m in request.messages)
        return replace(request, system=redact(request.system), messages=messages)


def user(text: str) -> Message:
    return Message(role="user", text=text)
