"""Builds the security case layer over the running service (one entry point calls it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.errors import StartupError
from bot.security.containment import ContainmentExecutor
from bot.security.service import SecurityConfig, SecurityService, TriageEngine
from bot.security.threads import CaseThreads
from bot.service import Service
from bot.settings import SecurityCaseSettings
from integrations.security.types import SecuritySource
from storage.models import Alert
from storage.security import SecurityStore

CONTEXT_KEYS = ("known_admins", "ci_principals", "corporate_cidrs", "change_tickets",
                "maintenance_windows")


def load_context(path: str | None) -> dict[str, Any]:
    """The operator's known-good context (NIGHTOWL_SECURITY_CONTEXT_FILE); {} when unset."""
    if not path:
        return {}
    try:
        raw = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StartupError(f"NIGHTOWL_SECURITY_CONTEXT_FILE={path}: cannot read it as JSON "
                           f"({exc})") from exc
    if not isinstance(raw, dict):
        raise StartupError(f"NIGHTOWL_SECURITY_CONTEXT_FILE={path}: must hold a JSON object")
    unknown = sorted(set(raw) - set(CONTEXT_KEYS))
    if unknown:
        raise StartupError(f"NIGHTOWL_SECURITY_CONTEXT_FILE={path}: unknown keys "
                           f"{', '.join(unknown)} (known: {', '.join(CONTEXT_KEYS)})")
    return raw


def build_security(settings: SecurityCaseSettings, service: Service, *, engine: TriageEngine,
                   sources: Sequence[SecuritySource] = (),
                   executors: Sequence[ContainmentExecutor] = ()) -> SecurityService:
    store = SecurityStore.beside(service.store)

    async def open_incident(alert: Alert) -> int | None:
        summary = await service.ingest([alert])
        return summary.incident_ids[0] if summary.incident_ids else None

    config = SecurityConfig(channel=settings.channel,
                            before=timedelta(hours=settings.lookback_hours),
                            suppress_after=settings.suppress_after,
                            context=load_context(settings.context_file))
    security = SecurityService(store=store, dispatcher=service.dispatcher, engine=engine,
                               open_incident=open_incident, config=config, sources=sources,
                               executors=executors)
    service.dispatcher.register(CaseThreads(store, service.surface,
                                            executor_names=[e.name for e in executors]))
    service.add_companion(security)
    return security
