"""Evaluate compiled Sigma rules over a batch of events in an in-memory SQLite database.

One table per log type holds the events of that type, one `TEXT COLLATE NOCASE` column per
field any loaded rule of that type reads (a rule that names a field no event carries reads
NULL: the column exists for every row). Every rule is one `SELECT rowid ... WHERE <predicate>`
on its log type's table. `regexp` is registered (SQLite ships none) with a compiled-pattern
cache; a pattern Python cannot compile fails only its own rule.

What goes wrong is counted and named, never raised: a rule whose query fails is reported with
its file and line; events of a log type no loaded rule reads are kept (they are still in the
scan's input and in the report's `uncovered` counts) rather than dropped silently.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from integrations.security.entities import extract_entities
from integrations.security.flatten import Wanted, flatten_for
from integrations.security.sigma import FULLTEXT_COLUMN, CompiledRule, RuleSet
from integrations.security.suppressions import Suppression
from integrations.security.types import SecurityEvent, SecuritySignal

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str | None, value: object) -> bool | None:
    if pattern is None or value is None:
        return None
    return _compiled(pattern).search(value if isinstance(value, str) else str(value)) is not None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: CompiledRule
    events: tuple[SecurityEvent, ...]


@dataclass(slots=True)
class ScanResult:
    signals: list[SecuritySignal] = field(default_factory=list)
    matches: list[RuleMatch] = field(default_factory=list)
    events: int = 0
    by_log_type: Counter[str] = field(default_factory=Counter)
    uncovered: Counter[str] = field(default_factory=Counter)  # log types no loaded rule reads
    rules_evaluated: int = 0
    suppressed: int = 0
    problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        parts = [
            f"{self.events} events",
            f"{self.rules_evaluated} rules",
            f"{len(self.signals)} signals",
        ]
        if self.suppressed:
            parts.append(f"{self.suppressed} suppressed matches")
        if self.uncovered:
            kinds = ", ".join(f"{k} ({n})" for k, n in sorted(self.uncovered.items()))
            parts.append(f"no rules for: {kinds}")
        if self.problems:
            parts.append(f"{len(self.problems)} rule errors")
        return "; ".join(parts)


class SigmaEngine:
    """Runs one `RuleSet` over batches of events. Stateless between batches."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._by_type: dict[str, list[CompiledRule]] = defaultdict(list)
        for rule in rules.rules:
            self._by_type[rule.log_type].append(rule)
        self._columns: dict[str, tuple[str, ...]] = {}
        self._wanted: dict[str, Wanted] = {}
        for log_type, type_rules in self._by_type.items():
            cols = sorted({c for r in type_rules for c in r.columns} - {FULLTEXT_COLUMN})
            self._columns[log_type] = tuple(cols)
            self._wanted[log_type] = Wanted.of(cols)

    def match(self, events: Sequence[SecurityEvent]) -> tuple[list[RuleMatch], ScanResult]:
        """Every rule's matching events, before suppressions and grouping."""
        started = time.perf_counter()
        result = ScanResult(events=len(events))
        grouped: dict[str, list[SecurityEvent]] = defaultdict(list)
        for ev in events:
            grouped[ev.log_type].append(ev)
            result.by_log_type[ev.log_type] += 1
        conn = sqlite3.connect(":memory:")
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        matches: list[RuleMatch] = []
        try:
            for index, (log_type, batch) in enumerate(sorted(grouped.items())):
                rules = self._by_type.get(log_type)
                if not rules:
                    result.uncovered[log_type] += len(batch)
                    continue
                table = f"t{index}"
                self._load(conn, table, log_type, batch)
                for rule in rules:
                    result.rules_evaluated += 1
                    try:
                        rows = conn.execute(
                            f"SELECT rowid FROM {table} WHERE {rule.where}"
                        ).fetchall()
                    except (sqlite3.Error, re.error, ValueError) as exc:
                        result.problems.append(
                            f"{rule.location}: rule {rule.title!r} failed: {exc}"
                        )
                        continue
                    if rows:
                        hit = tuple(batch[rowid - 1] for (rowid,) in rows)
                        matches.append(RuleMatch(rule, hit))
        finally:
            conn.close()
        result.matches = matches
        result.elapsed_s = time.perf_counter() - started
        return matches, result

    def _load(
        self, conn: sqlite3.Connection, table: str, log_type: str, batch: Sequence[SecurityEvent]
    ) -> None:
        cols = self._columns[log_type]
        fulltext = any(FULLTEXT_COLUMN in r.columns for r in self._by_type[log_type])
        names = list(cols) + ([FULLTEXT_COLUMN] if fulltext else [])
        if not names:
            names = ["_none"]
        ddl = ", ".join(f"{_quote(c)} TEXT COLLATE NOCASE" for c in names)
        conn.execute(f"CREATE TABLE {table} ({ddl})")
        wanted = self._wanted[log_type]
        marks = ", ".join("?" for _ in names)

        def rows() -> object:
            for ev in batch:
                flat = flatten_for(log_type, ev.event, wanted)
                values = [flat.value(c) for c in cols]
                if fulltext:
                    values.append(json.dumps(ev.event, default=str))
                if not cols and not fulltext:
                    values.append(None)
                yield values

        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows())  # type: ignore[arg-type]

    def evaluate(
        self,
        events: Sequence[SecurityEvent],
        *,
        suppressions: Sequence[Suppression] = (),
        now: datetime | None = None,
    ) -> ScanResult:
        """Signals for a batch: one per rule and principal, suppressed matches dropped."""
        now = now or datetime.now(UTC)
        matches, result = self.match(events)
        live = [s for s in suppressions if s.live(now)]
        for match in matches:
            rule = match.rule
            groups: dict[str, list[tuple[SecurityEvent, dict[str, str]]]] = defaultdict(list)
            for ev in match.events:
                ents = extract_entities(ev.log_type, ev.event).as_dict()
                principal = ents.get("user")
                if any(
                    s.covers(rule_id=rule.id, rule_title=rule.title, principal=principal)
                    for s in live
                ):
                    result.suppressed += 1
                    continue
                groups[(principal or "").lower()].append((ev, ents))
            for members in groups.values():
                result.signals.append(_signal(rule, members))
        result.signals.sort(key=lambda s: (s.fired_at, s.rule_id))
        return result


def _signal(
    rule: CompiledRule, members: list[tuple[SecurityEvent, dict[str, str]]]
) -> SecuritySignal:
    members.sort(key=lambda m: m[0].ts)
    entities: dict[str, str] = {}
    for _, ents in reversed(members):  # the latest event's entities first, gaps filled
        for key, value in ents.items():
            entities.setdefault(key, value)
    return SecuritySignal(
        rule=rule.title,
        rule_id=rule.id,
        severity=rule.severity,
        source="sigma",
        log_type=rule.log_type,
        fired_at=members[-1][0].ts,
        event_ids=tuple(ev.id for ev, _ in members),
        entities=entities,
        techniques=rule.techniques,
        description=rule.description,
        events=tuple(ev for ev, _ in members),
    )
