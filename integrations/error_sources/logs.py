"""Error logs from any telemetry source, grouped into signatures by template mining."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from integrations.error_sources.base import ScanResult, ScanWindow, SignatureCount
from integrations.error_sources.templates import TemplateMiner, TemplateStore, signature_of
from integrations.error_sources.tracebacks import parse as parse_trace
from integrations.errors import RemoteError
from integrations.redaction import clip
from integrations.telemetry.base import TelemetrySource, Window

log = logging.getLogger(__name__)

MAX_EXAMPLE_CHARS = 300
# An example holding a stack trace is kept whole up to this size (its tail first: the
# exception and the innermost frames are at the end), so the Dev agent can read its frames.
MAX_TRACE_CHARS = 6000
# Where structured loggers put the trace (Python's logging/structlog, logback/log4j JSON
# layouts, pino/winston, zap, OpenTelemetry's exception.stacktrace).
TRACE_KEYS = ("exc_info", "exc_text", "exception", "stack_trace", "stacktrace", "stack",
              "traceback", "error.stack", "error.stack_trace", "exception.stacktrace")
_TRACE_HINT = ("Traceback (most recent call last)", "\tat ", "\n    at ", "goroutine ",
               'File "')


class SignatureCounter:
    """Feeds (timestamp, message) of one service through a miner and counts each template
    before and after the window's split."""

    def __init__(self, service: str, split_ts: float, miner: TemplateMiner | None = None) -> None:
        self.service = service
        self.split_ts = split_ts
        self.miner = miner if miner is not None else TemplateMiner()
        self.baseline: list[int] = []
        self.recent: list[int] = []
        self.examples: dict[int, str] = {}

    def add(self, ts: float, message: str, detail: str = "") -> None:
        """`detail`: a stack trace the line carried beside its message (a structured log's
        `exc_info`, `stack_trace`, ...): part of the example, not of the signature."""
        cluster = self.miner.add(message)
        if detail:
            message = f"{message}\n{detail}"
        if cluster >= len(self.baseline):
            grow = cluster + 1 - len(self.baseline)
            self.baseline.extend([0] * grow)
            self.recent.extend([0] * grow)
        if ts >= self.split_ts:
            self.recent[cluster] += 1
            # Keep the newest example of a recent signature: that is what a responder reads.
            self.examples[cluster] = message
        else:
            self.baseline[cluster] += 1
            self.examples.setdefault(cluster, message)

    def add_all(self, lines: Iterable[tuple[float, str]]) -> None:
        add = self.add
        for ts, message in lines:
            add(ts, message)

    def counts(self) -> list[SignatureCount]:
        # Templates can merge as the miner learns: sum clusters that ended with one template.
        merged: dict[str, SignatureCount] = {}
        for cluster in self.miner.clusters:
            if cluster.id >= len(self.baseline) or not (self.baseline[cluster.id]
                                                        or self.recent[cluster.id]):
                continue  # a template the persisted miner knows that this scan never saw
            template = cluster.template
            signature = signature_of(self.service, template)
            entry = merged.get(signature)
            if entry is None:
                entry = merged[signature] = SignatureCount(
                    source="logs", signature=signature, service=self.service,
                    title=clip(template, 200),
                    example=example_of(self.examples.get(cluster.id, "")),
                    baseline=0, recent=0)
            entry.baseline += self.baseline[cluster.id]
            entry.recent += self.recent[cluster.id]
        return list(merged.values())


class LogErrorSource:
    """Reads error-level lines of every service from a telemetry source (Loki, scenario logs)."""

    name = "logs"

    def __init__(self, telemetry: TelemetrySource, *, max_lines_per_service: int = 50_000,
                 services: list[str] | None = None,
                 templates: TemplateStore | None = None) -> None:
        self.telemetry = telemetry
        self.max_lines = max_lines_per_service
        self.only = services
        # The miners shared with the investigator, kept between scans (None: per scan).
        self.templates = templates

    async def scan(self, window: ScanWindow) -> ScanResult:
        span = Window(window.start, window.end)
        services = self.only or await self.telemetry.services(span)
        signatures: list[SignatureCount] = []
        failures: list[str] = []
        lines_read = 0
        truncated = False
        for service in services:
            result = await self.telemetry.logs(service, span, min_level="error",
                                               limit=self.max_lines)
            if result.info.status == "error":
                failures.append(f"{service}: {result.info.error}")
                continue
            counter = SignatureCounter(service, window.split.timestamp(),
                                       self.templates.miner(service) if self.templates else None)
            add = counter.add
            for line in result.lines:
                if line.level in ("error", "fatal", "critical", "panic"):
                    # A structured line's trace may sit in an attribute of its own.
                    add(line.ts, line.message,
                        attached_trace(line.attributes) if line.attributes else "")
            lines_read += len(result.lines)
            truncated = truncated or result.truncated
            signatures.extend(counter.counts())
        if failures and len(failures) == len(services):
            raise RemoteError(f"{self.telemetry.name}: every log query failed: {failures[0]}")
        for failure in failures:
            log.warning("log scan: %s", failure)
        if self.templates is not None:
            try:
                self.templates.save()
            except OSError as exc:
                log.warning("log scan: template state not saved: %s", exc)
        return ScanResult("logs", signatures, lines_read=lines_read, truncated=truncated)


def attached_trace(attributes: dict[str, object]) -> str:
    """The stack trace a structured log line carries in a field of its own, if any."""
    for key in TRACE_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and "\n" in value:
            return value
    return ""


def example_of(message: str) -> str:
    """What a finding shows of its newest line: short, unless it carries a stack trace."""
    if not any(hint in message for hint in _TRACE_HINT) or parse_trace(message) is None:
        return clip(message, MAX_EXAMPLE_CHARS)
    if len(message) <= MAX_TRACE_CHARS:
        return message
    head = message.split("\n", 1)[0][:300]
    return f"{head}\n…\n{message[-(MAX_TRACE_CHARS - len(head) - 3):]}"
