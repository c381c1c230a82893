"""The webhook endpoint: bad input answered with a 4xx naming the problem, nothing lost."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.console import ConsoleSurface
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth, sign
from storage.repository import Store

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
TOKEN = "test-token"


@pytest.fixture
async def service(sqlite_store: Store) -> AsyncIterator[Service]:
    svc = Service(store=sqlite_store, surface=ConsoleSurface(io.StringIO()),
                  router=Router({"team": {"payments": "#payments"}}, "#incidents"),
                  metrics=Metrics())
    yield svc
    await svc.stop()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(service, auth=WebhookAuth(token=TOKEN,
                                                   signing_secrets={"sentry": "sentry-secret"}),
                         max_body_bytes=64 * 1024, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nightowl") as http:
        yield http


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_accepts_and_groups(client: httpx.AsyncClient, service: Service) -> None:
    body = (FIXTURES / "alertmanager_firing.json").read_bytes()
    headers = AUTH | {"Content-Type": "application/json"}
    first = await client.post("/webhooks/alertmanager", content=body, headers=headers)
    assert first.status_code == 202, first.text
    assert first.json() | {"incident_ids": None} == {
        "status": "accepted", "alerts": 2, "duplicates": 0, "incidents_created": 1,
        "incidents_resolved": 0, "incident_ids": None}
    again = await client.post("/webhooks/alertmanager", content=body, headers=headers)
    assert again.json()["duplicates"] == 2 and again.json()["incidents_created"] == 0
    (incident,) = await service.store.open_incidents()
    assert incident.channel == "#payments"  # routed by the first alert's team label
    metrics = (await client.get("/metrics")).text
    assert 'nightowl_alerts_received_total{source="alertmanager"} 4' in metrics
    assert "nightowl_incidents_open 1" in metrics
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["incidents_open"] == 1


@pytest.mark.parametrize(("path", "body", "headers", "status", "message"), [
    ("/webhooks/nagios", b"{}", AUTH, 404, "unknown source 'nagios'"),
    ("/webhooks/generic", b"{}", AUTH | {"Content-Type": "text/plain"}, 415,
     "content type must be application/json"),
    ("/webhooks/generic", b"{}", {"Content-Type": "application/json"}, 401,
     "missing Authorization"),
    ("/webhooks/generic", b"{}", {"Authorization": "Bearer nope",
                                  "Content-Type": "application/json"}, 401, "wrong webhook token"),
    ("/webhooks/generic", b"x" * (64 * 1024 + 1), AUTH | {"Content-Type": "application/json"},
     413, "larger than"),
    ("/webhooks/sentry", b"{}", AUTH | {"Content-Type": "application/json"}, 401,
     "missing signature header sentry-hook-signature"),
])
async def test_refusals_name_the_problem(client: httpx.AsyncClient, path: str, body: bytes,
                                         headers: dict[str, str], status: int,
                                         message: str) -> None:
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == status
    assert message in response.json()["error"]


async def test_unparseable_payloads_are_dead_lettered(client: httpx.AsyncClient,
                                                      service: Service) -> None:
    headers = AUTH | {"Content-Type": "application/json"}
    broken = await client.post("/webhooks/generic", content=b'{"title": ', headers=headers)
    assert broken.status_code == 400 and "malformed JSON" in broken.json()["error"]
    missing = await client.post("/webhooks/alertmanager", content=b'{"version": "4"}',
                                headers=headers)
    assert missing.status_code == 422
    assert "missing required field 'alerts'" in missing.json()["error"]
    assert missing.json()["dead_letter_id"] == broken.json()["dead_letter_id"] + 1
    assert (await service.store.counts())["dead_letters"] == 2
    metrics = (await client.get("/metrics")).text
    assert 'nightowl_dead_letters_total{source="generic"} 1' in metrics
    assert 'nightowl_alerts_rejected_total{source="alertmanager",reason="unparseable"} 1' in metrics


async def test_signed_source_and_ignored_events(client: httpx.AsyncClient) -> None:
    body = (FIXTURES / "sentry_issue.json").read_bytes()
    headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "issue",
               **sign("sentry", "sentry-secret", body)}
    response = await client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 202 and response.json()["incidents_created"] == 1
    assigned = json.loads(body) | {"action": "assigned"}
    raw = json.dumps(assigned).encode()
    headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "issue",
               **sign("sentry", "sentry-secret", raw)}
    ignored = await client.post("/webhooks/sentry", content=raw, headers=headers)
    assert ignored.status_code == 202 and ignored.json()["status"] == "ignored"


async def test_unknown_label_values_never_break_routing(client: httpx.AsyncClient) -> None:
    payload = {"title": "odd", "labels": {"team": "🦉" * 50, "service": ""}, "service": None}
    response = await client.post("/webhooks/generic", json=payload, headers=AUTH)
    assert response.status_code == 202


async def test_the_collector_waits_while_a_big_delivery_is_in_hand(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full collection over a big delivery's objects stalls every request; it waits until
    they are freed, and only then: collection is on again once the answer is out."""
    import gc

    app = build_http_app(service, auth=WebhookAuth(token=TOKEN), max_body_bytes=4 << 20,
                         manage_lifecycle=False)
    seen: list[bool] = []
    ingest = service.ingest

    async def watching(alerts: list) -> object:  # type: ignore[type-arg]
        seen.append(gc.isenabled())
        return await ingest(alerts)

    monkeypatch.setattr(service, "ingest", watching)
    alerts = [{"status": "firing", "fingerprint": f"{i:06d}",
               "labels": {"alertname": "Disk", "service": f"svc{i % 5}", "instance": f"n{i}"},
               "annotations": {"summary": "disk " + "x" * 100},
               "startsAt": "2026-11-22T21:00:00Z"} for i in range(600)]
    big = json.dumps({"version": "4", "groupKey": "big", "status": "firing",
                      "alerts": alerts}).encode()
    small = json.dumps({"version": "4", "groupKey": "small", "status": "firing",
                        "alerts": alerts[:1]}).encode()
    assert len(big) > 64 * 1024 > len(small)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://nightowl") as http:
        for body in (big, small):
            response = await http.post("/webhooks/alertmanager", content=body,
                                       headers={**AUTH, "Content-Type": "application/json"})
            assert response.status_code == 202, response.text
            assert gc.isenabled()
    assert seen == [False, True]
