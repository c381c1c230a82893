"""The security case buttons: verdicts, containment approvals, escalation, raw events.

Each handler acknowledges first, asks the authorizer (members of the case's channel by
default, configurable per action), and only then writes; every click that is let through is
an audit event written with its change, and every refusal is one too (the authorizer's).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.security.service import SecurityService
from bot.slack.authorization import APPROVE_CONTAINMENT, SECURITY_VERDICT, Authorizer
from bot.slack.security_blocks import (
    APPROVE,
    BENIGN,
    CONFIRM,
    ESCALATE,
    FALSE_POSITIVE,
    RAW_EVENT,
    raw_event_modal,
)
from storage.errors import NotFound
from storage.models import SecurityCase

log = logging.getLogger(__name__)

VIEW_EVENT = "security_view_event"  # raw events are sensitive: channel members by default


def register_security_actions(app: AsyncApp, security: SecurityService, *,
                              authorizer: Authorizer) -> None:
    async def case_of(value: str, body: dict[str, Any]) -> tuple[SecurityCase, str] | None:
        try:
            case = await security.store.case(int(value.split(":", 1)[0]))
        except (NotFound, ValueError):
            return None
        return case, str((body.get("user") or {}).get("id", "unknown"))

    async def allowed(what: str, case: SecurityCase, user: str, body: dict[str, Any],
                      respond: AsyncRespond) -> bool:
        channel = case.slack_channel or str((body.get("channel") or {}).get("id", ""))
        decision = await authorizer.check(what, user_id=user, channel=channel,
                                          respond=respond)
        return bool(decision)

    async def verdict(verdict: str, action: dict[str, Any], body: dict[str, Any],
                      respond: AsyncRespond) -> None:
        found = await case_of(str(action.get("value", "")), body)
        if found and await allowed(SECURITY_VERDICT, *found, body, respond):
            case, user = found
            assert case.id is not None
            await security.decide(case.id, verdict, user)

    @app.action(CONFIRM)
    async def on_confirm(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                         respond: AsyncRespond) -> None:
        await ack()
        await verdict("true_positive", action, body, respond)

    @app.action(BENIGN)
    async def on_benign(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                        respond: AsyncRespond) -> None:
        await ack()
        await verdict("benign", action, body, respond)

    @app.action(FALSE_POSITIVE)
    async def on_false_positive(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                                respond: AsyncRespond) -> None:
        await ack()
        await verdict("false_positive", action, body, respond)

    @app.action(ESCALATE)
    async def on_escalate(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                          respond: AsyncRespond) -> None:
        await ack()
        found = await case_of(str(action.get("value", "")), body)
        if found and await allowed(SECURITY_VERDICT, *found, body, respond):
            case, user = found
            assert case.id is not None
            await security.escalate(case.id, user)

    @app.action(APPROVE)
    async def on_approve(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                         respond: AsyncRespond) -> None:
        await ack()
        value = str(action.get("value", ""))
        found = await case_of(value, body)
        if not found or not await allowed(APPROVE_CONTAINMENT, *found, body, respond):
            return
        case, user = found
        assert case.id is not None
        try:
            await security.approve(case.id, int(value.split(":", 1)[1]), user)
        except (NotFound, ValueError, IndexError):
            await respond(text="This action can no longer be approved (the case is closed or "
                               "the proposal changed).", response_type="ephemeral",
                          replace_original=False)

    @app.action(RAW_EVENT)
    async def on_raw_event(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                           respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        # A button carries its value; an overflow menu, the option picked.
        value = str((action.get("selected_option") or {}).get("value") or action.get("value", ""))
        found = await case_of(value, body)
        if not found or not await allowed(VIEW_EVENT, *found, body, respond):
            return
        case, user = found
        assert case.id is not None
        try:
            case, event = await security.raw_event(case.id, int(value.split(":", 1)[1]), user)
        except (NotFound, ValueError, IndexError):
            return
        await client.views_open(trigger_id=body["trigger_id"], view=raw_event_modal(case, event))
