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
from integrations.security.flatten import Row, Wanted, cell, flatten_for
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


@dataclass(frozen=True, slots=True)
class _Table:
    rules: tuple[CompiledRule, ...]
    columns: tuple[str, ...]
    wanted: Wanted
    fulltext: bool

    @classmethod
    def of(cls, rules: Sequence[CompiledRule]) -> _Table:
        cols = sorted({c for r in rules for c in r.columns} - {FULLTEXT_COLUMN})
        fulltext = any(FULLTEXT_COLUMN in r.columns for r in rules)
        return cls(tuple(rules), tuple(cols), Wanted.of(cols), fulltext)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one log type is evaluated.

    Most rules require one field (CloudTrail's `eventName`, Okta's `eventType`) to hold one of
    a few values. The field most rules bound is the key: an event whose key matches none of
    those rules' values cannot match them, so it is never flattened into their table. Rules
    that bound no key see every event, in a narrow table of only the columns they read.
    """

    key: str | None
    wanted: Wanted
    allowed: frozenset[str]
    keyed: _Table | None
    every: _Table | None

    @classmethod
    def of(cls, rules: Sequence[CompiledRule]) -> _Plan:
        counts = Counter(name for r in rules for name in r.bounds)
        key = counts.most_common(1)[0][0] if counts else None
        keyed = [r for r in rules if key is not None and key in r.bounds]
        if len(keyed) < 2:  # not worth a second table
            key, keyed = None, []
        every = [r for r in rules if r not in keyed]
        allowed = frozenset(v for r in keyed for v in r.bounds[key]) if key else frozenset()
        return cls(
            key=key,
            wanted=Wanted.of({c for r in rules for c in r.columns} | ({key} if key else set())),
            allowed=allowed,
            keyed=_Table.of(keyed) if keyed else None,
            every=_Table.of(every) if every else None,
        )


_CONTAINERS = (dict, list)


def _values(spec: _Table, flat: Row, ev: SecurityEvent) -> list[object]:
    # Most values are scalars: only objects and lists go through `cell` (JSON text).
    values: list[object] = [
        cell(v) if type(v) in _CONTAINERS else v for v in map(flat.get, spec.columns)
    ]
    if spec.fulltext:
        values.append(json.dumps(ev.event, default=str))
    return values


class SigmaEngine:
    """Runs one `RuleSet` over batches of events. Stateless between batches."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        by_type: dict[str, list[CompiledRule]] = defaultdict(list)
        for rule in rules.rules:
            by_type[rule.log_type].append(rule)
        self._plans = {log_type: _Plan.of(type_rules) for log_type, type_rules in by_type.items()}

    def plan_summary(self) -> dict[str, str]:
        """Per log type: the key field and how many rules it pre-filters (for reports)."""
        out: dict[str, str] = {}
        for log_type, plan in sorted(self._plans.items()):
            keyed = len(plan.keyed.rules) if plan.keyed else 0
            every = len(plan.every.rules) if plan.every else 0
            out[log_type] = f"key {plan.key or '-'}: {keyed} keyed rules, {every} on every event"
        return out

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
                plan = self._plans.get(log_type)
                if plan is None:
                    result.uncovered[log_type] += len(batch)
                    continue
                # One walk per event serves both tables: the key decides the keyed table.
                every_rows: list[list[object]] = []
                keyed_rows: list[list[object]] = []
                kept: list[SecurityEvent] = []
                every, keyed, key, allowed = plan.every, plan.keyed, plan.key, plan.allowed
                for ev in batch:
                    flat = flatten_for(log_type, ev.event, plan.wanted)
                    if every is not None:
                        every_rows.append(_values(every, flat, ev))
                    if keyed is not None:
                        value = flat.get(key) if key else None
                        if type(value) in _CONTAINERS:
                            value = cell(value)
                        if value is not None and str(value).lower() in allowed:
                            keyed_rows.append(_values(keyed, flat, ev))
                            kept.append(ev)
                if every is not None:
                    self._run(conn, f"a{index}", every, batch, every_rows, matches, result)
                if keyed is not None:
                    self._run(conn, f"k{index}", keyed, kept, keyed_rows, matches, result)
        finally:
            conn.close()
        result.matches = matches
        result.elapsed_s = time.perf_counter() - started
        return matches, result

    def _run(
        self,
        conn: sqlite3.Connection,
        table: str,
        spec: _Table,
        batch: Sequence[SecurityEvent],
        rows: list[list[object]],
        matches: list[RuleMatch],
        result: ScanResult,
    ) -> None:
        result.rules_evaluated += len(spec.rules)
        if not batch:
            return
        names = list(spec.columns) + ([FULLTEXT_COLUMN] if spec.fulltext else [])
        ddl = ", ".join(f"{_quote(c)} TEXT COLLATE NOCASE" for c in names)
        conn.execute(f"CREATE TABLE {table} ({ddl})")
        marks = ", ".join("?" for _ in names)
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        for rule in spec.rules:
            try:
                found = conn.execute(f"SELECT rowid FROM {table} WHERE {rule.where}").fetchall()
            except (sqlite3.Error, re.error, ValueError) as exc:
                result.problems.append(f"{rule.location}: rule {rule.title!r} failed: {exc}")
                continue
            if found:
                matches.append(RuleMatch(rule, tuple(batch[rowid - 1] for (rowid,) in found)))

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
