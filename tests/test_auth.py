"""Webhook authentication: HMAC where the source signs, tokens otherwise."""

from __future__ import annotations

import base64
import time

import pytest

from integrations.alerts.auth import WebhookAuth, sign
from integrations.errors import AuthError

BODY = b'{"hello": "world"}'


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize("source", ["pagerduty", "sentry", "grafana"])
def test_signed_sources(source: str) -> None:
    auth = WebhookAuth(token="tok", signing_secrets={source: "s3cret"})
    assert auth.verify(source, lower(sign(source, "s3cret", BODY)), BODY) == "signature"
    with pytest.raises(AuthError, match="wrong signature"):
        auth.verify(source, lower(sign(source, "other", BODY)), BODY)
    with pytest.raises(AuthError, match="missing signature header"):
        auth.verify(source, {"authorization": "Bearer tok"}, BODY)
    with pytest.raises(AuthError, match="wrong signature"):
        auth.verify(source, lower(sign(source, "s3cret", BODY)), BODY + b" ")


def test_pagerduty_accepts_any_of_rotating_signatures() -> None:
    auth = WebhookAuth(signing_secrets={"pagerduty": "new"})
    good = sign("pagerduty", "new", BODY)["X-PagerDuty-Signature"]
    old = sign("pagerduty", "old", BODY)["X-PagerDuty-Signature"]
    assert auth.verify("pagerduty", {"x-pagerduty-signature": f"{old},{good}"}, BODY)


def test_grafana_timestamped_signature_rejects_replays() -> None:
    auth = WebhookAuth(signing_secrets={"grafana": "g"})
    now = str(int(time.time()))
    assert auth.verify("grafana", lower(sign("grafana", "g", BODY, timestamp=now)), BODY)
    stale = str(int(time.time()) - 3600)
    with pytest.raises(AuthError, match="too old"):
        auth.verify("grafana", lower(sign("grafana", "g", BODY, timestamp=stale)), BODY)


def test_token_bearer_and_basic() -> None:
    auth = WebhookAuth(token="tok")
    assert auth.verify("alertmanager", {"authorization": "Bearer tok"}, BODY) == "token"
    basic = base64.b64encode(b"alertmanager:tok").decode()
    assert auth.verify("alertmanager", {"authorization": f"Basic {basic}"}, BODY) == "token"
    for header, message in [({}, "missing Authorization"),
                            ({"authorization": "Bearer nope"}, "wrong webhook token"),
                            ({"authorization": "Digest x"}, "unsupported"),
                            ({"authorization": "Basic !!!"}, "malformed Basic")]:
        with pytest.raises(AuthError, match=message):
            auth.verify("alertmanager", header, BODY)


def test_nothing_configured_refuses_unless_explicitly_open() -> None:
    with pytest.raises(AuthError, match="not configured"):
        WebhookAuth().verify("generic", {}, BODY)
    assert WebhookAuth(allow_unauthenticated=True).verify("generic", {}, BODY) == "none"


def test_errors_never_contain_the_secret() -> None:
    auth = WebhookAuth(token="supersecret", signing_secrets={"sentry": "hmacsecret"})
    for source, headers in [("generic", {"authorization": "Bearer wrong"}),
                            ("sentry", {"sentry-hook-signature": "00"})]:
        with pytest.raises(AuthError) as info:
            auth.verify(source, headers, BODY)
        assert "supersecret" not in str(info.value) and "hmacsecret" not in str(info.value)
