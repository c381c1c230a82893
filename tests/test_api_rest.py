"""The REST API on the real wiring: tokens and scopes, bounded answers, cursors, idempotent
starts, notes that reach the thread, and refusals that name the next call."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.demo.run import SCENARIOS, alertmanager_payload, scenario_telemetry
from bot.settings import ApiSettings, ApiToken, Settings, SlackSettings, WebhookSettings
from bot.wiring import Wiring, build
from integrations.telemetry.scenario import load_case
from storage.models import AuditEvent
from tests.fakes.service import serving

WEBHOOK = "webhook-token-0123456789"
READER = "reader-token-0123456789"
WRITER = "writer-token-0123456789"
EVALER = "evaler-token-0123456789"


def api_settings(tmp: Path, *, tokens: bool = True, slack_url: str | None = None) -> Settings:
    specs = [ApiToken(name="reader", token=SecretStr(READER), scopes=["read"]),
             ApiToken(name="writer", token=SecretStr(WRITER), scopes=["read", "write"]),
             ApiToken(name="evaler", token=SecretStr(EVALER), scopes=["read", "eval"])]
    slack = (SlackSettings(bot_token=SecretStr("xoxb-test"), signing_secret=SecretStr("s"),
                           api_url=slack_url + "/api/", app_token=None)
             if slack_url else SlackSettings(bot_token=None, signing_secret=None,
                                              app_token=None))
    return Settings(database_url=f"sqlite:///{tmp}/api.db").model_copy(update={
        "slack": slack,
        "webhooks": WebhookSettings(token=SecretStr(WEBHOOK), pagerduty_secret=None,
                                    sentry_secret=None, grafana_secret=None),
        "api": ApiSettings(tokens=specs if tokens else [], public_url="http://nightowl.test",
                           mcp_token=None, slack_workspace_url="https://acme.slack.com")})


@dataclass
class Api:
    wiring: Wiring
    http: httpx.AsyncClient
    console: io.StringIO

    def as_(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def fire(self, scenario: str = "frontend-latency") -> int:
        case = load_case(SCENARIOS / scenario)
        response = await self.http.post(
            "/webhooks/alertmanager", headers=self.as_(WEBHOOK),
            json=alertmanager_payload(case, status="firing", scenario=scenario))
        assert response.status_code == 202, response.text
        await self.wiring.service.idle(timeout=120)
        return int(response.json()["incident_ids"][0])


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    console = io.StringIO()
    wiring = build(api_settings(tmp_path), telemetry_for=scenario_telemetry, console=console)
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        yield Api(wiring, http, console)
    wiring.store.close()


async def test_without_tokens_every_call_is_refused_naming_the_variable(tmp_path: Path) -> None:
    wiring = build(api_settings(tmp_path, tokens=False), telemetry_for=scenario_telemetry,
                   console=io.StringIO())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wiring.app),
                                 base_url="http://nightowl.test") as http:
        for path in ("/api/v1/incidents", "/api/v1/findings", "/api/v1/eval-runs"):
            response = await http.get(path, headers={"Authorization": f"Bearer {READER}"})
            assert response.status_code == 401
            assert "NIGHTOWL_API_TOKENS" in response.json()["error"]
    wiring.store.close()


async def test_tokens_are_checked_and_scopes_enforced(api: Api) -> None:
    assert (await api.http.get("/api/v1/incidents")).status_code == 401
    wrong = await api.http.get("/api/v1/incidents", headers=api.as_("x" * 24))
    assert wrong.status_code == 401 and wrong.json()["error"] == "unknown token"
    assert wrong.headers["www-authenticate"] == "Bearer"
    incident = await api.fire()
    refused = await api.http.post("/api/v1/investigations", headers=api.as_(READER),
                                  json={"incident_id": incident})
    assert refused.status_code == 403
    assert "'write' scope" in refused.json()["error"]
    eval_refused = await api.http.post("/api/v1/eval-runs", headers=api.as_(WRITER),
                                       json={"suites": ["synthetic"]})
    assert eval_refused.status_code == 403


async def test_incident_and_investigation_are_readable(api: Api) -> None:
    incident = await api.fire()
    listing = await api.http.get("/api/v1/incidents", headers=api.as_(READER))
    assert listing.status_code == 200
    assert [i["id"] for i in listing.json()["items"]] == [incident]
    detail = (await api.http.get(f"/api/v1/incidents/{incident}",
                                 headers=api.as_(READER))).json()
    assert detail["alerts"] and detail["latest_investigation"]["status"] == "done"
    run = detail["latest_investigation"]["id"]
    investigation = (await api.http.get(f"/api/v1/investigations/{run}",
                                        headers=api.as_(READER))).json()
    assert investigation["root_causes"], investigation
    cited = {e for c in investigation["root_causes"] for e in c["evidence"]}
    assert cited <= {e["id"] for e in investigation["evidence"]} | cited  # ids, not prose
    assert len(json.dumps(investigation)) <= 12_000  # about 4,000 tokens
    report = await api.http.get(f"/api/v1/investigations/{run}/report",
                                headers=api.as_(READER))
    assert report.headers["content-type"].startswith("text/markdown")
    assert report.text.startswith(f"# Investigation {run}")


async def test_start_investigation_is_202_with_location_and_idempotent(api: Api) -> None:
    incident = await api.fire()
    body = {"incident_id": incident, "idempotency_key": "retry-me"}
    first = await api.http.post("/api/v1/investigations", headers=api.as_(WRITER), json=body)
    second = await api.http.post("/api/v1/investigations", headers=api.as_(WRITER), json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first.headers["location"] == (f"http://nightowl.test/api/v1/investigations/"
                                         f"{first.json()['id']}")
    await api.wiring.service.idle(timeout=120)
    done = await api.http.get(f"/api/v1/investigations/{first.json()['id']}",
                              headers=api.as_(READER))
    assert done.json()["status"] == "done" and done.json()["trigger"] == "api"
    events = await api.wiring.store.audit_events(incident)
    assert any(e.action == "start_investigation" and e.actor == "api:writer" for e in events)


async def test_notes_reach_the_thread_escaped_and_masked(api: Api) -> None:
    incident = await api.fire()
    text = "<!channel> rolled back; token ghp_" + "a" * 36
    response = await api.http.post(f"/api/v1/incidents/{incident}/notes",
                                    headers=api.as_(WRITER), json={"text": text})
    assert response.status_code == 202, response.text
    await api.wiring.service.idle(timeout=30)
    thread = api.console.getvalue()
    assert "Note from api:writer" in thread
    assert "<!channel>" not in thread and "ghp_aaaa" not in thread
    events: list[AuditEvent] = await api.wiring.store.audit_events(incident)
    assert [e.actor for e in events if e.action == "api_note"] == ["api:writer"]


async def test_acknowledge_resolve_and_reopen_as_the_buttons_do(api: Api) -> None:
    incident = await api.fire()
    base = f"/api/v1/incidents/{incident}"
    read_only = await api.http.post(f"{base}/resolve", headers=api.as_(READER))
    assert read_only.status_code == 403
    acked = await api.http.post(f"{base}/acknowledge", headers=api.as_(WRITER))
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "api:writer"
    resolved = await api.http.post(f"{base}/resolve", headers=api.as_(WRITER))
    assert resolved.json()["status"] == "resolved"
    again = await api.http.post(f"{base}/resolve", headers=api.as_(WRITER))
    assert again.status_code == 200 and again.json()["status"] == "resolved"  # no change
    reopened = await api.http.post(f"{base}/reopen", headers=api.as_(WRITER))
    assert reopened.json()["status"] == "open"
    missing = await api.http.post("/api/v1/incidents/424242/resolve", headers=api.as_(WRITER))
    assert missing.status_code == 404
    events: list[AuditEvent] = await api.wiring.store.audit_events(incident)
    assert [e.action for e in events if e.action.startswith("api_")
            and e.action != "api_note"][-4:] == [
        "api_acknowledge", "api_resolve", "api_resolve", "api_reopen"]


async def test_feedback_is_recorded(api: Api) -> None:
    incident = await api.fire()
    run = (await api.wiring.store.latest_investigation(incident))
    assert run is not None
    bad = await api.http.post(f"/api/v1/investigations/{run.id}/feedback",
                              headers=api.as_(WRITER), json={"verdict": "maybe"})
    assert bad.status_code == 422 and "verdict" in bad.json()["error"]
    ok = await api.http.post(f"/api/v1/investigations/{run.id}/feedback",
                             headers=api.as_(WRITER), json={"verdict": "up"})
    assert ok.status_code == 201
    assert [f.user for f in await api.wiring.store.feedback_rows()] == ["api:writer"]


async def test_telemetry_questions_use_the_incident_window(api: Api) -> None:
    incident = await api.fire("frontend-errors")
    metrics = await api.http.get("/api/v1/telemetry/metrics", headers=api.as_(READER),
                                 params={"service": "frontend", "incident_id": incident})
    assert metrics.status_code == 200, metrics.text
    assert metrics.json()["series"] and len(metrics.json()["series"][0]["trend"]) == 12
    logs = await api.http.get("/api/v1/telemetry/logs", headers=api.as_(READER),
                              params={"service": "frontend", "incident_id": incident,
                                      "level": "error", "limit": 5})
    assert logs.status_code == 200 and len(logs.json()["lines"]) <= 5
    traces = await api.http.get("/api/v1/telemetry/traces", headers=api.as_(READER),
                                params={"service": "frontend", "incident_id": incident})
    assert traces.status_code == 200 and traces.json()["operations"]
    unconfigured = await api.http.get("/api/v1/telemetry/metrics", headers=api.as_(READER),
                                      params={"service": "frontend"})
    assert unconfigured.status_code == 409
    assert "PROMETHEUS_URL" in unconfigured.json()["error"]


async def test_bad_input_is_a_4xx_that_names_the_problem(api: Api) -> None:
    await api.fire()
    cases = [
        ("/api/v1/incidents/999999", 404, "list_incidents"),
        ("/api/v1/investigations/0", 422, "positive integer"),
        ("/api/v1/incidents?limit=1000", 422, "limit"),
        ("/api/v1/incidents?status=sleeping", 422, "status: Input should be"),
        ("/api/v1/incidents?cursor=not-a-cursor", 422, "cursor"),
        ("/api/v1/incidents?colour=red", 422, "colour"),
        ("/api/v1/eval-runs/4", 404, "list_eval_runs"),
    ]
    for path, status, needle in cases:
        response = await api.http.get(path, headers=api.as_(READER))
        assert response.status_code == status, (path, response.text)
        assert needle in json.dumps(response.json()), (path, response.text)
    malformed = await api.http.post("/api/v1/investigations", headers={
        **api.as_(WRITER), "content-type": "application/json"}, content=b"{not json")
    assert malformed.status_code == 422 and "not JSON" in malformed.json()["error"]
    unknown_suite = await api.http.post("/api/v1/eval-runs", headers=api.as_(EVALER),
                                        json={"suites": ["../../etc"]})
    assert unknown_suite.status_code == 422 and "synthetic" in unknown_suite.json()["error"]


async def test_cursors_page_and_refuse_other_queries(api: Api) -> None:
    for scenario in ("frontend-latency", "frontend-errors", "auth-consumer-lag"):
        await api.fire(scenario)
    first = (await api.http.get("/api/v1/incidents?limit=2", headers=api.as_(READER))).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (await api.http.get("/api/v1/incidents", headers=api.as_(READER), params={
        "limit": 2, "cursor": first["next_cursor"]})).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    other = await api.http.get("/api/v1/incidents", headers=api.as_(READER), params={
        "status": "diagnosed", "cursor": first["next_cursor"]})
    assert other.status_code == 422 and "different query" in other.json()["error"]


async def test_openapi_document_lists_every_route(api: Api) -> None:
    document = (await api.http.get("/api/v1/openapi.json")).json()
    operations = {op["operationId"] for path in document["paths"].values()
                  for op in path.values()}
    assert {"list_incidents", "start_investigation", "query_metrics", "run_eval",
            "get_eval_result", "add_incident_note"} <= operations
    start = document["paths"]["/api/v1/investigations"]["post"]
    assert "202" in start["responses"] and start["security"] == [{"bearer": ["write"]}]


async def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(tmp_path: Path) -> None:
    """Property-based requests generated from our own OpenAPI document, against a running
    service: every answer is documented, matches its schema, and none is a server error."""
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    wiring = build(api_settings(tmp_path), telemetry_for=scenario_telemetry,
                   console=io.StringIO())
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        await Api(wiring, http, io.StringIO()).fire()
        process = await asyncio.create_subprocess_exec(
            str(st), "run", f"{url}/api/v1/openapi.json", "--url", url,
            "-H", f"Authorization: Bearer {WRITER}", "--max-examples", "3", "--seed", "1",
            "--checks", "not_a_server_error,status_code_conformance,"
                        "content_type_conformance,response_schema_conformance",
            "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-shrink",
            "--max-failures", "5", "--request-timeout", "20",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
        out, _ = await asyncio.wait_for(process.communicate(), 300)
    wiring.store.close()
    report = out.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]


def test_the_committed_rest_reference_is_current() -> None:
    from bot.web.reference import markdown
    from bot.web.rest import openapi_document

    committed = (Path(__file__).resolve().parents[1] / "docs" / "rest-api.md").read_text()
    assert committed == markdown(openapi_document("http://127.0.0.1:8080")), (
        "docs/rest-api.md is stale: python -m bot.web.reference > docs/rest-api.md")


async def test_security_cases_are_readable_and_their_text_stays_data(api: Api) -> None:
    from tests.security_cases import KEY, attack_story, stop_logging_signal

    security = api.wiring.security
    assert security is not None
    case_id, created = await security.receive(stop_logging_signal(attack_story()))
    assert created
    await security.idle()
    listing = await api.http.get("/api/v1/security-cases", headers=api.as_(READER),
                                 params={"status": "open"})
    assert [c["id"] for c in listing.json()["items"]] == [case_id]
    detail = await api.http.get(f"/api/v1/security-cases/{case_id}", headers=api.as_(READER))
    body = detail.json()
    assert body["verdict"] == "true_positive" and body["checklist"] and body["evidence"]
    assert all(a["requires_approval"] and a["approved_by"] is None
               for a in body["proposed_actions"])
    assert KEY not in detail.text
    missing = await api.http.get("/api/v1/security-cases/999", headers=api.as_(READER))
    assert missing.status_code == 404 and "list_security_cases" in missing.json()["error"]


async def test_pull_requests_are_readable(api: Api) -> None:
    from storage.dev import DevStore
    from storage.models import FixProposal, PullRequest

    dev = DevStore.beside(api.wiring.store)
    proposal = await dev.save_proposal(FixProposal(
        fingerprint="fp-1", service="orders", repository="acme/orders", kind="revert",
        status="opened", suspect="abc123", result={
            "suspects": [{"commit": "abc123", "author": "dev", "title": "refactor mapper",
                          "score": 0.8, "why": "last changed frame 1's line"}],
            "remediation": {"kind": "revert", "verified": {"command": "pytest -x",
                                                           "before_exit": 1,
                                                           "after_exit": 0}}}))
    pull = await dev.record_pull(PullRequest(
        proposal_id=proposal.id, repository="acme/orders", number=7,
        branch="nightowl/revert-abc123", url="https://github.example/acme/orders/pull/7",
        fingerprint="fp-1", suspect="abc123", kind="revert"))
    listing = await api.http.get("/api/v1/pull-requests", headers=api.as_(READER),
                                 params={"state": "open"})
    assert [p["number"] for p in listing.json()["items"]] == [7]
    detail = (await api.http.get(f"/api/v1/pull-requests/{pull.id}",
                                 headers=api.as_(READER))).json()
    assert detail["branch"] == "nightowl/revert-abc123"
    assert detail["verified"] == {"command": "pytest -x", "before_exit": 1, "after_exit": 0}
    assert detail["suspects"][0]["commit"] == "abc123"
    missing = await api.http.get("/api/v1/pull-requests/99", headers=api.as_(READER))
    assert missing.status_code == 404 and "list_pull_requests" in missing.json()["error"]


async def test_run_eval_is_audited_and_stops_with_the_service(api: Api) -> None:
    started = await api.http.post("/api/v1/eval-runs", headers=api.as_(EVALER),
                                  json={"suites": ["synthetic"], "seed": 3})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    assert started.headers["location"].endswith(f"/api/v1/eval-runs/{run_id}")
    assert api.wiring.api is not None
    await api.wiring.api.caps.evals.close()  # what `serve` does on the way out
    run = (await api.http.get(f"/api/v1/eval-runs/{run_id}", headers=api.as_(READER))).json()
    assert run["status"] == "failed" and run["error"] == "cancelled"
    from sqlmodel import Session, select

    with Session(api.wiring.store.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "run_eval")).all()
    assert [(e.actor, e.detail["eval_run_id"]) for e in events] == [("api:evaler", run_id)]
