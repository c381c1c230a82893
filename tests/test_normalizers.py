"""Every source's payload becomes Alerts with the fields the pipeline relies on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.alerts.base import normalizers, parse_time, severity_of, signal_of
from integrations.errors import PayloadError
from storage.models import AlertStatus, Severity, Signal

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def normalize(source: str, payload: Any, **headers: str) -> list[Any]:
    return normalizers()[source].normalize(payload, headers=headers)


def test_alertmanager_v4_keeps_every_alert_of_the_group() -> None:
    alerts = normalize("alertmanager", load("alertmanager_firing.json"))
    assert [a.service for a in alerts] == ["checkout", "cart"]
    first = alerts[0]
    assert first.status == AlertStatus.FIRING
    assert first.dedup_key == "a1b2c3d4e5f60718"
    assert first.group_key == 'alertmanager:{}:{alertname="HighLatency"}'
    assert alerts[1].group_key == first.group_key
    assert first.severity == Severity.CRITICAL and alerts[1].severity == Severity.WARNING
    assert first.signal == Signal.LATENCY
    assert first.title == "p99 latency of checkout above 1s"
    assert first.started_at == datetime(2026, 11, 22, 21, 30, 0, 123456, tzinfo=UTC)
    assert first.links["source"].startswith("http://prometheus.internal:9090/graph")
    assert first.labels["team"] == "payments"
    assert first.raw["fingerprint"] == "a1b2c3d4e5f60718"
    assert first.raw["_group"]["receiver"] == "nightowl"


def test_grafana_adds_dashboard_and_panel_links() -> None:
    (alert,) = normalize("grafana", load("grafana.json"))
    assert alert.source == "grafana" and alert.service == "payments"
    assert alert.links["dashboard"] == "https://grafana.internal/d/xyz"
    assert alert.links["panel"].endswith("viewPanel=2")
    assert alert.signal == Signal.ERRORS and alert.severity == Severity.HIGH


def test_datadog_template_fields() -> None:
    (alert,) = normalize("datadog", load("datadog.json"))
    assert alert.title == "High error rate on orders"
    assert alert.service == "orders" and alert.labels["team"] == "fulfilment"
    assert alert.severity == Severity.CRITICAL
    assert alert.group_key == "datadog:123456789"
    resolved = load("datadog.json") | {"transition": "Recovered"}
    (again,) = normalize("datadog", resolved)
    assert again.status == AlertStatus.RESOLVED and again.dedup_key == alert.dedup_key


def test_pagerduty_v3_incident_events() -> None:
    (alert,) = normalize("pagerduty", load("pagerduty.json"))
    assert alert.service == "billing-api" and alert.dedup_key == "PGR0VU2"
    assert alert.severity == Severity.CRITICAL
    assert alert.links["source"] == "https://acme.pagerduty.com/incidents/PGR0VU2"
    payload = load("pagerduty.json")
    payload["event"]["event_type"] = "incident.acknowledged"
    assert normalize("pagerduty", payload) == []
    payload["event"]["event_type"] = "incident.resolved"
    assert normalize("pagerduty", payload)[0].status == AlertStatus.RESOLVED


def test_sentry_issue_and_metric_alert() -> None:
    (issue,) = normalize("sentry", load("sentry_issue.json"), **{"sentry-hook-resource": "issue"})
    assert issue.service == "checkout" and issue.signal == Signal.ERRORS
    assert issue.dedup_key == "issue:1170820242"
    (metric,) = normalize("sentry", load("sentry_metric_alert.json"),
                          **{"sentry-hook-resource": "metric_alert"})
    assert metric.title == "Critical: Slow checkout" and metric.severity == Severity.CRITICAL
    assert metric.service == "checkout"


def test_opsgenie_create_and_close() -> None:
    (alert,) = normalize("opsgenie", load("opsgenie.json"))
    assert alert.service == "search" and alert.dedup_key == "disk-search-3"
    assert alert.severity == Severity.HIGH and alert.labels["team"] == "discovery"
    closed = load("opsgenie.json") | {"action": "Close"}
    assert normalize("opsgenie", closed)[0].status == AlertStatus.RESOLVED
    assert normalize("opsgenie", load("opsgenie.json") | {"action": "AddNote"}) == []


def test_generic_single_and_list() -> None:
    (alert,) = normalize("generic", load("generic.json"))
    assert alert.service == "exporter" and alert.dedup_key == "export-2026-11-22"
    assert alert.group_key == "generic:export-2026-11-22"
    many = normalize("generic", {"alerts": [{"title": "a"}, {"title": "b", "status": "resolved"}]})
    assert [a.status for a in many] == [AlertStatus.FIRING, AlertStatus.RESOLVED]


@pytest.mark.parametrize(("source", "payload", "message"), [
    ("alertmanager", {"version": "4"}, "'alerts'"),
    ("alertmanager", {"alerts": [{"status": "firing", "labels": {}}]}, "alerts[0].labels"),
    ("alertmanager", {"alerts": [{"status": "weird", "labels": {"a": "b"}}]}, "alerts[0].status"),
    ("alertmanager", {"alerts": [{"status": "firing", "labels": {"a": "b"},
                                  "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
    ("pagerduty", {"event": {"event_type": "incident.triggered", "data": {"id": "X"}}},
     "event.data.title"),
    ("datadog", {"title": "x"}, "alert_id"),
    ("generic", {"service": "x"}, "alerts[0].title"),
    ("generic", [], "no alerts"),
    ("opsgenie", {"action": "Create", "alert": {"message": "m"}}, "alert.alertId"),
    ("sentry", {"action": "created"}, "data"),
    ("grafana", ["not", "an", "object"], "payload must be a JSON object"),
])
def test_bad_payloads_name_the_problem(source: str, payload: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        normalize(source, payload)


def test_vocabulary_helpers() -> None:
    assert severity_of("P1") == Severity.CRITICAL and severity_of("sev3") == Severity.WARNING
    assert severity_of("bogus") == Severity.WARNING
    assert signal_of(None, "KafkaConsumerLag") == Signal.SATURATION
    # Alert names read as words: a feature flag is no lag, a downstream service no outage.
    assert signal_of(None, "FeatureFlagEvaluationsHigh") == Signal.OTHER
    assert signal_of(None, "DownstreamCallsHigh") == Signal.OTHER
    assert signal_of(None, "InstanceDown") == Signal.AVAILABILITY
    assert signal_of(None, "HTTPCode_Target_5XX_Count above 10") == Signal.ERRORS
    assert signal_of("availability", "whatever") == Signal.AVAILABILITY
    assert parse_time(1795382400000, "t") == parse_time(1795382400, "t")
    assert parse_time("2026-11-22T21:00:00+01:00", "t").hour == 20
