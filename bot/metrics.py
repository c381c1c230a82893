"""A small Prometheus text-format registry: counters, and gauges read at scrape time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable


class Counter:
    def __init__(self, name: str, help_text: str, labelnames: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_text, labelnames
        self._values: dict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._values[tuple(labels.get(n, "") for n in self.labelnames)] += amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(labels.get(n, "") for n in self.labelnames), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        if not self._values and not self.labelnames:
            lines.append(f"{self.name} 0")
        for key, value in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.labelnames, key)} {value:g}")
        return lines


class Gauge:
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge",
                f"{self.name} {self.read():g}"]


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in values)
    return "{" + ",".join(f'{n}="{v}"' for n, v in zip(names, escaped, strict=True)) + "}"


class Metrics:
    """The service's own metrics; gauges that need the database are refreshed before a scrape."""

    def __init__(self) -> None:
        self.alerts_received = Counter("nightowl_alerts_received_total",
                                       "Alerts accepted by the webhooks", ("source",))
        self.alerts_rejected = Counter("nightowl_alerts_rejected_total",
                                       "Webhook deliveries refused", ("source", "reason"))
        self.dead_letters = Counter("nightowl_dead_letters_total",
                                    "Authenticated payloads kept because they failed to parse",
                                    ("source",))
        self.slack_calls = Counter("nightowl_slack_calls_total", "Slack Web API calls",
                                   ("method",))
        self.slack_errors = Counter("nightowl_slack_errors_total", "Slack Web API errors",
                                    ("method", "error"))
        self.investigations = Counter("nightowl_investigations_total",
                                      "Investigations finished", ("outcome",))
        self.incidents_open = 0.0
        self.queue_depth: Callable[[], float] = lambda: 0.0
        self._gauges = [
            Gauge("nightowl_incidents_open", "Incidents not yet resolved",
                  lambda: self.incidents_open),
            Gauge("nightowl_queue_depth", "Incidents waiting for their Slack update",
                  lambda: self.queue_depth()),
        ]

    def render(self) -> str:
        lines: list[str] = []
        for counter in (self.alerts_received, self.alerts_rejected, self.dead_letters,
                        self.slack_calls, self.slack_errors, self.investigations):
            lines.extend(counter.render())
        for gauge in self._gauges:
            lines.extend(gauge.render())
        return "\n".join(lines) + "\n"
