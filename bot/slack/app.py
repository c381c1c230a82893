"""The Bolt app: buttons, the /nightowl command, App Home, and retry de-duplication.

Every handler acknowledges first (Slack wants an answer within 3 s) and then does its work;
Bolt's async app runs the rest after the HTTP response has gone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from agents.chat.intents import parse
from bot.slack.blocks import home_blocks, wrong_cause_modal
from storage.errors import NotFound

if TYPE_CHECKING:
    from bot.chat import ThreadChatHandler
    from bot.service import Service

log = logging.getLogger(__name__)


def build_bolt_app(service: Service, *, client: AsyncWebClient, signing_secret: str,
                   chat: ThreadChatHandler | None = None) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret,
                   request_verification_enabled=True)

    @app.middleware
    async def drop_retries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        # Slack re-sends an event it thinks we missed (X-Slack-Retry-Num); handle each once.
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not await service.store.first_sighting(event_id):
            log.info("slack event %s already handled; ignoring the retry", event_id)
            return BoltResponse(status=200, body="")
        return await next()  # type: ignore[no-any-return]

    async def incident_action(action: dict[str, Any], body: dict[str, Any]) -> tuple[int, str]:
        return int(action["value"]), str(body.get("user", {}).get("id", "unknown"))

    @app.action("incident_ack")
    async def on_ack(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        await ack()
        incident_id, user = await incident_action(action, body)
        await service.acknowledge(incident_id, user)

    @app.action("incident_resolve")
    async def on_resolve(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        await ack()
        incident_id, user = await incident_action(action, body)
        await service.resolve(incident_id, user)

    @app.action("incident_reinvestigate")
    async def on_reinvestigate(ack: AsyncAck, action: dict[str, Any],
                               body: dict[str, Any]) -> None:
        await ack()
        incident_id, user = await incident_action(action, body)
        await service.reinvestigate(incident_id, user)

    @app.action("feedback_up")
    async def on_up(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        await ack()
        await _feedback(service, action, body, "up")

    @app.action("feedback_down")
    async def on_down(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        await ack()
        await _feedback(service, action, body, "down")

    @app.action("feedback_wrong_cause")
    async def on_wrong(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                       client: AsyncWebClient) -> None:
        await ack()
        investigation_id = int(action["value"])
        try:
            row = await service.store.investigation(investigation_id)
        except NotFound:
            return
        services = [c["service"] for c in row.result.get("root_causes", [])]
        services += list(row.result.get("services", []))
        await client.views_open(trigger_id=body["trigger_id"],
                                view=wrong_cause_modal(investigation_id, services))

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
        await ack()
        investigation_id = int(view["private_metadata"])
        user = str(body.get("user", {}).get("id", "unknown"))
        await service.record_feedback(investigation_id, user, "wrong_cause",
                                      correct_service=service_name, comment=comment)

    @app.command("/nightowl")
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        text = (command.get("text") or "").strip().lower()
        if text in ("", "incidents", "list", "status"):
            incidents = await service.store.open_incidents()
            await respond(blocks=home_blocks(incidents), text="Open incidents",
                          response_type="ephemeral")
            return
        if text in ("pause", "resume"):
            user = str(command.get("user_id", "unknown"))
            await service.set_models_paused(text == "pause", user)
            verb = "paused: no model calls until `/nightowl resume`" if text == "pause" \
                else "resumed"
            await respond(text=f"Model calls {verb} (set by <@{user}>).",
                          response_type="in_channel")
            return
        await respond(text="Usage: `/nightowl` (list open incidents), `/nightowl pause` "
                           "(stop every model call at once), `/nightowl resume`",
                      response_type="ephemeral")

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
        incidents = await service.store.open_incidents()
        await client.views_publish(user_id=event["user"],
                                   view={"type": "home", "blocks": home_blocks(incidents)})

    return app


async def _feedback(service: Service, action: dict[str, Any], body: dict[str, Any],
                    verdict: str) -> None:
    user = str(body.get("user", {}).get("id", "unknown"))
    await service.record_feedback(int(action["value"]), user, verdict)


