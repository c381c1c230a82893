"""One service, several spellings: the alert's labels, the topology and the telemetry may
write the same service as `ts-order-service`, `ts_order_service` or `TS-Order-Service`. The
investigation speaks the telemetry's spelling, where the evidence is; a name that matches
no service there, or matches several, is left as it is."""

from __future__ import annotations

import re
from collections.abc import Iterable


def key(name: str) -> str:
    """A service name without case or separators (letters and digits of any script kept)."""
    return re.sub(r"[\W_]", "", name.casefold())


class Spellings:
    def __init__(self, known: Iterable[str]) -> None:
        self.known = set(known)
        self._by_key: dict[str, set[str]] = {}
        for name in self.known:
            self._by_key.setdefault(key(name), set()).add(name)

    def resolve(self, name: str) -> str:
        """`name` as the telemetry spells it, when exactly one of its services matches."""
        if name in self.known or not key(name):  # nothing to match on: "--", "" or "…"
            return name
        matches = self._by_key.get(key(name), set())
        return next(iter(matches)) if len(matches) == 1 else name
