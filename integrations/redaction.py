"""The one redactor: masks secrets before text reaches Slack, a model, a PR, a log or a case.

Call it at every sink, and always BEFORE cutting text short (a cut JWT or key no longer
matches its shape, so half of it would slip through):

    from integrations.redaction import redact, clip, redact_data
    redact(text)             # the whole text, masked
    clip(text, 300)          # masked first, then cut to at most 300 characters
    redact_data(obj)         # every string inside lists / dicts (Block Kit, tool results)

The shapes are those a well-kept secrets scanner looks for (gitleaks' and detect-secrets'
rule sets): cloud keys (AWS, Azure, GCP), chat and SCM tokens (Slack, GitHub, GitLab),
payment and mail APIs (Stripe, SendGrid, Twilio, Mailgun, Mailchimp), package registries
(npm, PyPI), observability vendors (Datadog, Sentry, Grafana, New Relic), model providers
(OpenAI, Anthropic, Hugging Face), JWTs, PEM private keys, passwords in URLs, connection
strings and `password=` / `secret:` assignments, and Authorization headers. `SHAPES` lists
their names.

Operators add their own patterns with `NIGHTOWL_REDACT_PATTERNS`; the entry point calls
`configure(extra=...)` once, and from then on every caller of `redact` uses them. A masked
secret keeps its kind so a reader still knows what was there: `[REDACTED:github-token]`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# A check a match must also pass (shapes that ordinary text can take, like 40 base64 chars).
Validator = Callable[[str], bool]


def _high_entropy(text: str) -> bool:
    """A bare 40-character base64 run is an AWS secret key only if it looks random: mixed
    case and digits, not hex, and near the entropy of random base64 (paths and words are
    far below it)."""
    if re.fullmatch(r"[0-9a-fA-F]+", text) or "//" in text:
        return False
    classes = [sum(c.isupper() for c in text), sum(c.islower() for c in text),
               sum(c.isdigit() for c in text)]
    if min(classes) < 2:
        return False
    counts = Counter(text)
    entropy = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    return entropy >= 4.2


def _not_number(text: str) -> bool:
    """`max_tokens=4096` and `token_count: 12` are telemetry, not credentials."""
    return not re.fullmatch(r"[\d.,:_-]+|true|false|null|none|\*+|x+", text, re.I)


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    keywords: tuple[str, ...]
    pattern: str
    check: Validator | None = None


# A pattern runs only on text that holds one of its keywords (lower case; none: always), as
# gitleaks does: a substring test costs nothing, a scan of every text for every shape would
# cost a storm. Order matters: specific shapes first, generic assignments last (a generic
# rule then sees `[REDACTED:...]` and leaves it alone). A pattern with a group `s`
# masks only that group, so `password=` or `Bearer ` stays readable.
_PATTERNS: list[Shape] = [
    # -- keys and certificates
    Shape("private-key", ("private key",),
          r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+"
          r" )*PRIVATE KEY(?: BLOCK)?-----|$)"),
    Shape("age-secret-key", ("age-secret-key",),
          r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{50,}"),
    # a JWT, even one cut short after its payload
    Shape("jwt", ("eyj",),
          r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"),
    # -- model providers
    Shape("anthropic-key", ("sk-ant-",),
          r"sk-ant-(?:api|admin|sid)?\d*-?[A-Za-z0-9_-]{20,}"),
    Shape("openai-key", ("sk-",),
          r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}"),
    Shape("openai-key", ("t3blbkfj",),
          r"\b[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b"),
    Shape("huggingface-token", ("hf_", "api_org_"),
          r"\b(?:hf_|api_org_)[A-Za-z0-9]{34,}\b"),
    # -- Slack
    Shape("slack-bot-token", ("xoxb-",),
          r"xoxb-[0-9]{8,}-[A-Za-z0-9-]{8,}"),
    Shape("slack-user-token", ("xoxp-", "xoxe-"),
          r"xox[pe]-[0-9]{8,}-[A-Za-z0-9-]{8,}"),
    Shape("slack-app-token", ("xapp-",),
          r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+|xapp-[A-Za-z0-9-]{10,}"),
    Shape("slack-config-token", ("xoxe",),
          r"xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{100,}"),
    Shape("slack-token", ("xox",),
          r"xox[aorsbp]-[A-Za-z0-9-]{10,}"),
    Shape("slack-webhook", ("hooks.slack.com",),
          r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]+"),
    # -- source control and CI
    Shape("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
          r"gh[pousr]_[A-Za-z0-9]{30,}"),
    Shape("github-token", ("github_pat_",),
          r"github_pat_[A-Za-z0-9_]{40,}"),
    Shape("gitlab-token",
          ("glpat-", "glptt-", "gldt-", "glrt-", "glcbt-", "glsoat-", "gloas-", "glimt-",
           "glffct-", "glagent-", "glft-"),
          r"gl(?:pat|ptt|dt|rt|cbt|soat|oas|imt|ffct|agent|ft)-[A-Za-z0-9_-]{20,}"),
    Shape("gitlab-runner-token", ("gr1348941",),
          r"GR1348941[A-Za-z0-9_-]{20,}"),
    Shape("bitbucket-token", ("atbb",),
          r"ATBB[A-Za-z0-9_=.-]{28,}"),
    Shape("atlassian-token", ("atatt3",),
          r"ATATT3[A-Za-z0-9_=-]{30,}"),
    Shape("npm-token", ("npm_",),
          r"\bnpm_[A-Za-z0-9]{36}\b"),
    Shape("pypi-token", ("pypi-",),
          r"pypi-AgE[A-Za-z0-9_-]{50,}|pypi-[A-Za-z0-9_-]{50,}"),
    Shape("rubygems-token", ("rubygems_",),
          r"rubygems_[a-f0-9]{48}\b"),
    Shape("docker-hub-token", ("dckr_pat_",),
          r"dckr_pat_[A-Za-z0-9_-]{27,}"),
    Shape("terraform-token", (".atlasv1.",),
          r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}"),
    Shape("vault-token", ("hvs.", "hvb.", "hvr."),
          r"hv[sbr]\.[A-Za-z0-9_-]{24,}"),
    Shape("pulumi-token", ("pul-",),
          r"\bpul-[a-f0-9]{40}\b"),
    Shape("doppler-token", ("dp.",),
          r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"),
    Shape("postman-key", ("pmak-",),
          r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
    Shape("linear-key", ("lin_",),
          r"lin_(?:api|oauth)_[A-Za-z0-9]{40}\b"),
    # -- payments, mail, messaging
    Shape("stripe-key", ("_live_", "_test_"),
          r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    Shape("stripe-webhook-secret", ("whsec_",),
          r"whsec_[A-Za-z0-9]{24,}"),
    Shape("sendgrid-key", ("sg.",),
          r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
    Shape("twilio-key", ("sk",),
          r"\bSK[0-9a-fA-F]{32}\b"),
    Shape("mailgun-key", ("key-",),
          r"\bkey-[0-9a-z]{32}\b"),
    Shape("mailchimp-key", ("-us",),
          r"\b[0-9a-f]{32}-us[0-9]{1,2}\b"),
    Shape("square-token", ("sq0", "eaaa"),
          r"\bsq0(?:atp|csp|idp)-[A-Za-z0-9_-]{22,}|\bEAAA[A-Za-z0-9_-]{60}\b"),
    Shape("shopify-token", ("shp",),
          r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
    Shape("telegram-bot-token", (":aa",),
          r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b"),
    Shape("discord-webhook", ("discord",),
          r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+"),
    Shape("facebook-token", ("eaac", "eaad"),
          r"\bEAA[CD][A-Za-z0-9]{80,}"),
    # -- clouds
    Shape("aws-access-key",
          ("akia", "asia", "agpa", "aida", "aroa", "aipa", "anpa", "anva", "abia", "acca", "a3t"),
          r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}\b"),
    Shape("aws-secret-key", ("secret",),
          r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?(?P<s>[A-Za-z0-9/+=]{40})"),
    Shape("aws-session-token", ("session",),
          r"(?i)aws_?session_?token[\"']?\s*[:=]\s*[\"']?(?P<s>[A-Za-z0-9/+=]{40,})"),
    # a bare secret key: 40 random base64 characters standing alone
    Shape("aws-secret-key", (),
          r"(?<![A-Za-z0-9/+=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9/+=])", check=_high_entropy),
    Shape("azure-storage-key", ("accountkey=",),
          r"(?i)AccountKey=(?P<s>[A-Za-z0-9+/=]{20,})"),
    Shape("azure-shared-access-key", ("sharedaccess",),
          r"(?i)SharedAccess(?:Key|Signature)=(?P<s>[A-Za-z0-9+/=%]{20,})"),
    Shape("azure-sas-signature", ("sig=",),
          r"[?&]sig=(?P<s>[A-Za-z0-9%+/=]{30,})"),
    Shape("azure-client-secret", ("q~",),
          r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"),
    Shape("google-api-key", ("aiza",),
          r"AIza[0-9A-Za-z_-]{35}"),
    Shape("google-oauth-secret", ("gocspx-",),
          r"GOCSPX-[A-Za-z0-9_-]{28}"),
    Shape("google-oauth-token", ("ya29.",),
          r"ya29\.[A-Za-z0-9_-]{30,}"),
    Shape("gcp-private-key-id", ("private_key_id",),
          r'\"private_key_id\"\s*:\s*\"(?P<s>[a-f0-9]{40})\"'),
    Shape("digitalocean-token", ("_v1_",),
          r"do[opr]_v1_[a-f0-9]{64}\b"),
    Shape("alibaba-access-key", ("ltai",),
          r"\bLTAI[A-Za-z0-9]{20}\b"),
    Shape("heroku-key", ("hrku-",),
          r"HRKU-[A-Za-z0-9_-]{20,}"),
    Shape("databricks-token", ("dapi",),
          r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    Shape("flyio-token", ("flyv1",),
          r"FlyV1 fm\d_[A-Za-z0-9+/=_-]{40,}"),
    # -- observability
    Shape("sentry-token", ("sntr",),
          r"sntr[ysu]_[A-Za-z0-9_=+/-]{20,}"),
    Shape("sentry-dsn", ("sentry", "ingest"),
          r"https?://(?P<s>[a-f0-9]{32})(?::[a-f0-9]{32})?@[\w.-]*(?:sentry|ingest)"),
    Shape("grafana-token", ("glc_", "glsa_"),
          r"gl(?:c|sa)_[A-Za-z0-9+/=_-]{32,}"),
    Shape("newrelic-key", ("nrak-", "nrjs-", "nrii-", "nraa-"),
          r"NR(?:AK|JS|II|AA)-[A-Za-z0-9]{20,}"),
    Shape("datadog-key", ("key",),
          r"(?i)(?:dd|datadog)[_-]?(?:api|app(?:lication)?)[_-]?key[\"']?\s*[:=]\s*[\"']?(?P<s>[a"
          r"-f0-9]{32,40})\b"),
    # -- credentials inside URLs, commands, headers and assignments
    Shape("url-password", ("://",),
          r"://[^\s:/@]*:(?P<s>[^\s@/]+)@"),
    Shape("basic-auth", ("-u", "--user"),
          r"(?:-u|--user)\s+[^\s:]+:(?P<s>\S+)"),
    Shape("authorization", ("bearer", "basic", "token"),
          r"(?i)\b(?:bearer|basic|token)\s+(?P<s>[A-Za-z0-9._~+/=-]{12,})"),
    Shape("api-key-header", ("api-key", "auth-token", "private-token"),
          r"(?i)\b(?:x-api-key|api-key|dd-api-key|x-auth-token|private-token)[\"']?\s*:\s*[\"']?("
          r"?P<s>[A-Za-z0-9._~+/=-]{12,})"),
    Shape("password", ("pass", "pwd", "secret", "key", "token", "credential"),
          r"(?i)\b[\w.-]*(?:password|passwd|pwd|secret|api_?key|apikey|access_?key|auth_?key|priv"
          r"ate_?key|client_?secret|token|credentials?)[\w.-]*[\"']?\s?[:=]\s?[\"']?(?P<s>[^\s\"'"
          r",;&\[\]{}<>]{4,})", check=_not_number),
]

SHAPES: tuple[str, ...] = tuple(dict.fromkeys(shape.name for shape in _PATTERNS))


@dataclass
class Redactor:
    """The built-in shapes plus `extra` regular expressions (each masked as `custom-N`)."""

    extra: Iterable[str] = ()
    _compiled: list[tuple[str, re.Pattern[str], Validator | None, tuple[str, ...]]] = field(
        default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._compiled = [(shape.name, re.compile(shape.pattern), shape.check, shape.keywords)
                          for shape in _PATTERNS]
        for n, pattern in enumerate(self.extra):
            self._compiled.append((f"custom-{n + 1}", re.compile(pattern), None, ()))
        # Which keywords a text holds is found once, over the set of all shapes' keywords,
        # rather than shape by shape (many shapes share keywords, and a storm's every
        # alert title passes here); each shape then needs one of its own among them.
        self._keywords = tuple(sorted({k for *_, ks in self._compiled for k in ks}))
        self._keysets = [frozenset(entry[3]) for entry in self._compiled]

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        if not text:
            return text
        lowered = text.lower()
        present = {k for k in self._keywords if k in lowered}
        for (name, pattern, check, keywords), keyset in zip(self._compiled, self._keysets,
                                                            strict=True):
            if keywords and keyset.isdisjoint(present):
                continue
            masked = pattern.sub(_replacer(name, check), text)
            if masked is not text and masked != text:
                text, lowered = masked, masked.lower()
                present = {k for k in self._keywords if k in lowered}
        return text

    def clip(self, text: str, limit: int, *, ellipsis: str = "…") -> str:
        """Mask, then cut to at most `limit` characters (never the other way round)."""
        text = self.redact(text)
        if len(text) <= limit:
            return text
        return text[: max(0, limit - len(ellipsis))] + ellipsis

    def redact_data(self, value: Any) -> Any:
        """Every string inside nested lists, tuples and dicts (keys are left alone)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list | tuple):
            return type(value)(self.redact_data(v) for v in value)
        if isinstance(value, dict):
            return {k: self.redact_data(v) for k, v in value.items()}
        return value


