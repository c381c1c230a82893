"""Requests signed the way Slack signs them (v0 HMAC-SHA256 over 'v0:ts:body')."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def slack_headers(secret: str, body: str, *, timestamp: int | None = None,
                  content_type: str = "application/json") -> dict[str, str]:
    ts = str(timestamp or int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": content_type}


def action_body(action_id: str, value: str, *, user: str = "U123",
                channel: str = "C0000001", message_ts: str = "1700000001.000100",
                action_ts: str = "1700000002.0", response_url: str = "",
                trigger_id: str = "trig-1") -> str:
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user, "username": "alice"},
        "api_app_id": "A1", "token": "legacy", "trigger_id": trigger_id,
        "team": {"id": "T1"}, "channel": {"id": channel},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "message": {"ts": message_ts}, "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b", "value": value,
                     "type": "button", "action_ts": action_ts}],
    }
    return urlencode({"payload": json.dumps(payload)})
