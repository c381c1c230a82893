"""An incident's severity: its own module, so that settings and the CLI can read it without
loading SQLModel (half a second of every `nightowl investigate` start)."""

from __future__ import annotations

import enum


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 0, "high": 1, "warning": 2, "info": 3}[self.value]
