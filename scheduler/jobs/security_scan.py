"""The security scan: the loaded Sigma rules over every security source, since its last read.

Each source has its own cursor (storage/security_scan.py). A run reads each source from its
cursor to `now - delay` (logs arrive late), evaluates the rules, hands the signals to the
`SignalSink` (the security case layer: one case per rule and principal, repeated fires folded)
and only then moves that source's cursor. So:

- a source that is down fails the run with its reason, after the other sources were scanned;
  its cursor stays, and the next tick reads it again from there (nothing skipped, nothing
  scanned twice);
- a first run, or one after a long outage, reads at most `max_window` back;
- a malformed event or rule is skipped, counted and named in the run's summary; events of a
  log type no rule reads are counted as such, not dropped silently.

Rules are loaded once and reloaded when a rule file changes (its modification time).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from integrations.security.engine import SigmaEngine
from integrations.security.errors import SourceError
from integrations.security.sigma import RuleSet, load_rules, rule_files
from integrations.security.suppressions import StaticSuppressions, SuppressionList
from integrations.security.types import SecuritySource, SignalSink
from scheduler.jobs.base import Clock, JobOutcome
from storage.security_scan import ScanCursors

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SecurityScanPolicy:
    delay: timedelta = timedelta(minutes=15)
    first_window: timedelta = timedelta(hours=1)
    max_window: timedelta = timedelta(hours=24)


class RuleCache:
    """The rules under `roots`, reloaded when any rule file is added, removed or edited."""

    def __init__(self, roots: Sequence[Path], *, loader: Callable[[Sequence[Path]], RuleSet]
                 = load_rules) -> None:
        self.roots = list(roots)
        self._loader = loader
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._engine: SigmaEngine | None = None

    def _current_stamp(self) -> tuple[tuple[str, float], ...]:
        files, _ = rule_files(self.roots)
        stamps = []
        for path in files:
            try:
                stamps.append((str(path), path.stat().st_mtime))
            except OSError:
                stamps.append((str(path), -1.0))
        return tuple(stamps)

    def engine(self) -> SigmaEngine:
        stamp = self._current_stamp()
        if self._engine is None or stamp != self._stamp:
            rules = self._loader(self.roots)
            self._engine, self._stamp = SigmaEngine(rules), stamp
            for problem in rules.problems:
                log.warning("sigma rule skipped: %s", problem)
        return self._engine


class SecurityScanJob:
    name = "security_scan"

    def __init__(self, *, sources: Sequence[SecuritySource], rules: RuleCache, sink: SignalSink,
                 cursors: ScanCursors, clock: Clock,
                 suppressions: SuppressionList | None = None,
                 policy: SecurityScanPolicy | None = None) -> None:
        self.sources = list(sources)
        self.rules = rules
        self.sink = sink
        self.cursors = cursors
        self.clock = clock
        self.suppressions = suppressions or StaticSuppressions()
        self.policy = policy or SecurityScanPolicy()

    async def run(self, *, trigger: str) -> JobOutcome:
        now = self.clock()
        end = now - self.policy.delay
        engine = await asyncio.to_thread(self.rules.engine)
        suppressions = self.suppressions.active(now)
        failures: list[str] = []
        notes: list[str] = []
        signals = events = suppressed = 0
        uncovered: Counter[str] = Counter()
        for source in self.sources:
            cursor = await self.cursors.get(source.name)
            start = cursor if cursor is not None else end - self.policy.first_window
            if start < end - self.policy.max_window:
                notes.append(f"{source.name}: window capped at {self.policy.max_window}")
                start = end - self.policy.max_window
            if start >= end:
                continue
            try:
                batch = await source.events(start=start, end=end)
            except Exception as exc:  # a source that is down fails the run, not the others
                log.warning("security scan: source %s failed: %s", source.name, exc)
                failures.append(f"{source.name}: {exc}")
                continue
            result = await asyncio.to_thread(
                engine.evaluate, batch, suppressions=suppressions, now=now)
            if result.signals:
                await self.sink.handle(result.signals)
            await self.cursors.advance(source.name, end)
            signals += len(result.signals)
            events += result.events
            suppressed += result.suppressed
            uncovered.update(result.uncovered)
            skipped = list(getattr(source, "problems", []) or [])
            if skipped:
                notes.append(f"{source.name}: {len(skipped)} malformed records skipped "
                             f"(first: {skipped[0]})")
            notes.extend(result.problems)
        rules = engine.rules
        parts = [f"{events} events from {len(self.sources) - len(failures)} sources",
                 f"{len(rules.rules)} rules", f"{signals} signals"]
        if suppressed:
            parts.append(f"{suppressed} matches suppressed")
        if uncovered:
            parts.append("no rules for " + ", ".join(f"{k} ({n})" for k, n in
                                                      sorted(uncovered.items())))
        if rules.problems:
            parts.append(f"{len(rules.problems)} rules skipped (first: {rules.problems[0]})")
        summary = "; ".join(parts + notes)[:1500]
        if failures:
            raise SourceError("; ".join(failures) + f" (the rest: {summary})")
        return JobOutcome(items=signals, summary=summary)
