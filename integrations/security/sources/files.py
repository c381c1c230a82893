"""Security events from files: CloudTrail deliveries, GCP / Google Workspace exports, any JSON.

One reader serves every file-shaped source; what differs is the log type each record gets:

- AWS CloudTrail as S3 delivers it: `{"Records": [...]}` per file, gzip-compressed
  (`*.json.gz`), in dated folders. Point the source at the folder.
- GCP audit logs as Cloud Logging exports them (one `LogEntry` per line, or a JSON array).
- Google Workspace activities as the Admin SDK Reports API returns them
  (`{"kind": "admin#reports#activities", "items": [...]}`), or one activity per line.
- Generic JSON: a JSON array, JSON lines, or `{"Records"|"items"|"events"|"logs": [...]}`,
  with the log type given by configuration, or recognised per record (`detect_log_type`).

A record whose log type is given by nobody and recognised by nothing is kept as
`Unknown.JSON`: the scan reports how many it saw rather than dropping them. A malformed file or
line is skipped and named in `problems`; a path that does not exist fails the read
(`SourceError`): a source that is down fails the scan run, with the reason.

Files older than the window are not re-read: a file last written before `start - slack`
cannot hold events inside the window (CloudTrail writes a file after the events in it).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.security.entities import event_time, extract_entities, native_id
from integrations.security.errors import SourceError
from integrations.security.types import (
    AWS_CLOUDTRAIL,
    GCP_AUDITLOG,
    GITHUB_AUDIT,
    GSUITE_ACTIVITY,
    OKTA_SYSTEMLOG,
    SecurityEvent,
)

logger = logging.getLogger(__name__)

UNKNOWN_LOG_TYPE = "Unknown.JSON"
_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log")
_LIST_KEYS = ("Records", "items", "events", "logs", "entries", "data")


def detect_log_type(record: dict[str, Any]) -> str | None:
    """Recognise a raw record by the fields its vendor always sets."""
    if "eventSource" in record and "eventName" in record and "eventTime" in record:
        return AWS_CLOUDTRAIL
    payload = record.get("protoPayload")
    if isinstance(payload, dict) and ("methodName" in payload or "serviceName" in payload):
        return GCP_AUDITLOG
    ident = record.get("id")
    if str(record.get("kind", "")).startswith("admin#reports#activity") or (
        isinstance(ident, dict) and "applicationName" in ident and "time" in ident
    ):
        return GSUITE_ACTIVITY
    if "eventType" in record and "published" in record and "uuid" in record:
        return OKTA_SYSTEMLOG
    if (
        "action" in record
        and "actor" in record
        and ("@timestamp" in record or "created_at" in record)
    ):
        return GITHUB_AUDIT
    return None


def _is_compressed(path: Path) -> bool:
    return path.suffix == ".gz"


def _inner_suffix(path: Path) -> str:
    return Path(path.stem).suffix if _is_compressed(path) else path.suffix


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if _is_compressed(path) or raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def _records(path: Path, text: str, problems: list[str]) -> Iterator[tuple[str, Any]]:
    """(where, record) for every record in a file: one JSON document or JSON lines."""
    stripped = text.lstrip()
    if not stripped:
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        first = next(line for line in lines if line.strip())
        try:
            json.loads(first)
        except json.JSONDecodeError:
            # Not JSON lines either: one broken document, named once.
            problems.append(f"{path}:{exc.lineno}: not JSON ({exc.msg})")
            return
        # JSON lines: one record per line; a bad line is skipped and named.
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{number}", json.loads(line)
            except json.JSONDecodeError as line_exc:
                problems.append(f"{path}:{number}: not JSON ({line_exc.msg})")
        return
    if isinstance(doc, dict):
        for key in _LIST_KEYS:
            if isinstance(doc.get(key), list):
                for i, rec in enumerate(doc[key]):
                    yield f"{path}#{key}[{i}]", rec
                return
        yield str(path), doc
    elif isinstance(doc, list):
        for i, rec in enumerate(doc):
            yield f"{path}[{i}]", rec
    else:
        problems.append(f"{path}: a JSON {type(doc).__name__}, not records")


@dataclass
class FileSource:
    """Events from files and folders (searched recursively; `.gz` read transparently).

    `log_type` fixes the type of every record (the operator knows what the folder holds);
    None recognises each record (`detect_log_type`), falling back to `Unknown.JSON`.
    """

    name: str
    paths: Sequence[Path]
    log_type: str | None = None
    slack: timedelta = timedelta(hours=2)
    problems: list[str] = field(default_factory=list)

    async def events(
        self,
        *,
        start: datetime,
        end: datetime,
        log_types: Collection[str] | None = None,
        principal: str | None = None,
    ) -> list[SecurityEvent]:
        return await asyncio.to_thread(
            self.read, start=start, end=end, log_types=log_types, principal=principal
        )

    def files(self, *, since: datetime | None = None) -> list[Path]:
        found: list[Path] = []
        for root in self.paths:
            if root.is_file():
                found.append(root)
            elif root.is_dir():
                found.extend(
                    sorted(
                        p for p in root.rglob("*") if p.is_file() and _inner_suffix(p) in _SUFFIXES
                    )
                )
            else:
                raise SourceError(f"{root} does not exist or is not readable", source=self.name)
        if since is not None:
            cutoff = (since - self.slack).timestamp()
            found = [p for p in found if p.stat().st_mtime >= cutoff]
        return found

    def read(
        self,
        *,
        start: datetime,
        end: datetime,
        log_types: Collection[str] | None = None,
        principal: str | None = None,
    ) -> list[SecurityEvent]:
        self.problems = []
        out: list[SecurityEvent] = []
        wanted_types = set(log_types) if log_types else None
        who = principal.lower() if principal else None
        for path in self.files(since=start):
            try:
                text = _read_text(path)
            except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
                self.problems.append(f"{path}: unreadable ({exc})")
                continue
            for where, record in _records(path, text, self.problems):
                ev = self._event(where, record)
                if ev is None:
                    continue
                if not (start <= ev.ts < end):
                    continue
                if wanted_types is not None and ev.log_type not in wanted_types:
                    continue
                if who is not None:
                    actor = extract_entities(ev.log_type, ev.event).principal
                    if actor is None or actor.lower() != who:
                        continue
                out.append(ev)
        if self.problems:
            logger.warning(
                "%s: %d malformed records skipped, first: %s",
                self.name,
                len(self.problems),
                self.problems[0],
            )
        out.sort(key=lambda e: e.ts)
        return out

    def _event(self, where: str, record: Any) -> SecurityEvent | None:
        if not isinstance(record, dict):
            self.problems.append(f"{where}: a {type(record).__name__}, not a JSON object")
            return None
        log_type = self.log_type or detect_log_type(record) or UNKNOWN_LOG_TYPE
        ts = event_time(log_type, record)
        if ts is None:
            self.problems.append(f"{where}: no timestamp the {log_type} reader recognises")
            return None
        ident = native_id(log_type, record)
        if ident is None:
            digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode())
            ident = digest.hexdigest()[:16]
        return SecurityEvent(id=ident, log_type=log_type, ts=ts, event=record)


def cloudtrail_source(paths: Sequence[Path], *, name: str = "cloudtrail") -> FileSource:
    return FileSource(name=name, paths=paths, log_type=AWS_CLOUDTRAIL)


def gcp_audit_source(paths: Sequence[Path], *, name: str = "gcp-audit") -> FileSource:
    return FileSource(name=name, paths=paths, log_type=GCP_AUDITLOG)


def workspace_source(paths: Sequence[Path], *, name: str = "google-workspace") -> FileSource:
    return FileSource(name=name, paths=paths, log_type=GSUITE_ACTIVITY)


def json_source(
    paths: Sequence[Path], *, name: str = "json", log_type: str | None = None
) -> FileSource:
    return FileSource(name=name, paths=paths, log_type=log_type)
