"""What an investigation starts from: the alert, its service and signal, and a time window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from integrations.telemetry.base import Window
from integrations.telemetry.promql import metric_words
from integrations.telemetry.scenario import Case

if TYPE_CHECKING:  # the ORM (SQLAlchemy, 0.1-0.4 s to import) only for incidents from storage
    from storage.models import Alert, Incident


@dataclass(frozen=True, slots=True)
class AlertContext:
    service: str
    signal: str
    fired_at_s: float
    name: str
    summary: str
    window: Window
    metric: str | None = None

    @property
    def effect(self) -> str:
        """The alerting symptom as hypotheses and reasons say it: "cart p99 latency", not
        "cart latency_p99_ms" (a signal is often a metric name)."""
        return f"{self.service} {metric_words(self.signal)[0]}"

    @classmethod
    def from_case(cls, case: Case) -> AlertContext:
        return cls(service=case.alert.service, signal=case.alert.signal,
                   fired_at_s=case.alert.fired_at.timestamp(), name=case.alert.name,
                   summary=case.alert.summary, window=case.window, metric=case.alert.metric)

    @classmethod
    def from_incident(cls, incident: Incident, alerts: Sequence[Alert], *,
                      lookback_minutes: int = 120) -> AlertContext:
        from storage.models import as_utc, utcnow

        firing = [a for a in alerts if a.status == "firing"] or list(alerts)
        fired = min((as_utc(a.started_at) for a in firing), default=as_utc(incident.opened_at))
        # Up to now, but a re-investigation days later still looks at the hour after firing,
        # not at days of telemetry.
        end = min(max(utcnow(), fired + timedelta(minutes=5)), fired + timedelta(minutes=60))
        first = firing[0] if firing else None
        return cls(service=incident.service, signal=str(incident.signal),
                   fired_at_s=fired.timestamp(),
                   name=(first.labels.get("alertname") if first else None) or incident.title,
                   summary=incident.title,
                   window=Window(fired - timedelta(minutes=lookback_minutes), end))
