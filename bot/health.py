"""What /healthz reports beyond the database: components that work, or work degraded.

Slack is the one that matters today: a token Slack refuses is caught at start (`serve`
stops), but a token revoked later, or Slack unreachable, shows up only as failed posts. The
dispatcher reports each failure and each success here, so /healthz says "degraded" while
the outbox cannot drain, instead of "ok".
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class Health:
    def __init__(self) -> None:
        self.components: dict[str, str] = {}

    def set(self, name: str, state: str) -> None:
        self.components[name] = state

    def failed(self, name: str, reason: str) -> None:
        state = f"degraded: {reason[:200]}"
        if self.components.get(name) != state:
            log.warning("%s is degraded: %s", name, reason[:200])
        self.components[name] = state

    def recovered(self, name: str) -> None:
        if self.components.get(name, "ok").startswith("degraded"):
            log.info("%s works again", name)
            self.components[name] = "ok"

    @property
    def status(self) -> str:
        return "degraded" if any(s.startswith("degraded") for s in self.components.values()) \
            else "ok"
