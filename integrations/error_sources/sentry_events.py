"""The stack trace behind a Sentry issue: its latest event's exception and frames.

`GET /api/0/organizations/{org}/issues/{issue_id}/events/latest/` answers the event with
`entries`; the `exception` entry holds `values[].stacktrace.frames`, outermost first (the
order the Dev agent's frames use). The Dev agent reads it when the error scan finds a new
issue, to blame the frames' lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from integrations.errors import RemoteError
from integrations.telemetry.http import QueryFailed, get


@dataclass(frozen=True, slots=True)
class SentryFrame:
    filename: str
    lineno: int
    function: str
    in_app: bool
    context_line: str = ""


@dataclass(frozen=True, slots=True)
class StackTrace:
    type: str
    value: str
    frames: tuple[SentryFrame, ...]


class SentryEvents:
    def __init__(self, base_url: str, *, org: str, token: str,
                 client: httpx.AsyncClient | None = None, timeout: float = 15.0) -> None:
        self.org = org
        self.client = client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout,
            headers={"Authorization": f"Bearer {token}"})

    async def aclose(self) -> None:
        await self.client.aclose()

    async def latest(self, issue_id: str) -> StackTrace | None:
        """The latest event's innermost exception, or None when it has no stack trace."""
        path = f"/api/0/organizations/{self.org}/issues/{issue_id}/events/latest/"
        try:
            body = (await get(self.client, path, {})).json()
        except QueryFailed as exc:
            raise RemoteError(f"Sentry: latest event of issue {issue_id}: {exc}") from exc
        except ValueError as exc:
            raise RemoteError("Sentry: the event is not JSON") from exc
        if not isinstance(body, dict):
            raise RemoteError("Sentry: expected an event object")
        return parse_event(body)


def parse_event(event: dict[str, Any]) -> StackTrace | None:
    for entry in event.get("entries") or []:
        if not isinstance(entry, dict) or entry.get("type") != "exception":
            continue
        values = (entry.get("data") or {}).get("values") or []
        # Chained exceptions are listed cause first; the last one is what was raised.
        for value in reversed(values):
            frames = ((value or {}).get("stacktrace") or {}).get("frames") or []
            parsed = tuple(f for f in (_frame(raw) for raw in frames if isinstance(raw, dict))
                           if f is not None)
            if parsed:
                return StackTrace(str(value.get("type") or ""), str(value.get("value") or ""),
                                  parsed)
    return None


def _frame(raw: dict[str, Any]) -> SentryFrame | None:
    filename = raw.get("filename") or raw.get("absPath") or raw.get("module")
    if not filename:
        return None
    try:
        lineno = int(raw.get("lineNo") or raw.get("lineno") or 0)
    except (TypeError, ValueError):
        lineno = 0
    context = ""
    for item in raw.get("context") or []:
        if isinstance(item, list | tuple) and len(item) == 2 and item[0] == lineno:
            context = str(item[1])
    return SentryFrame(filename=str(filename), lineno=lineno,
                       function=str(raw.get("function") or ""),
                       in_app=bool(raw.get("inApp", raw.get("in_app", False))),
                       context_line=context)
