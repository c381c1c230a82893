"""The MCP server through the official SDK's client: in-process, over HTTP on a running
`serve` (tokens, protected resource metadata, scopes), and over stdio as a subprocess."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bot.capabilities import Principal
from bot.demo.run import SCENARIOS, alertmanager_payload, scenario_telemetry
from bot.mcp.server import build_mcp_server
from bot.settings import InvestigationSettings
from bot.wiring import build
from integrations.telemetry.scenario import load_case
from tests.fakes.service import serving
from tests.fakes.slack import FakeSlack
from tests.test_api_rest import READER, WEBHOOK, WRITER, api_settings

TOOLS = {"list_incidents", "get_incident", "list_investigations", "get_investigation",
         "start_investigation", "add_incident_note", "add_feedback", "query_metrics",
         "search_logs", "search_traces", "list_findings", "get_finding", "list_eval_runs",
         "get_eval_result", "run_eval", "list_security_cases", "get_security_case",
         "list_pull_requests", "get_pull_request", "acknowledge_incident", "resolve_incident",
         "reopen_incident"}


async def _fire(http: httpx.AsyncClient, scenario: str = "frontend-latency") -> int:
    case = load_case(SCENARIOS / scenario)
    response = await http.post("/webhooks/alertmanager",
                               headers={"Authorization": f"Bearer {WEBHOOK}"},
                               json=alertmanager_payload(case, status="firing",
                                                         scenario=scenario))
    assert response.status_code == 202, response.text
    return int(response.json()["incident_ids"][0])


def _text(result: object) -> str:
    return "".join(getattr(c, "text", "") for c in getattr(result, "content", []))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, int, object]]:
    wiring = build(api_settings(tmp_path), telemetry_for=scenario_telemetry,
                   console=io.StringIO())
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        incident = await _fire(http)
        await wiring.service.idle(timeout=120)
        yield url, incident, wiring
    wiring.store.close()


async def test_in_process_tools_hints_errors_resource_and_prompts(
        served: tuple[str, int, object]) -> None:
    _, incident, wiring = served
    caps = wiring.api.caps  # type: ignore[attr-defined]
    server = build_mcp_server(caps, local=Principal("desk", frozenset({"read", "write"})))
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) >= TOOLS
        for tool in tools.values():  # every tool says whether it reads and is idempotent
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is not None
            assert tool.annotations.idempotent_hint is not None
        assert tools["list_incidents"].annotations.read_only_hint is True  # type: ignore[union-attr]
        assert tools["start_investigation"].annotations.read_only_hint is False  # type: ignore[union-attr]

        listing = _text(await client.call_tool("list_incidents", {}))
        assert listing.splitlines()[0].startswith("id,opened_at,status")
        assert f"\n{incident}," in listing

        missing = await client.call_tool("get_incident", {"incident_id": 424242})
        assert missing.is_error and "next: call list_incidents" in _text(missing)
        bad_cursor = await client.call_tool("list_incidents", {"cursor": "bogus"})
        assert bad_cursor.is_error and "cursor" in _text(bad_cursor)

        started = await client.call_tool("start_investigation",
                                         {"incident_id": incident, "idempotency_key": "k1"})
        assert not started.is_error, _text(started)
        run = json.loads(_text(started))["id"]
        again = await client.call_tool("start_investigation",
                                       {"incident_id": incident, "idempotency_key": "k1"})
        assert json.loads(_text(again))["id"] == run
        await wiring.service.idle(timeout=120)  # type: ignore[attr-defined]

        resolved = await client.call_tool("resolve_incident", {"incident_id": incident})
        assert json.loads(_text(resolved))["status"] == "resolved", _text(resolved)
        reopened = await client.call_tool("reopen_incident", {"incident_id": incident})
        assert json.loads(_text(reopened))["status"] == "open"

        report = await client.read_resource(f"nightowl://investigations/{run}/report.md")
        assert getattr(report.contents[0], "text", "").startswith(f"# Investigation {run}")
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert prompts == {"triage_incident", "review_investigation"}

    reader = build_mcp_server(caps, local=Principal("ro", frozenset({"read"})))
    async with Client(reader) as client:
        refused = await client.call_tool("add_incident_note",
                                         {"incident_id": incident, "text": "hi"})
        assert refused.is_error and "'write' scope" in _text(refused)


async def test_http_needs_a_token_and_advertises_its_metadata(
        served: tuple[str, int, object]) -> None:
    url, incident, _ = served
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=url) as http:
        anonymous = await http.post("/mcp", json=initialize, headers=headers)
        assert anonymous.status_code == 401
        assert "resource_metadata=" in anonymous.headers["www-authenticate"]
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["resource"].endswith("/mcp")
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "start_investigation", "arguments": {"incident_id": incident}}}
        forbidden = await http.post("/mcp", json=call, headers={
            **headers, "Authorization": f"Bearer {READER}"})
        assert forbidden.status_code == 403
        assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
        assert 'scope="write"' in forbidden.headers["www-authenticate"]

    authed = httpx2.AsyncClient(headers={"Authorization": f"Bearer {WRITER}"}, timeout=30)
    async with authed, Client(streamable_http_client(f"{url}/mcp",
                                                     http_client=authed)) as client:
        listing = _text(await client.call_tool("list_incidents", {}))
        assert f"\n{incident}," in listing
        note = await client.call_tool("add_incident_note",
                                      {"incident_id": incident, "text": "from an IDE"})
        assert not note.is_error, _text(note)


async def test_http_without_configured_tokens_names_the_variable(tmp_path: Path) -> None:
    wiring = build(api_settings(tmp_path, tokens=False), telemetry_for=scenario_telemetry,
                   console=io.StringIO())
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1,
                                                 "method": "tools/list"},
                                   headers={"Authorization": f"Bearer {READER}"})
        assert response.status_code == 401
        assert "NIGHTOWL_API_TOKENS" in response.json()["error"]
    wiring.store.close()


async def test_stdio_server_as_a_subprocess(tmp_path: Path) -> None:
    settings = api_settings(tmp_path)
    wiring = build(settings, telemetry_for=scenario_telemetry, console=io.StringIO())
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        incident = await _fire(http)
    wiring.store.close()
    tokens = json.dumps([{"name": "desk", "token": READER, "scopes": ["read"]}])
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bot", "mcp"], cwd=str(tmp_path),
        env={"NIGHTOWL_DATABASE_URL": settings.database_url, "NIGHTOWL_API_TOKENS": tokens,
             "NIGHTOWL_MCP_TOKEN": READER, "NIGHTOWL_SCHEDULER_ENABLED": "false"})
    async with Client(params, read_timeout_seconds=60) as client:
        assert {t.name for t in (await client.list_tools()).tools} >= TOOLS
        listing = _text(await client.call_tool("list_incidents", {}))
        assert f"\n{incident}," in listing
        refused = await client.call_tool("start_investigation", {"incident_id": incident})
        assert refused.is_error and "'write' scope" in _text(refused)


async def test_start_investigation_through_mcp_reaches_the_slack_thread(
        tmp_path: Path, fake_slack: tuple[FakeSlack, str]) -> None:
    slack, slack_url = fake_slack
    settings = api_settings(tmp_path, slack_url=slack_url).model_copy(update={
        "investigation": InvestigationSettings(auto_investigate=False)})
    wiring = build(settings, telemetry_for=scenario_telemetry)
    async with serving(wiring.app) as url, httpx.AsyncClient(base_url=url) as http:
        incident = await _fire(http)
        await wiring.service.idle(timeout=60)
        root = slack.of("chat.postMessage")[0]
        assert not [c for c in slack.calls if c.args.get("thread_ts")]  # nothing ran yet
        assert wiring.api is not None
        server = build_mcp_server(wiring.api.caps,
                                  local=Principal("agent", frozenset({"read", "write"})))
        async with Client(server) as client:
            started = await client.call_tool("start_investigation", {"incident_id": incident})
            assert not started.is_error, _text(started)
        await wiring.service.idle(timeout=120)
    wiring.store.close()
    replies = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")
               and c.args.get("thread_ts")]
    assert replies, "the investigation was not posted in the incident's thread"
    assert root.args.get("thread_ts") is None
