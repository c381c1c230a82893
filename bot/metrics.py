"""A small Prometheus text-format registry: counters, and gauges read at scrape time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from storage.models import LLMCall


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
        self.model_calls = Counter("nightowl_model_calls_total",
                                   "Model calls by agent, model and status (ok, timeout, "
                                   "rate_limited, refused_cap, refused_paused, ...)",
                                   ("agent", "model", "status"))
        self.model_tokens = Counter("nightowl_model_tokens_total", "Model tokens by direction",
                                    ("agent", "model", "direction"))
        self.model_cost = Counter("nightowl_model_cost_usd_total",
                                  "Model spend in US dollars (from the price table)",
                                  ("agent", "model"))
        self.incidents_open = 0.0
        self.queue_depth: Callable[[], float] = lambda: 0.0
        self._gauges = [
            Gauge("nightowl_incidents_open", "Incidents not yet resolved",
                  lambda: self.incidents_open),
            Gauge("nightowl_queue_depth", "Incidents waiting for their Slack update",
                  lambda: self.queue_depth()),
        ]

    def record_model_call(self, call: LLMCall) -> None:
        """The gateway's hook: every call, answered, failed or refused."""
        self.model_calls.inc(agent=call.agent, model=call.model, status=call.status)
        for direction, tokens in (("input", call.input_tokens), ("output", call.output_tokens),
                                  ("cached_input", call.cached_input_tokens)):
            if tokens:
                self.model_tokens.inc(tokens, agent=call.agent, model=call.model,
                                      direction=direction)
        if call.cost_usd:
            self.model_cost.inc(call.cost_usd, agent=call.agent, model=call.model)

    def render(self) -> str:
        lines: list[str] = []
        for counter in (self.alerts_received, self.alerts_rejected, self.dead_letters,
                        self.slack_calls, self.slack_errors, self.investigations,
                        self.model_calls, self.model_tokens, self.model_cost):
            lines.extend(counter.render())
        for gauge in self._gauges:
            lines.extend(gauge.render())
        return "\n".join(lines) + "\n"
