"""Webhook authentication: HMAC signatures where the source signs, a shared token otherwise.

Every comparison is constant-time. Secrets never appear in error messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from integrations.errors import AuthError

# Sources that can sign their deliveries, and the header each signs with.
SIGNING_HEADERS = {
    "pagerduty": "x-pagerduty-signature",
    "sentry": "sentry-hook-signature",
    "grafana": "x-grafana-alerting-signature",
    # nightowl's own signal webhook: "sha256=<hex HMAC-SHA256 of the body>", as GitHub signs.
    "generic-security": "x-nightowl-signature",
}
GRAFANA_TIMESTAMP_HEADER = "x-grafana-alerting-signature-timestamp"
MAX_SIGNATURE_AGE_S = 300


@dataclass(frozen=True, slots=True)
class WebhookAuth:
    token: str | None = None
    signing_secrets: Mapping[str, str] = field(default_factory=dict)
    allow_unauthenticated: bool = False

    def verify(self, source: str, headers: Mapping[str, str], body: bytes) -> str:
        """Raise AuthError unless the request is authentic; returns the method that passed."""
        secret = self.signing_secrets.get(source)
        if secret:
            _verify_signature(source, secret, headers, body)
            return "signature"
        if self.token:
            _verify_token(self.token, headers)
            return "token"
        if self.allow_unauthenticated:
            return "none"
        raise AuthError("webhook authentication is not configured for this source")


def sign(source: str, secret: str, body: bytes, *, timestamp: str | None = None) -> dict[str, str]:
    """The headers a source would send (used by tests and the demo)."""
    if source == "grafana" and timestamp:
        digest = _hmac(secret, timestamp.encode() + b":" + body)
        return {"X-Grafana-Alerting-Signature": digest,
                "X-Grafana-Alerting-Signature-Timestamp": timestamp}
    digest = _hmac(secret, body)
    if source == "pagerduty":
        return {"X-PagerDuty-Signature": f"v1={digest}"}
    if source == "sentry":
        return {"Sentry-Hook-Signature": digest}
    if source == "generic-security":
        return {"X-Nightowl-Signature": f"sha256={digest}"}
    return {"X-Grafana-Alerting-Signature": digest}


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _verify_signature(source: str, secret: str, headers: Mapping[str, str], body: bytes) -> None:
    header = SIGNING_HEADERS[source]
    given = headers.get(header)
    if not given:
        raise AuthError(f"missing signature header {header}")
    message = body
    if source == "grafana":
        timestamp = headers.get(GRAFANA_TIMESTAMP_HEADER)
        if timestamp:
            try:
                age = abs(time.time() - float(timestamp))
            except ValueError as exc:
                raise AuthError(f"{GRAFANA_TIMESTAMP_HEADER} is not a Unix timestamp") from exc
            if not age <= MAX_SIGNATURE_AGE_S:  # NaN compares false both ways: refuse it too
                raise AuthError("signature timestamp is too old (possible replay)")
            message = _bytes(timestamp) + b":" + body
    expected = _hmac(secret, message)
    if source == "pagerduty":
        # PagerDuty sends "v1=<hex>[,v1=<hex>]" while it rotates secrets.
        candidates = [part.strip().removeprefix("v1=") for part in given.split(",")]
    else:
        candidates = [given.strip().removeprefix("sha256=")]
    # Compared as bytes: a header may hold any byte, and compare_digest refuses non-ASCII str.
    if not any(hmac.compare_digest(expected.encode(), _bytes(candidate))
               for candidate in candidates):
        raise AuthError(f"wrong signature in {header}")


def _verify_token(token: str, headers: Mapping[str, str]) -> None:
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if not authorization:
        raise AuthError("missing Authorization header (Bearer token or Basic auth)")
    if scheme.lower() == "bearer":
        presented = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthError("malformed Basic credentials") from exc
        presented = decoded.partition(":")[2]  # any user name; the password is the token
    else:
        raise AuthError(f"unsupported Authorization scheme {scheme!r}")
    if not hmac.compare_digest(_bytes(presented), token.encode()):
        raise AuthError("wrong webhook token")


def _bytes(header_value: str) -> bytes:
    """Any header value as bytes (a header may carry any byte; only equality matters)."""
    return header_value.encode("utf-8", errors="surrogateescape")
