"""The Dev agent's buttons: Open revert / fix / resource PR.

Slack shows the button's confirmation dialog before the click reaches us. The handler
acknowledges at once, records the click (an audit event, allowed or not), asks the
authorizer whether this person may open a pull request in the proposal's channel (members of
the configured responder groups, or of the channel when none is configured), and only then
runs the flow. The outcome lands in the thread.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.authorization import OPEN_PR, Authorizer
from storage.errors import NotFound

if TYPE_CHECKING:
    from bot.dev import DevService
    from storage.repository import Store

log = logging.getLogger(__name__)
ACTION = re.compile(r"^dev_open_(revert|code|resource)$")


def register_dev_actions(app: AsyncApp, dev: DevService, *, authorizer: Authorizer,
                         store: Store) -> None:
    @app.action(ACTION)
    async def on_open(ack: AsyncAck, action: dict[str, Any], body: dict[str, Any],
                      respond: AsyncRespond) -> None:
        await ack()
        user = str(body.get("user", {}).get("id", "unknown"))
        match = ACTION.match(str(action.get("action_id", "")))
        try:
            proposal = await dev.store.proposal(int(action.get("value", "")))
        except (NotFound, ValueError):
            await respond(text="This suggestion is no longer known.",
                          response_type="ephemeral", replace_original=False)
            return
        kind = match.group(1) if match else "?"
        await store.audit(actor=user, action=f"dev_click:{kind}", incident_id=proposal.incident_id,
                          detail={"proposal": proposal.id, "repository": proposal.repository})
        channel = proposal.channel or str((body.get("channel") or {}).get("id", ""))
        decision = await authorizer.check(OPEN_PR, user_id=user, channel=channel,
                                          incident_id=proposal.incident_id, respond=respond)
        if not decision.allowed:
            return
        assert proposal.id is not None
        opened = await dev.open_pr(proposal.id, kind, user=user)
        log.info("proposal %s: %s by %s → %s", proposal.id, kind, user,
                 opened.outcome if opened is not None else "handed to its flow")
