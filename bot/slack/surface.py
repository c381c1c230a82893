"""The Slack chat surface: Block Kit messages through the Web API, paced per channel."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
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
from bot.surface import MessageRef, Tag
from bot.thread_text import reply_text
from integrations.redaction import clip, redact_data
from storage.models import Alert, Incident
from storage.thread_events import ThreadEvent

MAX_REPLY_CHARS = 3500  # keep replies well under Slack's 4,000-character text limit
LOOKUP_SLACK_S = 120.0  # look from a little before the attempt (clocks differ)
LOOKUP_PAGES = 20


def _metadata(tag: Tag, incident: Incident) -> dict[str, Any]:
    """Slack message metadata: how a message is found again (`find_posted`)."""
    return {"event_type": f"nightowl_{tag[0]}",
            "event_payload": {"incident_id": incident.id, "key": tag[1]}}


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
            metadata=_metadata(("incident", incident.id or 0), incident))
        return MessageRef(str(response["channel"]), str(response["ts"]))

    async def reply(self, incident: Incident, text: str,
                    blocks: Sequence[dict[str, Any]] | None = None, *,
                    tag: Tag | None = None) -> MessageRef:
        channel, thread = self._thread(incident)
        tagged = {"metadata": _metadata(tag, incident)} if tag else {}
        if blocks:
            response = await self._send(channel, "chat.postMessage", channel=channel,
                                        thread_ts=thread, text=clip(text, MAX_REPLY_CHARS),
                                        blocks=list(blocks), unfurl_links=False, **tagged)
            return MessageRef(channel, str(response["ts"]))
        ts = ""
        for chunk in split_text(text, MAX_REPLY_CHARS):
            response = await self._send(channel, "chat.postMessage", channel=channel,
                                        thread_ts=thread, text=chunk, unfurl_links=False,
                                        **tagged)
            tagged = {}  # the first part carries the tag: finding it means the reply landed
            ts = str(response["ts"])
        return MessageRef(channel, ts)

    async def post_events(self, incident: Incident, events: Sequence[ThreadEvent], *,
                          tag: Tag, more: int = 0) -> MessageRef:
        return await self.reply(incident, reply_text(events, more=more), tag=tag)

    async def find_posted(self, incident: Incident, tag: Tag, *,
                          since: datetime) -> MessageRef | None:
        """Look the message up by its metadata: the channel's history for a root message,
        the thread's replies for the rest."""
        oldest = f"{since.timestamp() - LOOKUP_SLACK_S:.6f}"
        if tag[0] == "incident":
            channel = await self._channel_id(incident.slack_channel or incident.channel)
            if channel is None:
                return None
            method, args = "conversations.history", {"channel": channel}
        else:
            channel, thread = self._thread(incident)
            method, args = "conversations.replies", {"channel": channel, "ts": thread}
        ts = await self._find_tagged(channel, method, args, oldest=oldest,
                                     metadata=_metadata(tag, incident))
        if ts is None:
            return None
        self.pacer.same_channel(incident.channel, channel)
        return MessageRef(channel, ts)

    async def _find_tagged(self, channel: str, method: str, args: dict[str, Any], *,
                           oldest: str, metadata: dict[str, Any]) -> str | None:
        """The ts of the message carrying `metadata` (as this surface tags them), or None."""
        want_payload = metadata["event_payload"]
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            response = await self._read(channel, method, **args, oldest=oldest, limit=200,
                                        include_all_metadata=True,
                                        **({"cursor": cursor} if cursor else {}))
            for message in response.get("messages") or []:
                found = message.get("metadata") or {}
                payload = found.get("event_payload") or {}
                if found.get("event_type") == metadata["event_type"] and all(
                        str(payload.get(k)) == str(v) for k, v in want_payload.items()):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _channel_id(self, channel: str) -> str | None:
        """Reading a channel's history needs its id; a routed `#name` is looked up once."""
        if not channel.startswith("#") and channel[:1] in ("C", "G", "D"):
            return channel
        known = self.pacer.channel_id(channel)
        if known is not None:
            return known
        name, cursor = channel.lstrip("#"), None
        for _ in range(LOOKUP_PAGES):
            response = await self._read(channel, "conversations.list", limit=1000,
                                        exclude_archived=True,
                                        types="public_channel,private_channel",
                                        **({"cursor": cursor} if cursor else {}))
            for item in response.get("channels") or []:
                if item.get("name") == name:
                    self.pacer.same_channel(channel, str(item["id"]))
                    return str(item["id"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _read(self, lane: str, method: str, /, **kwargs: Any) -> Any:
        async def call() -> Any:
            return await self.client.api_call(method, http_verb="GET", params=kwargs)

        return await self.pacer.call(lane, method, call)

    async def show_investigation(
        self, incident: Incident, view: InvestigationView, *, message: MessageRef | None,
        tag: Tag | None = None,
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
                                    unfurl_links=False,
                                    **({"metadata": _metadata(tag, incident)} if tag else {}))
        return MessageRef(channel, str(response["ts"]))

    async def post(self, channel: str, text: str, blocks: Sequence[dict[str, Any]], *,
                   key: str | None = None, since: datetime | None = None) -> MessageRef:
        """With `key`, the message carries it in its metadata and the channel's history since
        `since` is searched for it first: a post that landed before a crash (or whose answer
        was lost) is found, not made twice."""
        tagged: dict[str, Any] = {}
        if key is not None:
            metadata = {"event_type": "nightowl_step", "event_payload": {"key": key}}
            channel_id = await self._channel_id(channel)
            if channel_id is not None and since is not None:
                found = await self._find_tagged(
                    channel_id, "conversations.history", {"channel": channel_id},
                    oldest=f"{since.timestamp() - LOOKUP_SLACK_S:.6f}", metadata=metadata)
                if found is not None:
                    self.pacer.same_channel(channel, channel_id)
                    return MessageRef(channel_id, found)
            tagged = {"metadata": metadata}
        response = await self._send(channel, "chat.postMessage", channel=channel, text=text,
                                    blocks=list(blocks), unfurl_links=False, **tagged)
        return MessageRef(str(response["channel"]), str(response["ts"]))

    async def update(self, message: MessageRef, text: str, blocks: Sequence[dict[str, Any]],
                     ) -> MessageRef:
        """Edit a message in place (a security case's root or triage reply)."""
        await self._send(message.channel, "chat.update", channel=message.channel,
                         ts=message.ts, text=text[:MAX_REPLY_CHARS], blocks=list(blocks))
        return message

    async def post_reply(self, root: MessageRef, text: str,
                         blocks: Sequence[dict[str, Any]] | None = None, *,
                         key: str | None = None) -> MessageRef:
        """Post in the thread under `root` (a message that is not an incident's); with `key`,
        once (see `thread_post`)."""
        if blocks or key is not None:
            ts = await self.thread_post(root.channel, root.ts, text, blocks or [], key=key)
            return MessageRef(root.channel, ts)
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
                          blocks: Sequence[dict[str, Any]], *, key: str | None = None) -> str:
        """A reply in any thread (the Dev agent replies under findings too). With `key` (a
        flow run and step), the reply carries it in its metadata and is looked up by it
        first: a step retried after its reply landed finds that reply, not a second one."""
        tagged: dict[str, Any] = {}
        if key is not None:
            metadata = {"event_type": "nightowl_step", "event_payload": {"key": key}}
            found = await self._find_tagged(channel, "conversations.replies",
                                            {"channel": channel, "ts": thread_ts},
                                            oldest=thread_ts, metadata=metadata)
            if found is not None:
                return found
            tagged = {"metadata": metadata}
        response = await self._send(channel, "chat.postMessage", channel=channel,
                                    thread_ts=thread_ts, text=text[:MAX_REPLY_CHARS],
                                    blocks=list(blocks), unfurl_links=False, **tagged)
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
