"""Hostile webhook deliveries for fuzzing, as hypothesis strategies (tests and benchmarks).

Each delivery is a real source's payload (the fixtures in tests/fixtures/webhooks) with a few
leaves replaced by trouble: timestamps out of any range, numbers of thousands of digits,
`1e400`, `NaN`, NUL and lone surrogates in text, nesting thousands deep, wrong types; or
random JSON, or random bytes. Most are signed or carry the right token; some carry wrong,
missing or unreadable credentials (any bytes in a signature header).
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from integrations.alerts.auth import sign
from tests.fakes.signing import slack_headers

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
TOKEN = "fuzz-token"
SECRETS = {"pagerduty": "pd-secret", "sentry": "sentry-secret", "grafana": "grafana-secret"}
SLACK_SECRET = "slack-fuzz-secret"
TEMPLATES: dict[str, list[tuple[str, dict[str, str]]]] = {
    "alertmanager": [("alertmanager_firing.json", {})],
    "grafana": [("grafana.json", {})],
    "pagerduty": [("pagerduty.json", {})],
    "sentry": [("sentry_issue.json", {"Sentry-Hook-Resource": "issue"}),
               ("sentry_metric_alert.json", {"Sentry-Hook-Resource": "metric_alert"})],
    "opsgenie": [("opsgenie.json", {})],
    "datadog": [("datadog.json", {})],
    "generic": [("generic.json", {})],
}
SOURCES = tuple(TEMPLATES)


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str | bytes]
    body: bytes
    authenticated: bool

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"Delivery({self.path}, auth={self.authenticated}, body={self.body[:300]!r})"


def _templates() -> dict[str, list[tuple[Any, dict[str, str]]]]:
    return {source: [(json.loads((FIXTURES / name).read_text()), headers)
                     for name, headers in entries] for source, entries in TEMPLATES.items()}


_LOADED = _templates()

# Raw JSON text that json.dumps cannot (or would not) write; put in place of a marker.
RAW = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" * 5000, "-" + "9" * 400,
       "[" * 3000 + "]" * 3000, '{"a":' * 1500 + "1" + "}" * 1500, "1" * 4301,
       "123456789012345678901234567890.5e30"]
TIMES = [1e20, -1e13, "12345678901234567890", "9999-12-31T23:59:59-14:00",
         "0001-01-01T00:00:00+14:00", "2026-13-45T25:61:61Z", "", "now", 0, -1, 2**63,
         1.5e12, "1700000000", "1700000000000", "2026-11-22T21:00:00Z", 4102444800,
         "２０２６-11-22", "2026-11-22T21:00:00.123456789123Z", True, [], {}]
NASTY = ["\x00", "title\x00with NUL", "\ud800", "lone \udfff surrogate", "\ufeff", "\u202e",
         "<!channel> <@U1> <https://evil.example|click>", "x" * 20000, "💥" * 500,
         "xoxb-1234567890-0987654321-AbCdEfGhIjKl", "\\u0000", "'; DROP TABLE alert; --"]

leaf = st.one_of(
    st.sampled_from(TIMES), st.sampled_from(NASTY),
    st.sampled_from([f"__RAW_{i}__" for i in range(len(RAW))]),
    st.text(max_size=40), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.none(), st.booleans(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any, *, delete: bool) -> None:
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value


def _dump(payload: Any) -> bytes:
    text = json.dumps(payload)
    for i, raw in enumerate(RAW):
        text = text.replace(f'"__RAW_{i}__"', raw)
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def bodies(draw: st.DrawFn, source: str,
           templates: dict[str, list[tuple[Any, dict[str, str]]]] | None = None,
           ) -> tuple[bytes, dict[str, str]]:
    """A source's template payload with trouble in it (or random JSON, or random bytes);
    `templates` defaults to the alert sources' fixtures."""
    template, extra = draw(st.sampled_from((templates or _LOADED)[source]))
    kind = draw(st.sampled_from(["mutated"] * 6 + ["as-is", "json", "bytes", "truncated"]))
    if kind == "json":
        return _dump(draw(json_values)), extra
    if kind == "bytes":
        return draw(st.binary(max_size=200)), extra
    payload = copy.deepcopy(template)
    if kind != "as-is":
        paths = _paths(payload)
        for _ in range(draw(st.integers(1, 4))):
            path = draw(st.sampled_from(paths))
            # (the path may have gone away with an earlier change)
            with contextlib.suppress(KeyError, IndexError, TypeError):
                _set(payload, path, draw(leaf), delete=draw(st.booleans()) and
                     draw(st.booleans()))
            paths = _paths(payload) or paths
    body = _dump(payload)
    if kind == "truncated":
        body = body[:draw(st.integers(0, max(0, len(body) - 1)))]
    return body, extra


