"""Who may press what: one check for every button, command and modal that changes something.

Use it from any Bolt handler (the Dev agent's Open PR, the Security Analyst's containment
approval and verdicts, the incident buttons, `/nightowl pause`):

    decision = await authorizer.check(OPEN_PR, user_id=user, channel=incident_channel_id,
                                      incident_id=incident.id, respond=respond)
    if not decision:
        return            # the user got an ephemeral "not allowed" and an audit event exists

`authorize(...)` only decides (no message, no audit); `check(...)` decides and, on a
refusal, tells the user privately and records an `AuditEvent` (`refused:<action>`).

The rule for an action, first match wins:

1. `NIGHTOWL_ACTION_GROUPS` names it (`{"resolve": ["S0123"], "open_pr": ["S0456", "U0789"]}`):
   the user must be in one of those Slack user groups (S…) or be one of those users (U…/W…).
   Two words are understood as well: `"channel"` (members of the incident's channel) and
   `"*"` (anyone in the workspace).
2. `pause` / `resume` (every model call at once): the user group `NIGHTOWL_ADMIN_GROUP`,
   or, when that is unset, the workspace's admins and owners.
3. Anything else: members of the incident's channel (`conversations.members`).

Lookups are cached for `NIGHTOWL_AUTHZ_CACHE_SECONDS`. When Slack cannot answer (network, a
missing scope) the check fails closed and says why. The bot needs the `channels:read`,
`groups:read`, `usergroups:read` and `users:read` scopes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# The actions nightowl knows; any other string is accepted too (channel members by default).
ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"
REOPEN = "reopen"
REINVESTIGATE = "reinvestigate"
FEEDBACK = "feedback"
OPEN_PR = "open_pr"
APPROVE_CONTAINMENT = "approve_containment"
SECURITY_VERDICT = "security_verdict"
PAUSE = "pause"
RESUME = "resume"
ADMIN_ACTIONS = frozenset({PAUSE, RESUME})

ANYONE = "*"
CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


class AuditLog(Protocol):
    async def audit(self, *, actor: str, action: str, incident_id: int | None,
                    detail: dict[str, Any] | None = None) -> None: ...


Respond = Callable[..., Awaitable[Any]]
Clock = Callable[[], float]


@dataclass
class _Cache:
    ttl: float
    clock: Clock
    entries: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    def get(self, key: str) -> frozenset[str] | None:
        hit = self.entries.get(key)
        if hit is None or hit[0] < self.clock():
            return None
        return hit[1]

    def put(self, key: str, value: frozenset[str]) -> frozenset[str]:
        self.entries[key] = (self.clock() + self.ttl, value)
        return value


class LookupFailed(Exception):
    """Slack could not tell us who is in a channel or group."""


class Authorizer:
    def __init__(self, client: AsyncWebClient, *, audit: AuditLog | None = None,
                 action_groups: Mapping[str, Sequence[str]] | None = None,
                 admin_group: str | None = None, cache_seconds: float = 300.0,
                 clock: Clock = time.monotonic) -> None:
        self.client = client
        self.audit_log = audit
        self.action_groups = {k: list(v) for k, v in (action_groups or {}).items()}
        self.admin_group = admin_group or None
        self._cache = _Cache(cache_seconds, clock)

    # ---- deciding ------------------------------------------------------------------------

    async def authorize(self, action: str, *, user_id: str, channel: str) -> Decision:
        """May `user_id` do `action` on something that lives in `channel` (a channel id)?"""
        if not user_id or user_id == "unknown":
            return Decision(False, "the request names no Slack user")
        try:
            if action in self.action_groups:
                return await self._in_any(self.action_groups[action], action=action,
                                          user_id=user_id, channel=channel)
            if action in ADMIN_ACTIONS:
                if self.admin_group:
                    return await self._in_any([self.admin_group], action=action,
                                              user_id=user_id, channel=channel)
                if await self._is_workspace_admin(user_id):
                    return Decision(True, "a workspace admin")
                return Decision(False, f"only workspace admins may {action} the models "
                                       "(or members of NIGHTOWL_ADMIN_GROUP, once it is set)")
            return await self._in_any([CHANNEL], action=action, user_id=user_id,
                                      channel=channel)
        except LookupFailed as exc:
            log.warning("authorization of %s for %s failed closed: %s", action, user_id, exc)
            return Decision(False, f"I could not check who may do this ({exc})")

    async def check(self, action: str, *, user_id: str, channel: str,
                    incident_id: int | None = None, respond: Respond | None = None,
                    notify_channel: str | None = None) -> Decision:
        """`authorize`, and on a refusal an ephemeral message to the user and an audit event.

        The message goes through `respond` (Bolt's, for buttons and commands) when given,
        else as `chat.postEphemeral` in `notify_channel` (default: `channel`)."""
        decision = await self.authorize(action, user_id=user_id, channel=channel)
        if not decision.allowed:
            await self.refuse(decision, action=action, user_id=user_id, channel=channel,
                              incident_id=incident_id, respond=respond,
                              notify_channel=notify_channel or channel)
        return decision

    async def visible_channels(self, user_id: str) -> frozenset[str]:
        """The channels (ids and `#names`) `user_id` is in: App Home and `/nightowl` list only
        incidents of these. Empty when Slack cannot say (fail closed)."""
        key = f"user-channels:{user_id}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found: set[str] = set()
        try:
            cursor: str | None = None
            while True:
                response = await self.client.users_conversations(
                    user=user_id, types="public_channel,private_channel", limit=1000,
                    exclude_archived=True, cursor=cursor)
                for item in response.get("channels") or []:
                    found.add(str(item.get("id", "")))
                    if item.get("name"):
                        found.add(f"#{item['name']}")
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except (SlackApiError, OSError) as exc:
            log.warning("could not list the channels of %s: %s", user_id, exc)
            return frozenset()
        return self._cache.put(key, frozenset(found - {""}))

    # ---- Slack lookups -------------------------------------------------------------------

    async def _in_any(self, groups: Sequence[str], *, action: str, user_id: str,
                      channel: str) -> Decision:
        for group in groups:
            if group == ANYONE:
                return Decision(True, "anyone may")
            if group == user_id:
                return Decision(True, "named for this action")
            if group == CHANNEL:
                if user_id in await self._channel_members(channel):
                    return Decision(True, "a member of the incident's channel")
            elif group.startswith("S") and user_id in await self._group_members(group):
                return Decision(True, f"a member of the user group {group}")
        if groups == [CHANNEL]:
            return Decision(False, f"only members of <#{channel}> may {_verb(action)} here")
        named = ", ".join(_show(g, channel) for g in groups)
        return Decision(False, f"only {named} may {_verb(action)}")

    async def _channel_members(self, channel: str) -> Collection[str]:
        if not channel:
            raise LookupFailed("the incident has no Slack channel yet")
        return await self._members(f"channel:{channel}", lambda cursor: (
            self.client.conversations_members(channel=channel, limit=1000, cursor=cursor)),
            "members")

    async def _group_members(self, group: str) -> Collection[str]:
        async def fetch(cursor: str | None) -> Any:
            return await self.client.usergroups_users_list(usergroup=group)

        return await self._members(f"group:{group}", fetch, "users")

    async def _members(self, key: str, fetch: Callable[[str | None], Awaitable[Any]],
                       field_name: str) -> frozenset[str]:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        members: set[str] = set()
        cursor: str | None = None
        try:
            for _ in range(100):  # 100 pages of 1,000: far beyond any channel
                response = await fetch(cursor)
                members.update(str(m) for m in response.get(field_name) or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            raise LookupFailed(f"Slack answered {exc.response.get('error')!s}") from exc
        except OSError as exc:
            raise LookupFailed(f"Slack unreachable: {exc}") from exc
        return self._cache.put(key, frozenset(members))

    async def _is_workspace_admin(self, user_id: str) -> bool:
        key = f"admin:{user_id}"
        cached = self._cache.get(key)
        if cached is None:
            try:
                response = await self.client.users_info(user=user_id)
            except SlackApiError as exc:
                raise LookupFailed(f"Slack answered {exc.response.get('error')!s}") from exc
            except OSError as exc:
                raise LookupFailed(f"Slack unreachable: {exc}") from exc
            user = response.get("user") or {}
            admin = bool(user.get("is_admin") or user.get("is_owner")
                         or user.get("is_primary_owner"))
            cached = self._cache.put(key, frozenset({"yes"} if admin else set()))
        return bool(cached)

    # ---- refusing ------------------------------------------------------------------------

    async def refuse(self, decision: Decision, *, action: str, user_id: str, channel: str,
                     incident_id: int | None = None, respond: Respond | None = None,
                     notify_channel: str | None = None) -> None:
        """Record a refusal (audit event), and tell the user through `respond` or an
        ephemeral message in `notify_channel` when one is given (a modal shows its own)."""
        log.info("refused %s to %s (incident %s): %s", action, user_id, incident_id,
                 decision.reason)
        if self.audit_log is not None:
            try:
                await self.audit_log.audit(actor=user_id, action=f"refused:{action}"[:64],
                                           incident_id=incident_id,
                                           detail={"reason": decision.reason,
                                                   "channel": channel})
            except Exception:
                log.exception("could not record the refusal of %s to %s", action, user_id)
        text = f"🚫 Sorry, {decision.reason}."
        try:
            if respond is not None:
                await respond(text=text, response_type="ephemeral", replace_original=False)
            elif notify_channel:
                await self.client.chat_postEphemeral(channel=notify_channel, user=user_id,
                                                     text=text)
        except (SlackApiError, OSError) as exc:
            log.warning("could not tell %s that %s was refused: %s", user_id, action, exc)


def _verb(action: str) -> str:
    return {OPEN_PR: "open pull requests", APPROVE_CONTAINMENT: "approve containment",
            SECURITY_VERDICT: "set a security verdict", REINVESTIGATE: "re-investigate",
            FEEDBACK: "give feedback on the diagnosis"}.get(action, action.replace("_", " "))


def _show(group: str, channel: str) -> str:
    if group == CHANNEL:
        return f"members of <#{channel}>"
    if group.startswith("S"):
        return f"<!subteam^{group}>"
    return f"<@{group}>"
