"""The Bolt app: buttons, the /nightowl command, App Home, and retry de-duplication.

Every handler acknowledges first (Slack wants an answer within 3 s) and then does its work;
Bolt's async app runs the rest after the HTTP response has gone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from agents.chat.intents import parse
from bot.slack.authorization import (
    ACKNOWLEDGE,
    FEEDBACK,
    PAUSE,
    REINVESTIGATE,
    REOPEN,
    RESOLVE,
    RESUME,
    Authorizer,
)
from bot.slack.blocks import home_blocks, wrong_cause_modal
from integrations.redaction import redact_data
from storage.errors import NotFound
from storage.models import Incident

if TYPE_CHECKING:
    from bot.chat import ThreadChatHandler
    from bot.security.service import SecurityService
    from bot.service import Service

log = logging.getLogger(__name__)


def build_bolt_app(service: Service, *, client: AsyncWebClient, signing_secret: str,
                   chat: ThreadChatHandler | None = None,
                   authorizer: Authorizer | None = None,
                   security: SecurityService | None = None) -> AsyncApp:
    """The Bolt app. Every handler that changes something asks `authorizer` first
    (bot/slack/authorization.py); register new handlers here so they share it."""
    app = AsyncApp(client=client, signing_secret=signing_secret,
                   request_verification_enabled=True)
    authorizer = authorizer or Authorizer(client, audit=service.store)

    @app.middleware
    async def drop_retries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        # Slack re-sends an event it thinks we missed (X-Slack-Retry-Num), and a captured
        # signed click can be replayed within the 5 minutes the signature stays valid: each
        # event and each click is handled once, by its own identity.
        identity = _identity(body)
        if identity is not None and not await service.store.first_sighting(identity):
            log.info("slack payload %s already handled; ignoring the repeat", identity)
            return BoltResponse(status=200, body="")
        return await next()  # type: ignore[no-any-return]

    async def incident_action(action: dict[str, Any], body: dict[str, Any]
                              ) -> tuple[Incident, str] | None:
        incident_id = _int(action.get("value"))
        if incident_id is None:
            return None
        try:
            incident = await service.store.incident(incident_id)
        except NotFound:
            return None
        return incident, str(body.get("user", {}).get("id", "unknown"))

    async def allowed(what: str, incident: Incident, user: str, body: dict[str, Any],
                      respond: AsyncRespond) -> bool:
        channel = incident.slack_channel or str((body.get("channel") or {}).get("id", ""))
        decision = await authorizer.check(what, user_id=user, channel=channel,
                                          incident_id=incident.id, respond=respond)
        return decision.allowed

    def lifecycle_button(what: str, change: Callable[[int, str], Awaitable[None]]
                         ) -> Callable[..., Awaitable[None]]:
        """Acknowledge, Resolve and Reopen: the same road, authorized per action."""
        async def on_click(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                           respond: AsyncRespond) -> None:
            await ack()
            found = await incident_action(action, body)
            if found and await allowed(what, *found, body, respond):
                await change(found[0].id or 0, found[1])

        return on_click

    app.action("incident_ack")(lifecycle_button(ACKNOWLEDGE, service.acknowledge))
    app.action("incident_resolve")(lifecycle_button(RESOLVE, service.resolve))
    app.action("incident_reopen")(lifecycle_button(REOPEN, service.reopen))

    @app.action("incident_reinvestigate")
    async def on_reinvestigate(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                               respond: AsyncRespond) -> None:
        await ack()
        found = await incident_action(action, body)
        if found and await allowed(REINVESTIGATE, *found, body, respond):
            refusal = await service.reinvestigate(found[0].id or 0, found[1])
            if refusal:
                await respond(text=f"⏳ {refusal}", response_type="ephemeral",
                              replace_original=False)

    async def feedback_allowed(investigation_id: int, user: str, body: dict[str, Any],
                               respond: AsyncRespond) -> bool:
        try:
            row = await service.store.investigation(investigation_id)
            if row.incident_id is None:
                return False
            incident = await service.store.incident(row.incident_id)
        except NotFound:
            return False
        return await allowed(FEEDBACK, incident, user, body, respond)

    @app.action("feedback_up")
    async def on_up(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                    respond: AsyncRespond) -> None:
        await ack()
        await _feedback(action, body, "up", respond)

    @app.action("feedback_down")
    async def on_down(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                      respond: AsyncRespond) -> None:
        await ack()
        await _feedback(action, body, "down", respond)

    async def _feedback(action: dict[str, Any], body: dict[str, Any], verdict: str,
                        respond: AsyncRespond) -> None:
        user = str(body.get("user", {}).get("id", "unknown"))
        investigation_id = _int(action.get("value"))
        if investigation_id is None or not await feedback_allowed(investigation_id, user,
                                                                  body, respond):
            return
        await service.record_feedback(investigation_id, user, verdict)

    @app.action("feedback_wrong_cause")
    async def on_wrong(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                       client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        user = str(body.get("user", {}).get("id", "unknown"))
        investigation_id = _int(action.get("value"))
        if investigation_id is None or not await feedback_allowed(investigation_id, user,
                                                                  body, respond):
            return
        row = await service.store.investigation(investigation_id)
        services = [c["service"] for c in row.result.get("root_causes", [])]
        services += list(row.result.get("services", []))
        await client.views_open(trigger_id=body["trigger_id"],
                                view=redact_data(wrong_cause_modal(investigation_id, services)))

    @app.view("wrong_cause")
    async def on_wrong_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view.get("state", {}).get("values", {})
        picked = values.get("service_pick", {}).get("value", {}).get("selected_option") or {}
        typed = values.get("service_text", {}).get("value", {}).get("value")
        comment = values.get("comment", {}).get("value", {}).get("value")
        service_name = (typed or picked.get("value") or "").strip()
        if not service_name:
            await ack(response_action="errors",
                      errors={"service_text": "Pick or type the service that was the cause."})
            return
        investigation_id = _int(view.get("private_metadata"))
        user = str(body.get("user", {}).get("id", "unknown"))
        if investigation_id is None:
            await ack()
            return
        try:
            row = await service.store.investigation(investigation_id)
            incident = (await service.store.incident(row.incident_id)
                        if row.incident_id is not None else None)
        except NotFound:
            incident = None
        decision = (await authorizer.authorize(FEEDBACK, user_id=user,
                                               channel=incident.slack_channel or "")
                    if incident is not None else None)
        if decision is None or not decision.allowed:
            reason = decision.reason if decision else "that investigation no longer exists"
            await ack(response_action="errors", errors={"service_text": reason[:150]})
            if incident is not None and decision is not None:
                await authorizer.refuse(decision, action=FEEDBACK, user_id=user,
                                        channel=incident.slack_channel or "",
                                        incident_id=incident.id)
            return
        await ack()
        await service.record_feedback(investigation_id, user, "wrong_cause",
                                      correct_service=service_name, comment=comment)

    @app.command("/nightowl")
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        text = (command.get("text") or "").strip().lower()
        user = str(command.get("user_id", "unknown"))
        if text in ("", "incidents", "list", "status"):
            incidents = await visible_incidents(user)
            await respond(blocks=redact_data(home_blocks(incidents)), text="Open incidents",
                          response_type="ephemeral")
            return
        if text in ("pause", "resume"):
            decision = await authorizer.check(
                PAUSE if text == "pause" else RESUME, user_id=user,
                channel=str(command.get("channel_id", "")), respond=respond)
            if not decision.allowed:
                return
            await service.set_models_paused(text == "pause", user)
            verb = "paused: no model calls until `/nightowl resume`" if text == "pause" \
                else "resumed"
            await respond(text=f"Model calls {verb} (set by <@{user}>).",
                          response_type="in_channel")
            return
        await respond(text="Usage: `/nightowl` (list open incidents), `/nightowl pause` "
                           "(stop every model call at once), `/nightowl resume`",
                      response_type="ephemeral")

    async def visible_incidents(user: str) -> list[Incident]:
        """Open incidents of the channels `user` is in, and no others."""
        channels = await authorizer.visible_channels(user)
        incidents = await service.store.open_incidents(limit=200)
        return [i for i in incidents
                if (i.slack_channel and i.slack_channel in channels) or i.channel in channels
                or f"#{i.channel}" in channels][:50]

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        if chat is None:
            return
        incident = await chat.incident_of(str(event.get("channel", "")), event.get("thread_ts"))
        if incident is None:
            await say(text="I answer questions in incident threads: mention me in the thread "
                           "of the incident you're asking about.",
                      thread_ts=event.get("thread_ts") or event.get("ts"))
            return
        await chat.handle(incident, user=str(event.get("user", "unknown")),
                          question=str(event.get("text", "")))

    @app.event("message")
    async def on_thread_reply(event: dict[str, Any], context: dict[str, Any]) -> None:
        """A reply in an incident thread that asks one of the known questions, without an
        @mention. Bots, edits and chatter between people are left alone."""
        if chat is None or event.get("subtype") or event.get("bot_id"):
            return
        thread_ts, text = event.get("thread_ts"), str(event.get("text", ""))
        if not thread_ts or thread_ts == event.get("ts"):
            return
        bot_user = context.get("bot_user_id")
        if bot_user and f"<@{bot_user}>" in text:
            return  # app_mention answers it
        if parse(text) is None and not text.lower().startswith(("nightowl", "@nightowl")):
            return
        incident = await chat.incident_of(str(event.get("channel", "")), thread_ts)
        if incident is not None:
            await chat.handle(incident, user=str(event.get("user", "unknown")), question=text)

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        incidents = await visible_incidents(str(event.get("user", "")))
        await client.views_publish(user_id=event["user"], view=redact_data(
            {"type": "home", "blocks": home_blocks(incidents)}))

    if security is not None:
        from bot.slack.security_actions import register_security_actions

        register_security_actions(app, security, authorizer=authorizer)
    return app


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _identity(body: dict[str, Any]) -> str | None:
    """What makes a Slack payload the same payload: an event's id, or a click's user, action,
    message and time (a replayed click repeats all of them; a second click does not)."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return event_id[:128]
    if body.get("type") in ("block_actions", "view_submission"):
        user = (body.get("user") or {}).get("id", "")
        actions = [(a.get("action_id"), a.get("value"), a.get("action_ts"))
                   for a in body.get("actions") or [] if isinstance(a, dict)]
        view = body.get("view") or {}
        blob = json.dumps([body.get("type"), user, body.get("trigger_id"), actions,
                           view.get("id"), view.get("hash")], sort_keys=True, default=str)
        return "payload:" + hashlib.sha256(blob.encode()).hexdigest()
    return None