@st.composite
def webhook_deliveries(draw: st.DrawFn, sources: tuple[str, ...] = SOURCES) -> Delivery:
    source = draw(st.sampled_from(sources))
    body, extra = draw(bodies(source))
    credentials = draw(st.sampled_from(["good"] * 7 + ["wrong", "none", "bytes"]))
    headers: dict[str, str | bytes] = {"Content-Type": "application/json", **extra}
    if source == "sentry":
        headers["Request-ID"] = draw(st.sampled_from(["", "r-1", "r-2"]))
    secret = SECRETS.get(source)
    if credentials == "good":
        if secret:
            timestamp = None
            if source == "grafana" and draw(st.booleans()):
                import time

                timestamp = str(int(time.time()))
            headers |= sign(source, secret, body, timestamp=timestamp)
        else:
            headers["Authorization"] = f"Bearer {TOKEN}"
    elif credentials == "wrong":
        headers |= sign(source, "not-the-secret", body) if secret \
            else {"Authorization": "Bearer wrong"}
    elif credentials == "bytes":
        header = {"pagerduty": "X-PagerDuty-Signature", "sentry": "Sentry-Hook-Signature",
                  "grafana": "X-Grafana-Alerting-Signature"}.get(source, "Authorization")
        headers[header] = draw(st.binary(min_size=1, max_size=40).filter(
            lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b
            and b.strip() == b and b != b""))
    return Delivery(f"/webhooks/{source}", headers, body, credentials == "good")


@st.composite
def slack_deliveries(draw: st.DrawFn) -> Delivery:
    kind = draw(st.sampled_from(["action", "event", "json", "form", "bytes"]))
    if kind == "action":
        payload = {"type": "block_actions", "user": {"id": draw(st.sampled_from(["U1", "",
                                                                                  "U\x00"]))},
                   "actions": [{"action_id": draw(st.sampled_from(
                       ["incident_ack", "incident_resolve", "feedback_up",
                        "incident_reinvestigate", "nope"])), "value": draw(leaf),
                       "action_ts": draw(st.text(max_size=10))}],
                   "trigger_id": "t", "team": {"id": "T1"}}
        from urllib.parse import urlencode

        text = urlencode({"payload": json.dumps(payload)})
        content_type = "application/x-www-form-urlencoded"
    elif kind == "event":
        text = json.dumps({"type": "event_callback", "event_id": draw(st.text(max_size=20)),
                           "team_id": "T1", "event": {"type": draw(st.sampled_from(
                               ["app_home_opened", "message", "app_mention", "x"])),
                               "user": draw(leaf), "text": draw(leaf)}})
        content_type = "application/json"
    elif kind == "json":
        text = _dump(draw(json_values)).decode("utf-8", errors="replace")
        content_type = "application/json"
    elif kind == "form":
        text = draw(st.text(max_size=200))
        content_type = "application/x-www-form-urlencoded"
    else:
        raw = draw(st.binary(max_size=200))
        text = raw.decode("utf-8", errors="replace")
        content_type = draw(st.sampled_from(["application/json", "text/plain"]))
    signed = draw(st.sampled_from([True] * 3 + [False]))
    headers: dict[str, str | bytes] = dict(slack_headers(
        SLACK_SECRET if signed else "wrong", text, content_type=content_type))
    if not signed and draw(st.booleans()):
        headers["X-Slack-Signature"] = draw(st.binary(min_size=1, max_size=30).filter(
            lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b
            and b.strip() == b))
    return Delivery("/slack/events", headers, text.encode("utf-8", errors="surrogatepass"),
                    signed)