def _replacer(name: str, check: Validator | None) -> Callable[[re.Match[str]], str]:
    """Replace the whole match, or only its `s` group when the pattern keeps a prefix
    (`password=`, `Bearer `, `user:`) so the text still reads."""
    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        secret = match.group("s") if "s" in match.re.groupindex else whole
        if check is not None and not check(secret):
            return whole
        if "s" not in match.re.groupindex:
            return f"[REDACTED:{name}]"
        start, end = match.span("s")
        offset = match.start()
        return f"{whole[:start - offset]}[REDACTED:{name}]{whole[end - offset:]}"

    return replace


_active: Redactor | None = None


def configure(*, extra: Iterable[str] = ()) -> Redactor:
    """Set the process-wide redactor (the entry point calls this once with
    `NIGHTOWL_REDACT_PATTERNS`). Raises `re.error` on a pattern that does not compile."""
    global _active
    _active = Redactor(extra=list(extra))
    return _active


def active() -> Redactor:
    """The process-wide redactor: the built-in shapes plus the configured custom patterns."""
    global _active
    if _active is None:
        _active = Redactor()
    return _active


def redact(text: str) -> str:
    return active().redact(text)


def clip(text: str, limit: int, *, ellipsis: str = "…") -> str:
    return active().clip(text, limit, ellipsis=ellipsis)


def redact_data(value: Any) -> Any:
    return active().redact_data(value)
