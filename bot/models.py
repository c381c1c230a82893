"""Builds the model gateway from Settings, refusing to start on a misconfigured model id."""

from __future__ import annotations

import re
from pathlib import Path

from bot.errors import StartupError
from bot.settings import Settings
from integrations import redaction
from integrations.errors import ConfigurationError
from integrations.llm.base import LLMProvider
from integrations.llm.gateway import Caps, Gateway
from integrations.llm.prices import PriceTable
from storage.ledger import Ledger
from storage.repository import Store

DEFAULT_TIERS = {
    "anthropic": {"planner": "claude-opus-4-7", "worker": "claude-sonnet-4-6",
                  "summarizer": "claude-haiku-4-5"},
    "openai": {"planner": "gpt-5.1", "worker": "gpt-5-mini", "summarizer": "gpt-5-nano"},
}
TIER_SETTINGS = {"planner": "NIGHTOWL_MODELS_PLANNER", "worker": "NIGHTOWL_MODELS_WORKER",
                 "summarizer": "NIGHTOWL_MODELS_SUMMARIZER"}
KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def configure_redaction(settings: Settings) -> redaction.Redactor:
    """The process-wide redactor with `NIGHTOWL_REDACT_PATTERNS`: every sink (Slack, models,
    logs, PRs, cases) uses it from now on."""
    try:
        return redaction.configure(extra=settings.models.redact_patterns)
    except re.error as exc:
        raise StartupError(f"NIGHTOWL_REDACT_PATTERNS: a pattern does not compile: {exc}") \
            from exc


def build_gateway(settings: Settings, store: Store) -> Gateway | None:
    """The gateway, or None when no provider is configured (statistical engine only)."""
    config = settings.models
    providers: dict[str, LLMProvider] = {}
    # Each SDK is imported only when its provider is configured: together they are over a
    # second of every `serve`/`worker` start, and most deployments configure one or none.
    if config.anthropic_api_key is not None:
        from integrations.llm.anthropic_provider import AnthropicProvider

        providers["anthropic"] = AnthropicProvider(
            api_key=config.anthropic_api_key.get_secret_value(),
            base_url=config.anthropic_base_url)
    if config.openai_api_key is not None or config.openai_base_url:
        from integrations.llm.openai_provider import OpenAIProvider

        key = config.openai_api_key.get_secret_value() if config.openai_api_key else "none"
        providers["openai"] = OpenAIProvider(api_key=key, base_url=config.openai_base_url)
    tiers: dict[str, list[str]] = {}
    for tier, variable in TIER_SETTINGS.items():
        value = getattr(config, tier)
        models = [m.strip() for m in value.split(",") if m.strip()]
        if not models:
            models = [f"{p}:{DEFAULT_TIERS[p][tier]}" for p in providers]
        for model in models:
            provider, sep, name = model.partition(":")
            if not sep or not name:
                raise StartupError(f"{variable}: '{model}' is not 'provider:model' "
                                   "(e.g. anthropic:claude-sonnet-4-6, openai:gpt-5-mini)")
            if provider not in KEYS:
                raise StartupError(f"{variable}: unknown provider '{provider}' in '{model}' "
                                   "(anthropic or openai; OpenAI-compatible endpoints use "
                                   "openai with OPENAI_BASE_URL)")
            if provider not in providers:
                raise StartupError(f"{variable} names {model} but {KEYS[provider]} is not set")
        tiers[tier] = models
    if not providers:
        return None
    try:
        prices = PriceTable.load(Path(config.prices_file) if config.prices_file else None)
    except ConfigurationError as exc:
        raise StartupError(str(exc)) from exc
    return Gateway(providers=providers, tiers=tiers, ledger=Ledger.beside(store),
                   prices=prices, redactor=configure_redaction(settings),
                   caps=Caps(daily_usd=config.daily_cap_usd,
                             per_agent_daily_usd=config.agent_caps_usd),
                   timeout=config.timeout_seconds, paused_by_setting=config.paused)
