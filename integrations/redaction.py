"""Masks secrets in text before it goes to a model or into Slack.

Covers the credentials that leak into logs and alerts most: provider API keys and tokens
(Slack, GitHub, OpenAI, Anthropic, Stripe, Google, AWS, Sentry, npm, PyPI), JWTs, private
keys, passwords in URLs and connection strings, `password=` / `secret:` style pairs, and
bearer/basic authorization headers. Operators add their own patterns
(`NIGHTOWL_REDACT_PATTERNS`). A masked secret keeps its kind, so a reader still knows what was
there: `[REDACTED:github-token]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_PATTERNS: list[tuple[str, str]] = [
    ("private-key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?"
                    r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
    ("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    ("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    ("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("aws-access-key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    ("aws-secret-key", r"(?i)aws_secret_access_key\s*[:=]\s*[\"']?(?P<s>[A-Za-z0-9/+=]{40})"),
    ("sentry-token", r"\bsntry[su]_[A-Za-z0-9_=+/-]{20,}"),
    ("npm-token", r"\bnpm_[A-Za-z0-9]{36}"),
    ("pypi-token", r"\bpypi-[A-Za-z0-9_-]{50,}"),
    ("url-password", r"://[^\s:/@]*:(?P<s>[^\s@/]+)@"),
    ("basic-auth", r"(?:-u|--user)\s+[^\s:]+:(?P<s>\S+)"),
    ("authorization", r"(?i)\b(?:bearer|basic)\s+(?P<s>[A-Za-z0-9._~+/=-]{12,})"),
    ("password", r"(?i)\b(?:password|passwd|pwd|secret|api_key|apikey|token|access_token"
                 r"|client_secret)[\"']?\s?[:=]\s?[\"']?(?P<s>[^\s\"',;&\[]{4,})"),
]


@dataclass
class Redactor:
    extra: Iterable[str] = ()
    _compiled: list[tuple[str, re.Pattern[str]]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._compiled = [(name, re.compile(pattern)) for name, pattern in _PATTERNS]
        for n, pattern in enumerate(self.extra):
            self._compiled.append((f"custom-{n + 1}", re.compile(pattern)))

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        if not text:
            return text
        for name, pattern in self._compiled:
            text = pattern.sub(_replacer(name), text)
        return text


def _replacer(name: str) -> Callable[[re.Match[str]], str]:
    """Replace the whole match, or only its `s` group when the pattern keeps a prefix
    (`password=`, `Bearer `, `user:`) so the text still reads."""
    def replace(match: re.Match[str]) -> str:
        if "s" not in match.re.groupindex:
            return f"[REDACTED:{name}]"
        start, end = match.span("s")
        whole = match.group(0)
        offset = match.start()
        return f"{whole[:start - offset]}[REDACTED:{name}]{whole[end - offset:]}"

    return replace


DEFAULT = Redactor()


def redact(text: str) -> str:
    return DEFAULT.redact(text)
