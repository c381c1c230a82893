"""The fuzz rig shared by tests/test_fuzz.py and benchmarks/fuzz.py: the real ASGI app over
a real database, driven in-process (no sockets), checking every answer."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from dataclasses import dataclass, field

import httpx
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func
from sqlmodel import Session, select

from bot.console import ConsoleSurface
from bot.metrics import Metrics
from bot.routing import Router
from bot.service import Service
from bot.slack.app import build_bolt_app
from bot.web.app import build_http_app
from integrations.alerts.auth import WebhookAuth
from storage.models import DeadLetter
from storage.repository import Store
from tests.fakes.deliveries import SECRETS, SLACK_SECRET, TOKEN, Delivery


@dataclass
class FuzzRig:
    store: Store
    slack_url: str
    statuses: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    authenticated_failures: int = 0
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.service = Service(store=self.store, surface=ConsoleSurface(io.StringIO()),
                               metrics=Metrics(), router=Router({}, "#incidents"),
                               auto_investigate=False)
        bolt = build_bolt_app(self.service, client=AsyncWebClient(
            token="xoxb-fuzz", base_url=f"{self.slack_url}/api/"), signing_secret=SLACK_SECRET)
        self.app = build_http_app(
            self.service, auth=WebhookAuth(token=TOKEN, signing_secrets=SECRETS),
            bolt=bolt, slack_signing_secret=SLACK_SECRET, manage_lifecycle=False)
        self.runner = asyncio.Runner()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                        base_url="http://nightowl")

    async def send(self, delivery: Delivery) -> None:
        # Header values may be raw bytes (a signature of any bytes): httpx sends them as is.
        response = await self.client.post(delivery.path, content=delivery.body,
                                          headers=delivery.headers)  # type: ignore[arg-type]
        self.sent += 1
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.problems.append(f"{response.status_code} for {delivery!r}: {response.text}")
        if delivery.authenticated and response.status_code in (400, 422):
            self.authenticated_failures += 1
            if "dead_letter_id" not in response.json():
                self.problems.append(f"not kept: {delivery!r}: {response.text}")
        # (Bolt answers 404 to a signed request no listener handles: nothing was lost.)
        refused = (401, 403, 415) if delivery.path == "/slack/events" else (401, 403, 404, 415)
        if delivery.authenticated and response.status_code in refused:
            self.problems.append(f"{response.status_code} for a good delivery {delivery!r}")

    def run(self, deliveries: list[Delivery]) -> None:
        async def all_of() -> None:
            for delivery in deliveries:
                await self.send(delivery)

        self.runner.run(all_of())

    def dead_letters(self) -> int:
        with Session(self.store.engine) as session:
            return int(session.exec(select(func.count()).select_from(DeadLetter)).one())

    def close(self) -> None:
        self.runner.run(self.client.aclose())
        self.runner.run(self.service.stop())
        self.runner.close()
