"""Which channel an incident goes to: the first routed label that matches, else the default."""

from __future__ import annotations

from collections.abc import Mapping

from storage.models import Alert

ROUTED_LABELS = ("service", "team", "namespace", "source")


class Router:
    def __init__(self, routes: Mapping[str, Mapping[str, str]], default_channel: str) -> None:
        self.routes = {k: dict(v) for k, v in routes.items()}
        self.default_channel = default_channel

    def channel_for(self, alert: Alert) -> str:
        values = {"service": alert.service, "source": alert.source, **alert.labels}
        ordered = [*ROUTED_LABELS, *(k for k in self.routes if k not in ROUTED_LABELS)]
        for label in ordered:
            value = values.get(label)
            table = self.routes.get(label)
            if table and isinstance(value, str) and value in table:
                return table[value]
        return self.default_channel

    def channel_for_service(self, service: str) -> str:
        """Where a finding about `service` goes (the same routes as its alerts)."""
        table = self.routes.get("service") or {}
        return table.get(service, self.default_channel)
