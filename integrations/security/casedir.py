"""The security case directory of DESIGN.md, served like a live source.

```
case.json      required: {"id", "signal", "context", "window"}
events.jsonl   required: {"id", "log_type", "ts", "event"} per line
truth.json     optional, evals only: never opened here
```

`CaseDirectorySource` implements `SecuritySource`, so the triage agent cannot tell a case
directory from CloudTrail or Okta. Bad input: a missing or unreadable `case.json` /
`events.jsonl`, or a `case.json` without a usable signal, raises `CaseError` naming the file
and the problem. A malformed `events.jsonl` line is skipped, counted and named with its line
number (`problems`); an event of a log type no source knows is kept and reported
(`unknown_log_types`); a malformed context entry (a CIDR that does not parse, a ticket without
times) is skipped and reported, never silently used.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from integrations.security.entities import extract_entities
from integrations.security.errors import EventError, SecurityError
from integrations.security.types import (
    KNOWN_LOG_TYPES,
    SecurityEvent,
    SecuritySignal,
    parse_ts,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Log types the product reads beyond the live sources' (the Panther names of the conformance
# data): kept like any other, but not reported as unknown.
EXTRA_KNOWN = ("Azure.MonitorActivity", "Azure.Audit", "GCP.AuditLog", "Okta.SystemLog")


class CaseError(SecurityError):
    """The case directory cannot be triaged; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class ChangeTicket:
    id: str
    summary: str
    principal: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    summary: str = ""


@dataclass(slots=True)
class CaseContext:
    """What the organisation knows: operator-provided, so trusted (unlike event text)."""

    known_admins: list[str] = field(default_factory=list)
    ci_principals: list[str] = field(default_factory=list)
    corporate_cidrs: list[Network] = field(default_factory=list)
    change_tickets: list[ChangeTicket] = field(default_factory=list)
    maintenance_windows: list[Window] = field(default_factory=list)


@dataclass(slots=True)
class SecurityCase:
    id: str
    signal: SecuritySignal
    context: CaseContext
    window: Window | None
    events: list[SecurityEvent]
    problems: list[str] = field(default_factory=list)
    unknown_log_types: dict[str, int] = field(default_factory=dict)

    def by_id(self) -> dict[str, SecurityEvent]:
        return {e.id: e for e in self.events}


class CaseDirectorySource:
    """A case directory as a `SecuritySource` (plus the case it describes in `case`)."""

    name = "case-directory"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.case = load_case(directory)

    @property
    def problems(self) -> list[str]:
        return self.case.problems

    async def events(self, *, start: datetime, end: datetime,
                     log_types: Collection[str] | None = None,
                     principal: str | None = None) -> list[SecurityEvent]:
        chosen = []
        for event in self.case.events:
            if not start <= event.ts < end:
                continue
            if log_types is not None and event.log_type not in log_types:
                continue
            if principal is not None and \
                    extract_entities(event.log_type, event.event).principal != principal:
                continue
            chosen.append(event)
        return chosen


