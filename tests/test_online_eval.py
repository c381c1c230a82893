"""Online evaluation: feedback from the thread is summarised and a corrected incident becomes a
labelled case that the benchmark can run."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from bot.console import ConsoleSurface
from bot.demo.run import SCENARIOS
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from evals.cases import load_suite
from evals.online import export_case, summarise
from integrations.alerts.base import normalizers
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.scenario import ScenarioSource, load_case
from storage.models import Alert, Incident
from storage.repository import Store

SCENARIO = SCENARIOS / "frontend-latency"


def telemetry(incident: Incident, alerts: Sequence[Alert]) -> TelemetrySource:
    return ScenarioSource(SCENARIO)


async def test_feedback_summary_and_export(sqlite_store: Store, tmp_path: Path) -> None:
    service = Service(store=sqlite_store, surface=ConsoleSurface(io.StringIO()),
                      router=Router({}, "#incidents"), metrics=Metrics(),
                      telemetry_for=telemetry)
    case = load_case(SCENARIO)
    alerts = normalizers()["generic"].normalize({
        "title": case.alert.summary, "service": case.alert.service, "signal": "latency",
        "started_at": case.alert.fired_at.isoformat(),
        "labels": {"alertname": case.alert.name}}, headers={})
    summary = await service.ingest(alerts)
    await service.idle()
    incident_id = summary.incident_ids[0]
    investigation = await sqlite_store.latest_investigation(incident_id)
    assert investigation is not None and investigation.status == "done"
    assert investigation.top_service == "cart"

    empty = await summarise(sqlite_store)
    assert empty["rated_investigations"] == 0 and empty["accuracy"] is None

    assert investigation.id is not None
    await service.record_feedback(investigation.id, "U1", "up")
    await service.record_feedback(investigation.id, "U2", "wrong_cause",
                                  correct_service="mongo", comment="it was the cache")
    await service.idle()
    report = await summarise(sqlite_store)
    assert report["rated_investigations"] == 1 and report["accuracy"] == 0.0  # last word wins
    assert report["by_service"]["cart"]["rated"] == 1
    notes = [u.text for u in await sqlite_store.pending_updates(incident_id)]
    assert notes == []  # the feedback notes were posted to the thread

    out = await export_case(sqlite_store, incident_id, tmp_path / "suite" / "incident",
                            ScenarioSource(SCENARIO))
    suite = load_suite(tmp_path / "suite")
    (exported,) = suite.cases
    assert exported.truth.service == "mongo"
    assert (out / "metrics.csv").stat().st_size > 1000
    exported_source = ScenarioSource(out)
    assert "cart" in exported_source._series and exported_source.case.alert.service == "frontend"
