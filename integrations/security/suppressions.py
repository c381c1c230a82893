"""Per-rule suppressions: "rule R (optionally for principal P) is known noise until T".

A suppression names a rule by its id (or its title, for rules without one) and optionally one
principal; it expires at `expires_at` (None: until removed). The scan drops matches a live
suppression covers and counts them, so a report says how much was silenced and by what.

They come from a JSON file an operator edits (`NIGHTOWL_SECURITY_SUPPRESSIONS`), or from
anything else implementing `SuppressionList` (the case layer suggests one after repeated false
positives of one rule and principal).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from integrations.security.errors import SecurityConfigError
from integrations.security.types import format_ts, parse_ts


@dataclass(frozen=True, slots=True)
class Suppression:
    rule_id: str
    principal: str | None = None
    expires_at: datetime | None = None
    reason: str = ""

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def covers(self, *, rule_id: str, rule_title: str, principal: str | None) -> bool:
        if self.rule_id not in (rule_id, rule_title):
            return False
        return self.principal is None or (
            principal is not None and self.principal.lower() == principal.lower()
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "rule_id": self.rule_id,
            "principal": self.principal,
            "expires_at": format_ts(self.expires_at) if self.expires_at else None,
            "reason": self.reason,
        }


class SuppressionList(Protocol):
    def active(self, now: datetime) -> Sequence[Suppression]: ...


def parse_suppressions(data: object, *, where: str) -> list[Suppression]:
    """A JSON list of `{"rule_id", "principal"?, "expires_at"?, "reason"?}`."""
    if not isinstance(data, list):
        raise SecurityConfigError(f"{where}: must be a JSON list of suppressions")
    out: list[Suppression] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("rule_id"), str):
            raise SecurityConfigError(f"{where}[{i}]: needs a string 'rule_id'")
        expires = item.get("expires_at")
        try:
            expires_at = parse_ts(expires) if expires not in (None, "") else None
        except ValueError as exc:
            raise SecurityConfigError(f"{where}[{i}]: 'expires_at' {exc}") from exc
        principal = item.get("principal")
        out.append(
            Suppression(
                rule_id=item["rule_id"],
                principal=str(principal) if principal not in (None, "") else None,
                expires_at=expires_at,
                reason=str(item.get("reason") or ""),
            )
        )
    return out


class FileSuppressions:
    """Suppressions in a JSON file, re-read on every scan so an edit applies at the next tick."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def active(self, now: datetime) -> list[Suppression]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SecurityConfigError(
                f"NIGHTOWL_SECURITY_SUPPRESSIONS: {self.path} is not readable JSON ({exc})"
            ) from exc
        return [s for s in parse_suppressions(data, where=str(self.path)) if s.live(now)]


class StaticSuppressions:
    def __init__(self, items: Sequence[Suppression] = ()) -> None:
        self.items = list(items)

    def active(self, now: datetime) -> list[Suppression]:
        return [s for s in self.items if s.live(now)]
