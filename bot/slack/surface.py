"""The Slack chat surface: Block Kit messages through the Web API, paced per channel."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from agents.sre.report import InvestigationView
from agents.untrusted import inert
from bot.slack.blocks import (
    incident_blocks,
    incident_text,
    investigation_blocks,
    investigation_text,
    split_text,
)
from bot.slack.pacing import ChannelPacer
from bot.surface import MessageRef
from integrations.redaction import clip, redact_data
from storage.models import Alert, Incident

MAX_REPLY_CHARS = 3500  # keep replies well under Slack's 4,000-character text limit


class SlackSurface:
    def __init__(self, client: AsyncWebClient, pacer: ChannelPacer) -> None:
        self.client = client
        self.pacer = pacer

    async def show_incident(self, incident: Incident, alerts: Sequence[Alert]) -> MessageRef:
        blocks = incident_blocks(incident, alerts)
        text = incident_text(incident)
        if incident.slack_ts and incident.slack_channel:
            channel, ts = incident.slack_channel, incident.slack_ts
            await self._send(channel, "chat.update", channel=channel, ts=ts, text=text,
                             blocks=blocks)
            return MessageRef(channel, ts)
        response = await self._send(
            incident.channel, "chat.postMessage", channel=incident.channel, text=text,
            blocks=blocks, unfurl_links=False,
            metadata={"event_type": "nightowl_incident",
                      "event_payload": {"incident_id": incident.id}})
        return MessageRef(str(response["channel"]), str(response["ts"]))

    async def reply(self, incident: Incident, text: str,
                    blocks: Sequence[dict[str, Any]] | None = None) -> MessageRef:
        channel, thread = self._thread(incident)
        if blocks:
            response = await self._send(channel, "chat.postMessage", channel=channel,
                                        thread_ts=thread, text=clip(text, MAX_REPLY_CHARS),
                                        blocks=list(blocks), unfurl_links=False)
            return MessageRef(channel, str(response["ts"]))
        ts = ""
        for chunk in split_text(text, MAX_REPLY_CHARS):
            response = await self._send(channel, "chat.postMessage", channel=channel,
                                        thread_ts=thread, text=chunk, unfurl_links=False)
            ts = str(response["ts"])
        return MessageRef(channel, ts)

    async def show_investigation(
        self, incident: Incident, view: InvestigationView, *, message: MessageRef | None
    ) -> MessageRef:
        channel, thread = self._thread(incident)
        blocks = investigation_blocks(view, incident_id=incident.id)
        text = investigation_text(view)
        if message is not None:
            await self._send(message.channel, "chat.update", channel=message.channel,
                             ts=message.ts, text=text, blocks=blocks)
            return message
        response = await self._send(channel, "chat.postMessage", channel=channel,
                                    thread_ts=thread, text=text, blocks=blocks,
                                    unfurl_links=False)
        return MessageRef(channel, str(response["ts"]))

    async def post(self, channel: str, text: str, blocks: Sequence[dict[str, Any]],
                   ) -> MessageRef:
        response = await self._send(channel, "chat.postMessage", channel=channel, text=text,
                                    blocks=list(blocks), unfurl_links=False)
        return MessageRef(str(response["channel"]), str(response["ts"]))

    async def update(self, message: MessageRef, text: str, blocks: Sequence[dict[str, Any]],
                     ) -> MessageRef:
        """Edit a message in place (a security case's root or triage reply)."""
        await self._send(message.channel, "chat.update", channel=message.channel,
                         ts=message.ts, text=text[:MAX_REPLY_CHARS], blocks=list(blocks))
        return message

    async def post_reply(self, root: MessageRef, text: str,
                         blocks: Sequence[dict[str, Any]] | None = None) -> MessageRef:
        """Post in the thread under `root` (a message that is not an incident's)."""
        if blocks:
            response = await self._send(root.channel, "chat.postMessage", channel=root.channel,
                                        thread_ts=root.ts, text=text[:MAX_REPLY_CHARS],
                                        blocks=list(blocks), unfurl_links=False)
            return MessageRef(root.channel, str(response["ts"]))
        ts = ""
        for chunk in split_text(text, MAX_REPLY_CHARS):
            response = await self._send(root.channel, "chat.postMessage", channel=root.channel,
                                        thread_ts=root.ts, text=chunk, unfurl_links=False)
            ts = str(response["ts"])
        return MessageRef(root.channel, ts)

    async def upload(self, channel: str, *, filename: str, content: bytes, title: str,
                     comment: str) -> None:
        # files_upload_v2 wants a channel id; a name is resolved by posting the comment first.
        if not channel.startswith(("C", "G", "D")):
            ref = await self.post(channel, comment, [
                {"type": "context", "elements": [{"type": "mrkdwn", "text": comment}]}])
            channel, comment = ref.channel, ""

        async def call() -> Any:
            return await self.client.files_upload_v2(
                channel=channel, content=content, filename=filename, title=title,
                initial_comment=comment or None)

        await self.pacer.call(channel, "files.upload", call)

    async def thread_post(self, channel: str, thread_ts: str, text: str,
                          blocks: Sequence[dict[str, Any]]) -> str:
        """A reply in any thread (the Dev agent replies under findings too)."""
        response = await self._send(channel, "chat.postMessage", channel=channel,
                                    thread_ts=thread_ts, text=text[:MAX_REPLY_CHARS],
                                    blocks=list(blocks), unfurl_links=False)
        return str(response["ts"])

    def _thread(self, incident: Incident) -> tuple[str, str]:
        if not incident.slack_ts or not incident.slack_channel:
            raise ValueError(f"incident {incident.id} has no root message yet")
        return incident.slack_channel, incident.slack_ts

    async def _send(self, lane: str, method: str, /, **kwargs: Any) -> Any:
        """One Web API call, paced in `lane` (the channel the message goes to).

        Every text and block is redacted here, the one door to Slack: log lines and alert
        annotations quoted as evidence can carry credentials."""
        for key in ("text", "blocks"):
            if key in kwargs:
                kwargs[key] = scrub(kwargs[key])

        async def call() -> Any:
            return await self.client.api_call(method, json=kwargs)

        response = await self.pacer.call(lane, method, call)
        answered = response.get("channel") if hasattr(response, "get") else None
        if isinstance(answered, str):
            self.pacer.same_channel(lane, answered)
        return response


_BROADCAST = re.compile(r"<!(?:channel|here|everyone|subteam\^[^>]*)(?:\|[^>]*)?>")


def scrub(value: Any) -> Any:
    """Every string inside a message or view, masked (the last pass before Slack), and no
    broadcast mention: nightowl never pings a whole channel or group, so one that got this
    far came from outside text that escaped escaping."""
    value = redact_data(value)
    return _unbroadcast(value)


def _unbroadcast(value: Any) -> Any:
    if isinstance(value, str):
        return _BROADCAST.sub(lambda m: inert(m.group(0)), value) if "<!" in value else value
    if isinstance(value, list):
        return [_unbroadcast(v) for v in value]
    if isinstance(value, dict):
        return {k: _unbroadcast(v) for k, v in value.items()}
    return value
