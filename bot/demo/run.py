"""`nightowl demo`: the whole path offline, on bundled scenarios.

Alertmanager-shaped webhooks go over a real socket to the real ASGI app, land in a throwaway
SQLite database, open incidents, and start investigations against the bundled scenario
telemetry; the console surface draws each incident's thread as Slack would show it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn
from pydantic import SecretStr

from bot.chat import ThreadChatHandler
from bot.demo.security import CONTEXT, demo_source, run_security_demo
from bot.settings import SecurityCaseSettings, Settings, SlackSettings, WebhookSettings
from bot.wiring import Wiring, build
from integrations.telemetry.base import TelemetrySource
from integrations.telemetry.scenario import Case, ScenarioSource, load_case
from storage.models import Alert, Incident

SCENARIOS = Path(__file__).parent / "scenarios"


def alertmanager_payload(case: Case, *, status: str, scenario: str) -> dict[str, Any]:
    """An Alertmanager webhook (v4) for the scenario's alert, as Alertmanager would send it."""
    labels = {"alertname": case.alert.name, "service": case.alert.service,
              "severity": case.alert.severity, "signal": case.alert.signal,
              "scenario": scenario}
    starts = case.alert.fired_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    ends = ((case.alert.fired_at + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if status == "resolved" else "0001-01-01T00:00:00Z")
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="{case.alert.name}", '
                                    f'service="{case.alert.service}"}}',
        "truncatedAlerts": 0, "status": status, "receiver": "nightowl",
        "groupLabels": {"alertname": case.alert.name, "service": case.alert.service},
        "commonLabels": labels, "commonAnnotations": {"summary": case.alert.summary},
        "externalURL": "http://alertmanager.example.internal:9093",
        "alerts": [{"status": status, "labels": labels,
                    "annotations": {"summary": case.alert.summary},
                    "startsAt": starts, "endsAt": ends,
                    "generatorURL": "http://prometheus.example.internal:9090/graph",
                    "fingerprint": hashlib.sha256(scenario.encode()).hexdigest()[:16]}],
    }


def scenario_telemetry(incident: Incident, alerts: Sequence[Alert]) -> TelemetrySource | None:
    for alert in alerts:
        name = alert.labels.get("scenario")
        if name and (SCENARIOS / name).is_dir() and "/" not in name:
            return ScenarioSource(SCENARIOS / name)
    return None


async def ask_in_thread(wiring: Wiring, out: TextIO) -> None:
    """A responder's questions in the newest incident's thread (no model: the commands)."""
    incidents = await wiring.store.open_incidents()
    if not incidents:
        return
    incident = max(incidents, key=lambda i: i.id or 0)
    assert incident.id is not None
    row = await wiring.store.latest_investigation(incident.id)
    causes = (row.result.get("root_causes") if row is not None else None) or []
    suspect = causes[0]["service"] if causes else incident.service
    chat = ThreadChatHandler(wiring.service)
    for question in (f"@nightowl what changed in {suspect} in the last 90 minutes?",
                     "@nightowl why not the database?"):
        out.write(f"▶ A responder asks in incident #{incident.id}'s thread: {question}\n")
        await chat.handle(incident, user="U0DEMO", question=question)


async def run_demo(out: TextIO, *, scenarios: Sequence[str] | None = None) -> int:
    names = list(scenarios or sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir()))
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="nightowl-demo-") as tmp:
        # The demo never touches a real workspace or webhook secret, whatever the environment.
        settings = Settings(database_url=f"sqlite:///{tmp}/demo.db").model_copy(update={
            "slack": SlackSettings(bot_token=None, signing_secret=None, app_token=None),
            "webhooks": WebhookSettings(token=SecretStr(token), pagerduty_secret=None,
                                        sentry_secret=None, grafana_secret=None),
            "security_cases": SecurityCaseSettings(channel="#security",
                                                   context_file=str(CONTEXT))})
        security_source = demo_source()
        wiring = build(settings, telemetry_for=scenario_telemetry, console=out,
                       security_sources=[security_source])
        app = wiring.app
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                               lifespan="on"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        out.write(f"nightowl demo: service listening on http://127.0.0.1:{port}, "
                  f"database {tmp}/demo.db, Slack → console\n\n")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            for name in names:
                case = load_case(SCENARIOS / name)
                out.write(f"▶ Alertmanager fires {case.alert.name} on {case.alert.service} "
                          f"(scenario {name})\n")
                payload = alertmanager_payload(case, status="firing", scenario=name)
                response = await http.post("/webhooks/alertmanager", json=payload)
                out.write(f"  webhook answered {response.status_code} "
                          f"{json.dumps(response.json())}\n")
                await wiring.service.idle(timeout=120)
            await ask_in_thread(wiring, out)
            out.write("▶ Alertmanager sends the same notification again (a repeat)\n")
            await http.post("/webhooks/alertmanager", json=alertmanager_payload(
                load_case(SCENARIOS / names[0]), status="firing", scenario=names[0]))
            out.write(f"▶ {names[0]} clears: Alertmanager sends 'resolved'\n")
            await http.post("/webhooks/alertmanager", json=alertmanager_payload(
                load_case(SCENARIOS / names[0]), status="resolved", scenario=names[0]))
            await wiring.service.idle(timeout=60)
            if wiring.security is not None:
                await run_security_demo(wiring.security, security_source, out)
            metrics = (await http.get("/metrics")).text
        received = [line for line in metrics.splitlines()
                    if line.startswith(("nightowl_alerts_received_total",
                                        "nightowl_incidents_open"))]
        out.write("\n/metrics: " + "; ".join(received) + "\n")
        server.should_exit = True
        await serving
        wiring.store.close()
    return 0
