"""Deliveries an outside tester sends: replays, stale triggers, out-of-range timestamps, text
the database cannot store, credentials of any bytes, bodies built to break the parser. Each is
answered 2xx or 4xx and nothing authenticated is lost (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session, select

from bot.console import ConsoleSurface
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth, sign
from storage.models import DeadLetter
from storage.repository import Store
from tests.fakes.signing import slack_headers

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
TOKEN = "hook-token"
SECRETS = {"pagerduty": "pd-secret", "sentry": "sentry-secret", "grafana": "grafana-secret"}
SLACK_SECRET = "slack-secret"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def http(sqlite_store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, Service]]:
    async for rig in _rig(sqlite_store):
        yield rig


@pytest.fixture
async def http_both(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, Service]]:
    """On SQLite and PostgreSQL (where NUL in text is refused)."""
    async for rig in _rig(store):
        yield rig


async def _rig(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, Service]]:
    service = Service(store=store, surface=ConsoleSurface(io.StringIO()), metrics=Metrics(),
                      router=Router({}, "#incidents"), auto_investigate=False)
    bolt = build_bolt_app(service, client=AsyncWebClient(token="xoxb-x", base_url="http://x/"),
                          signing_secret=SLACK_SECRET)
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN, signing_secrets=SECRETS),
                         bolt=bolt, slack_signing_secret=SLACK_SECRET, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as client:
        yield client, service
    await service.stop()


def dead_letters(store: Store) -> list[DeadLetter]:
    with Session(store.engine) as session:
        return list(session.exec(select(DeadLetter)))


def pagerduty(event_type: str, event_id: str, occurred: str) -> bytes:
    body: dict[str, Any] = json.loads((FIXTURES / "pagerduty.json").read_text())
    body["event"] |= {"event_type": event_type, "id": event_id, "occurred_at": occurred}
    return json.dumps(body).encode()


async def post_signed(client: httpx.AsyncClient, source: str, body: bytes,
                      **extra: str) -> httpx.Response:
    headers = JSON | sign(source, SECRETS[source], body) | extra
    return await client.post(f"/webhooks/{source}", content=body, headers=headers)


async def test_replays_and_stale_triggers_reopen_nothing(
        http: tuple[httpx.AsyncClient, Service]) -> None:
    client, service = http
    trigger = pagerduty("incident.triggered", "E1", "2026-11-22T21:10:00Z")
    assert (await post_signed(client, "pagerduty", trigger)).status_code == 202
    resolve = pagerduty("incident.resolved", "E2", "2026-11-22T21:40:00Z")
    assert (await post_signed(client, "pagerduty", resolve)).json()["incidents_resolved"] == 1
    replay = await post_signed(client, "pagerduty", trigger)  # captured and sent again
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    # The same trigger under a new delivery id (a late retry) is stale: nothing reopens.
    late = await post_signed(client, "pagerduty",
                             pagerduty("incident.triggered", "E3", "2026-11-22T21:10:00Z"))
    assert late.status_code == 202 and late.json()["incidents_created"] == 0
    assert await service.store.open_incidents() == []
    # A real reopen happens after the resolve and opens the incident again.
    reopen = await post_signed(client, "pagerduty",
                               pagerduty("incident.reopened", "E4", "2026-11-22T22:00:00Z"))
    assert reopen.json()["incidents_created"] == 1

    grafana = (FIXTURES / "grafana.json").read_bytes()
    assert (await post_signed(client, "grafana", grafana)).status_code == 202
    again = await post_signed(client, "grafana", grafana)  # no timestamp: the body identifies
    assert again.json()["status"] == "duplicate"
    sentry = (FIXTURES / "sentry_issue.json").read_bytes()
    headers = {"Sentry-Hook-Resource": "issue", "Request-ID": "req-77"}
    assert (await post_signed(client, "sentry", sentry, **headers)).status_code == 202
    assert (await post_signed(client, "sentry", sentry, **headers)).status_code == 200


async def test_out_of_range_timestamps_are_422_naming_the_field(
        http: tuple[httpx.AsyncClient, Service]) -> None:
    client, service = http
    base = json.loads((FIXTURES / "alertmanager_firing.json").read_text())
    for value in [1e20, -1e13, "12345678901234567890", "9999-12-31T23:59:59-14:00"]:
        body = copy.deepcopy(base)
        body["alerts"][0]["startsAt"] = value
        response = await client.post("/webhooks/alertmanager", content=json.dumps(body),
                                     headers=JSON | {"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 422, response.text
        assert "alerts[0].startsAt" in response.json()["error"]
        assert response.json()["dead_letter_id"]
    assert len(dead_letters(service.store)) == 4


async def test_parser_limits_come_first_and_keep_the_body(
        http: tuple[httpx.AsyncClient, Service]) -> None:
    client, service = http
    auth = JSON | {"Authorization": f"Bearer {TOKEN}"}
    for body, why in [("[" * 5000 + "]" * 5000, "nested too deeply"),
                      ('{"title": 1' + "0" * 5000 + "}", "a number of 5001 characters"),
                      ('{"title": 1e400}', "out of range"), ('{"title": NaN}', "NaN")]:
        response = await client.post("/webhooks/generic", content=body, headers=auth)
        assert response.status_code == 400 and why in response.json()["error"], response.text
    kept = dead_letters(service.store)
    assert len(kept) == 4 and kept[0].body.startswith("[[[[")


async def test_text_the_database_cannot_store_is_cleaned_and_the_body_kept(
        http_both: tuple[httpx.AsyncClient, Service]) -> None:
    client, service = http_both
    body = json.dumps({"title": "disk full\u0000 on \ud800db-1", "service": "db",
                       "dedup_key": "nul-1"}).encode()
    assert b"\\u0000" in body and b"\\ud800" in body
    response = await client.post("/webhooks/generic", content=body,
                                 headers=JSON | {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202, response.text
    (incident,) = await service.store.open_incidents()
    assert incident.title == "disk full\ufffd on \ufffddb-1"
    (alert,) = await service.store.incident_alerts(incident.id or 0)
    assert alert.raw["nightowl_body_as_received"] == body.decode()


async def test_credentials_of_any_bytes_are_401(http: tuple[httpx.AsyncClient, Service]) -> None:
    client, _ = http
    body = (FIXTURES / "pagerduty.json").read_bytes()
    for header, value in [("X-PagerDuty-Signature", "v1=é\xff".encode("latin-1")),
                          ("Authorization", b"Bearer \xe2\x98\x83")]:
        response = await client.post("/webhooks/pagerduty", content=body,
                                     headers=JSON | {header: value})
        assert response.status_code == 401
    grafana = (FIXTURES / "grafana.json").read_bytes()
    nan = sign("grafana", SECRETS["grafana"], grafana, timestamp="nan")
    assert (await client.post("/webhooks/grafana", content=grafana,
                              headers=JSON | nan)).status_code == 401


async def test_slack_events_verify_first_and_cap_the_body(
        http: tuple[httpx.AsyncClient, Service]) -> None:
    client, service = http
    malformed = "{not json"
    unsigned = await client.post("/slack/events", content=malformed, headers=JSON)
    assert unsigned.status_code == 401
    huge = await client.post("/slack/events", content=b"x" * (300 * 1024), headers=JSON)
    assert huge.status_code == 413
    signed = await client.post("/slack/events", content=malformed,
                               headers=slack_headers(SLACK_SECRET, malformed))
    assert signed.status_code == 400 and signed.json()["dead_letter_id"]
    assert [d.source for d in dead_letters(service.store)] == ["slack"]
