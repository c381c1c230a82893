"""Thread chat in Slack: find the incident a thread belongs to, keep each responder to a fair
rate, ask the chat agent, and post its answer in the thread within Block Kit's limits."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from agents.chat.agent import Answer, ThreadChat
from agents.chat.lookups import Thread
from agents.sre.context import AlertContext
from agents.sre.report import Report
from bot.slack.blocks import answer_messages
from integrations.redaction import clip
from storage.models import Incident

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)
LIVE_FOR_S = 24 * 3600


class RateLimiter:
    """At most `limit` questions per user in any `per_seconds` window."""

    def __init__(self, limit: int, per_seconds: float) -> None:
        self.limit, self.per = limit, per_seconds
        self._asked: dict[str, deque[float]] = {}

    def wait(self, user: str, now: float | None = None) -> float:
        """0 when the user may ask now; otherwise the seconds until they may."""
        now = time.monotonic() if now is None else now
        asked = self._asked.setdefault(user, deque())
        while asked and asked[0] <= now - self.per:
            asked.popleft()
        if len(asked) >= self.limit:
            return asked[0] + self.per - now
        asked.append(now)
        return 0.0


class ThreadChatHandler:
    def __init__(self, service: Service, *, per_user: int = 6,
                 per_seconds: float = 300.0) -> None:
        self.service = service
        self.agent = ThreadChat(service.model)
        self.limiter = RateLimiter(per_user, per_seconds)

    async def incident_of(self, channel: str, thread_ts: str | None) -> Incident | None:
        if not thread_ts:
            return None
        return await self.service.store.incident_by_thread(channel, thread_ts)

    async def handle(self, incident: Incident, *, user: str, question: str) -> None:
        wait = self.limiter.wait(user)
        if wait > 0:
            await self.service.surface.reply(
                incident, f"<@{user}>, that's more questions than I can look up at once "
                          f"({self.limiter.limit} per {self.limiter.per / 60:.0f} min). "
                          f"Ask again in {wait:.0f} s.")
            return
        await self.service.store.audit(actor=user, action="chat_question",
                                       incident_id=incident.id,
                                       detail={"question": clip(question, 500)})
        try:
            answer = await self.agent.answer(question, await self._thread(incident))
        except Exception:
            log.exception("incident %s: chat answer failed", incident.id)
            answer = Answer("Something went wrong while looking that up; the error is in "
                            "nightowl's log.")
        footer = f"Asked by <@{user}>"
        if answer.model:
            footer += f" · answered with {answer.model}"
        for text, blocks in answer_messages(answer.text, footer=footer):
            await self.service.surface.reply(incident, text, blocks)

    async def _thread(self, incident: Incident) -> Thread:
        assert incident.id is not None
        store = self.service.store
        alerts = await store.incident_alerts(incident.id)
        ctx = AlertContext.from_incident(incident, alerts,
                                         lookback_minutes=self.service.lookback_minutes)
        row = await store.latest_investigation(incident.id)
        report = Report.model_validate(row.result) if row is not None and row.result else None
        source = (self.service.telemetry_for(incident, alerts)
                  if self.service.telemetry_for else None)
        services: list[str] = []
        if source is not None:
            try:
                services = await source.services(ctx.window)
            except Exception:
                log.warning("incident %s: could not list services for chat", incident.id,
                            exc_info=True)
        # "The last hour" is the last hour for a live incident; for one that fired more than
        # a day ago the questions are about the incident, so its window's end stands in.
        now = time.time()
        if now - ctx.fired_at_s > LIVE_FOR_S:
            now = ctx.window.end_s
        return Thread(incident_id=incident.id, ctx=ctx, report=report, source=source,
                      now=now, services=services)