def load_case(directory: Path) -> SecurityCase:
    if not directory.is_dir():
        raise CaseError(f"{directory}: not a directory")
    raw = _read_json(directory / "case.json")
    if not isinstance(raw, dict):
        raise CaseError(f"{directory / 'case.json'}: must be a JSON object")
    try:
        signal = SecuritySignal.from_case_signal(raw.get("signal"), where="case.json: signal")
    except EventError as exc:
        raise CaseError(str(exc)) from exc
    problems: list[str] = []
    context = _context(raw.get("context"), problems)
    window = _window(raw.get("window"), "case.json: window", problems)
    events, unknown = _events(directory / "events.jsonl", problems)
    known = {e.id for e in events}
    missing = [i for i in signal.event_ids if i not in known]
    if missing:
        problems.append(f"case.json: signal.event_ids not in events.jsonl: "
                        f"{', '.join(missing[:10])}")
    return SecurityCase(id=str(raw.get("id") or directory.name), signal=signal,
                        context=context, window=window, events=events, problems=problems,
                        unknown_log_types=unknown)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(f"{path}: missing (a security case needs case.json and "
                        f"events.jsonl)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"{path}: cannot be read ({exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from exc


def _events(path: Path, problems: list[str]) -> tuple[list[SecurityEvent], dict[str, int]]:
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise CaseError(f"{path}: missing (a security case needs case.json and "
                        f"events.jsonl)") from None
    except OSError as exc:
        raise CaseError(f"{path}: cannot be read ({exc})") from exc
    events: list[SecurityEvent] = []
    seen: set[str] = set()
    skipped: list[str] = []
    unknown: Counter[str] = Counter()
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"events.jsonl line {number}"
            try:
                event = SecurityEvent.from_json(json.loads(line), where=where)
            except json.JSONDecodeError as exc:
                skipped.append(f"{where}: not JSON ({exc.msg})")
                continue
            except EventError as exc:
                skipped.append(str(exc))
                continue
            if event.id in seen:
                skipped.append(f"{where}: duplicate id {event.id!r} (the first is kept)")
                continue
            seen.add(event.id)
            if event.log_type not in KNOWN_LOG_TYPES and event.log_type not in EXTRA_KNOWN:
                unknown[event.log_type] += 1
            events.append(event)
    if skipped:
        problems.append(f"skipped {len(skipped)} malformed event line(s): "
                        + "; ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else ""))
    if unknown:
        problems.append("kept events of log types no source knows: " + ", ".join(
            f"{name} ({count})" for name, count in sorted(unknown.items())))
    events.sort(key=lambda e: e.ts)
    return events, dict(unknown)


def _strings(raw: Mapping[str, Any], key: str, problems: list[str]) -> list[str]:
    value = raw.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"case.json: context.{key} is not a list; ignored")
        return []
    kept = [v for v in value if isinstance(v, str) and v]
    if len(kept) != len(value):
        problems.append(f"case.json: context.{key}: skipped {len(value) - len(kept)} entries "
                        f"that are not names")
    return kept  # exactly as written: no trimming, so "admin " stays distinct from "admin"


def _window(raw: Any, where: str, problems: list[str]) -> Window | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: not an object; ignored")
        return None
    try:
        start, end = parse_ts(raw.get("start")), parse_ts(raw.get("end"))
    except (ValueError, OverflowError, OSError) as exc:
        problems.append(f"{where}: start/end not timestamps ({exc}); ignored")
        return None
    if end < start:
        problems.append(f"{where}: ends before it starts; ignored")
        return None
    summary = raw.get("summary") or raw.get("name") or raw.get("id") or ""
    return Window(start, end, str(summary))


def _context(raw: Any, problems: list[str]) -> CaseContext:
    context = CaseContext()
    if raw is None:
        return context
    if not isinstance(raw, dict):
        problems.append("case.json: context is not an object; no context used")
        return context
    context.known_admins = _strings(raw, "known_admins", problems)
    context.ci_principals = _strings(raw, "ci_principals", problems)
    for cidr in _strings(raw, "corporate_cidrs", problems):
        try:
            context.corporate_cidrs.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            problems.append(f"case.json: context.corporate_cidrs: {cidr!r} is not a network; "
                            f"skipped")
    tickets = raw.get("change_tickets") or []
    for index, item in enumerate(tickets if isinstance(tickets, list) else [], 1):
        where = f"case.json: context.change_tickets[{index}]"
        span = _window(item, where, problems) if isinstance(item, dict) else None
        principal = item.get("principal") if isinstance(item, dict) else None
        if span is None or not isinstance(principal, str) or not principal:
            problems.append(f"{where}: needs principal, start and end; skipped")
            continue
        context.change_tickets.append(ChangeTicket(
            id=str(item.get("id") or f"ticket-{index}"), summary=str(item.get("summary") or ""),
            principal=principal, start=span.start, end=span.end))
    windows = raw.get("maintenance_windows") or []
    for index, item in enumerate(windows if isinstance(windows, list) else [], 1):
        span = _window(item, f"case.json: context.maintenance_windows[{index}]", problems)
        if span is not None:
            context.maintenance_windows.append(span)
    return context
