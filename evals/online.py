"""Online evaluation: what responders said about the diagnoses, and cases exported from it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from integrations.telemetry.base import TelemetrySource, Window
from storage.models import Feedback, as_utc
from storage.repository import Store

CONFIRMED = "up"
REJECTED = ("down", "wrong_cause")


async def summarise(store: Store) -> dict[str, Any]:
    """Accuracy by day, service and alert name, from 👍 / 👎 / "wrong cause" feedback."""
    rows = await store.feedback_rows()
    latest: dict[int, Feedback] = {}
    for row in rows:  # the last word on an investigation counts
        latest[row.investigation_id] = row
    by_day: dict[str, list[bool]] = defaultdict(list)
    by_service: dict[str, list[bool]] = defaultdict(list)
    by_alert: dict[str, list[bool]] = defaultdict(list)
    for investigation_id, feedback in latest.items():
        investigation = await store.investigation(investigation_id)
        correct = feedback.verdict == CONFIRMED
        by_day[as_utc(feedback.at).date().isoformat()].append(correct)
        by_service[investigation.top_service or "(abstained)"].append(correct)
        name = str(investigation.result.get("alert", {}).get("name") or "unknown")
        by_alert[name].append(correct)

    def table(groups: dict[str, list[bool]]) -> dict[str, dict[str, float | int]]:
        return {k: {"rated": len(v), "accuracy": sum(v) / len(v)}
                for k, v in sorted(groups.items())}

    total = [f.verdict == CONFIRMED for f in latest.values()]
    return {"rated_investigations": len(total),
            "accuracy": (sum(total) / len(total)) if total else None,
            "by_day": table(by_day), "by_service": table(by_service),
            "by_alert": table(by_alert)}


async def export_case(store: Store, incident_id: int, out: Path,
                      telemetry: TelemetrySource) -> Path:
    """Write a labelled scenario directory from a production incident a responder corrected."""
    incident = await store.incident(incident_id)
    investigation = await store.latest_investigation(incident_id)
    if investigation is None:
        raise ValueError(f"incident {incident_id} was never investigated")
    corrections = [f for f in await store.feedback_rows()
                   if f.incident_id == incident_id and f.correct_service]
    if not corrections:
        raise ValueError(f"no responder has named the right cause of incident {incident_id} "
                         "(the 'Wrong cause…' button in its thread)")
    truth_service = corrections[-1].correct_service
    alerts = await store.incident_alerts(incident_id)
    fired = min(as_utc(a.started_at) for a in alerts)
    from datetime import timedelta

    window = Window(fired - timedelta(hours=1), fired + timedelta(minutes=15))
    services = set(await telemetry.services(window))
    services |= {e.get("service") for e in investigation.result.get("evidence", [])
                 if e.get("service")}
    services.add(incident.service)
    topology = await telemetry.topology(window)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "metrics.csv").open("w") as handle:
        handle.write("timestamp,service,metric,value\n")
        for service in sorted(s for s in services if s):
            result = await telemetry.metrics(service, window)
            for series in result.series:
                for t, v in zip(series.t, series.v, strict=True):
                    handle.write(f"{t:.0f},{service},{series.metric},{v:.6g}\n")
    with (out / "logs.jsonl").open("w") as handle:
        for service in sorted(s for s in services if s):
            logs = await telemetry.logs(service, window, min_level="warning")
            for line in logs.lines:
                handle.write(json.dumps({"ts": line.ts, "service": service, "level": line.level,
                                         "message": line.message}) + "\n")
    kinds = {c["service"]: c["kind"] for c in investigation.result.get("root_causes", [])}
    case = {"id": f"incident-{incident_id}",
            "alert": {"name": alerts[0].labels.get("alertname", incident.title),
                      "service": incident.service, "signal": str(incident.signal),
                      "severity": str(incident.severity), "fired_at": fired.isoformat(),
                      "summary": incident.title},
            "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            "topology": [{"caller": a, "callee": b} for a, callees in topology.items()
                         for b in sorted(callees)]}
    (out / "case.json").write_text(json.dumps(case, indent=1))
    (out / "truth.json").write_text(json.dumps({
        "root_cause": {"service": truth_service, "kind": kinds.get(truth_service or "",
                                                                    "dependency")},
        "also_correct": [],
        "notes": f"exported from incident {incident_id}; cause named by {corrections[-1].user}"
                 f"{'; kind not confirmed' if truth_service not in kinds else ''}"}, indent=1))
    return out
