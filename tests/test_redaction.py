"""Secrets are masked before text reaches a model or Slack: a corpus of real-looking ones."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from integrations.redaction import Redactor, redact
from tests.fakes.slack import FakeSlack

# Each line holds one fake secret (the right shape, never a live credential).
CORPUS = [
    ("export ANTHROPIC_API_KEY=sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdEFGH",
     "sk-ant-api03"),
    ("openai key sk-proj-Q2h5x8Lm4Np7Rs1Tv3Wy6Za9Bc2De5Fg8Hj1Kk4Mn7Pq", "sk-proj-Q2h5"),
    ("slack token xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-1234567890"),
    ("posting to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX",
     "T0000/B0000"),
    ("git clone https://ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8@github.com/acme/x",
     "ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8"),
    ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS",
     "github_pat_11ABCDEFG"),
    ("charge failed with sk_live_51H8xYzAbCdEfGhIjKlMnOpQr", "sk_live_51H8"),
    ("maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIzaSyA1b2"),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("Authorization: Bearer "
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
     "eyJhbGciOiJIUzI1NiJ9"),
    ("jwt=eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhY21lIn0.c2lnbmF0dXJlLXBhcnQ",
     "eyJpc3MiOiJhY21lIn0"),
    ("DATABASE_URL=postgresql://app:S3cr3t-P4ss@db.internal:5432/orders", "S3cr3t-P4ss"),
    ("redis://:hunter2hunter2@cache:6379/0", "hunter2hunter2"),
    ("login failed password=correct-horse-battery", "correct-horse-battery"),
    ('{"client_secret": "9f8e7d6c5b4a39281706"}', "9f8e7d6c5b4a39281706"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
     "MIIEowIBAAKCAQEA7"),
    ("SENTRY_AUTH_TOKEN=sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_abcdefghijklmnop", "sntrys_eyJpYXQ"),
    ("npm token npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghij"),
    ("curl -u admin:Adm1nPassw0rd! http://x", "Adm1nPassw0rd"),
]


@pytest.mark.parametrize(("text", "secret"), CORPUS)
def test_secrets_are_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked, masked
    assert "[REDACTED:" in masked


def test_ordinary_text_is_untouched() -> None:
    text = ("p99 latency of checkout 812ms vs baseline 120ms (z=8.2); deploy v2.3.1 at 21:36; "
            "see https://grafana.example/d/abc?from=now-1h and trace 4bf92f3577b34da6")
    assert redact(text) == text


def test_extra_patterns() -> None:
    redactor = Redactor(extra=[r"ACME-[0-9]{6}"])
    assert redactor("customer ACME-123456 called") == "customer [REDACTED:custom-1] called"


async def test_nothing_secret_reaches_slack(fake_slack: tuple[FakeSlack, str]) -> None:
    slack, url = fake_slack
    surface = SlackSurface(AsyncWebClient(token="xoxb-test", base_url=f"{url}/api/"),
                           ChannelPacer(per_second=100.0, metrics=Metrics()))
    await surface.post("#ops", "login failed password=hunter2hunter2", [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "conn postgresql://app:S3cr3tP4ss@db/orders"}}])
    [call] = slack.of("chat.postMessage")
    sent = str(call.args)
    assert "hunter2hunter2" not in sent and "S3cr3tP4ss" not in sent
    assert "[REDACTED:password]" in sent and "[REDACTED:url-password]" in sent
