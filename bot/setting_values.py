"""The values of settings, each checked when read: one validator per kind of value (a URL,
a listen address, a schedule, a path, a token of a known kind), so `load_settings()` names a
wrong variable at start instead of the first request, post or scan failing later."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, SecretStr


def _http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname \
            or any(c.isspace() for c in value):
        raise ValueError("must be an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError("must be an http:// or https:// URL; its port is not a number") \
            from None
    return value


def _log_level(value: str) -> str:
    if value.strip().upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value.strip().upper()


def _label_list(value: str) -> str:
    labels = [label.strip() for label in value.split(",")]
    bad = [label for label in labels if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", label)]
    if bad:
        raise ValueError(f"must be comma-separated Prometheus label names; {bad[0]!r} is not one")
    return value


def _existing_file(value: str) -> str:
    if not Path(value).expanduser().is_file():
        raise ValueError("no such file")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _is_host(value: str) -> bool:
    """An IP address or an RFC 1123 host name (`0.0.0.0`, `::`, `localhost`, `db.internal`)."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.removesuffix(".").split(".")
    # An all-digit last label is a mistyped IPv4 address (300.1.2.3), not a name.
    return (0 < len(value) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit())


def listen_host(value: str) -> str:
    if not _is_host(value.strip()):
        raise ValueError("must be an address to listen on (127.0.0.1, 0.0.0.0, ::) or a host "
                         "name")
    return value.strip()


def _host_pattern_ok(entry: str) -> bool:
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}|\*))?", entry)
    return bool(match) and _is_host(match.group(1).strip("[]"))  # type: ignore[union-attr]


def _host_patterns(value: str) -> str:
    """`host`, `host:port` or `host:*`, comma-separated (what /mcp matches Host against)."""
    for entry in _split_list(value):
        if not _host_pattern_ok(entry):
            raise ValueError(f"{entry!r} is not host, host:port or host:*")
    return value


def _origins(value: str) -> str:
    """`scheme://host[:port|:*]`, comma-separated (what /mcp matches Origin against)."""
    for entry in _split_list(value):
        scheme, sep, rest = entry.partition("://")
        if scheme not in ("http", "https") or not sep or not _host_pattern_ok(rest):
            raise ValueError(f"{entry!r} is not an origin like https://nightowl.internal")
    return value


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _one_line(value: str) -> str:
    """A name: one line, no surrounding spaces (a stray one from copying makes a new name)."""
    if value != value.strip() or any(not c.isprintable() for c in value):
        raise ValueError("must be one line without leading or trailing spaces")
    return value


def _secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("contains a space or control character (a stray one from copying?)")
    return value


def _token(what: str, *prefixes: str, legacy: str | None = None,
           ) -> Callable[[SecretStr], SecretStr]:
    """A credential whose issuer marks its kind with a prefix: a token of the wrong kind (the
    app token in SLACK_BOT_TOKEN) is caught here, not at the first call."""
    def check(value: SecretStr) -> SecretStr:
        text = _secret(value).get_secret_value()
        if text.startswith(prefixes) or (legacy and re.fullmatch(legacy, text)):
            return value
        raise ValueError(f"is not {what} (those start with {' or '.join(prefixes)})")
    return check


def _schedule(value: str) -> str:
    """`every 5m`, `cron 0 8 * * *` (CronTrigger.from_crontab) or `off`, parsed as the
    scheduler will parse it (the time zone is checked on its own)."""
    from scheduler.errors import SchedulerError
    from scheduler.schedule import parse_schedule

    try:
        parse_schedule(value, setting="\0")
    except SchedulerError as exc:
        text = str(exc).replace(f"\0={value!r} ", "").replace("\0: ", "")
        raise ValueError(text.replace(f", got {value!r}", "")) from None
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not an IANA time zone (UTC, Europe/Paris, America/New_York)") \
            from None
    return value


def slack_channel(value: str) -> str:
    # Slack channel names are lowercase, without spaces or periods, at most 80 characters;
    # an ID (C0123ABCD) works too.
    if not re.fullmatch(r"#?[^\sA-Z.,#]{1,80}|[CGD][A-Z0-9]{6,}", value):
        raise ValueError("must be a Slack channel: #name (lowercase, no spaces or periods) or "
                         "its ID")
    return value


def _sentry_org(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        raise ValueError("must be the organisation's slug (lowercase, as in its sentry.io URL)")
    return value


def _github_org(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", value):
        raise ValueError("must be a GitHub organisation's login (letters, digits, hyphens)")
    return value


def _user_group(value: str) -> str:
    if not re.fullmatch(r"S[A-Z0-9]{2,}", value):
        raise ValueError("must be a Slack user group ID (S0123ABCD), not its name")
    return value


def split_paths(value: str | None) -> list[str]:
    """`a:b,c` -> ["a", "b", "c"]: operators list folders colon- or comma-separated."""
    if not value:
        return []
    return [part.strip() for chunk in value.split(",") for part in chunk.split(":")
            if part.strip()]


def _existing_paths(value: str) -> str:
    missing = [p for p in split_paths(value) if not Path(p).expanduser().exists()]
    if missing:
        raise ValueError(f"no such file or folder: {missing[0]}")
    return value


def _file_or_its_folder(value: str) -> str:
    """A file nightowl reads when it exists (suppressions): its folder must exist."""
    path = Path(value).expanduser()
    if path.exists() and not path.is_file():
        raise ValueError("is a folder, not a file")
    if not path.exists() and not path.parent.is_dir():
        raise ValueError(f"no such folder: {path.parent}")
    return value


def _creatable_folder(value: str) -> str:
    """A folder nightowl creates when missing: the nearest existing ancestor must be a
    writable folder."""
    path = Path(value).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot be {'written' if existing == path else 'created'}: "
                         f"{existing} is not writable")
    return value


def _log_type(value: str) -> str:
    from integrations.security.types import KNOWN_LOG_TYPES

    if not re.fullmatch(r"[A-Za-z0-9]+(\.[A-Za-z0-9]+)+", value):
        raise ValueError(f"must be a log type like {', '.join(KNOWN_LOG_TYPES[:3])} "
                         "(Vendor.Type)")
    return value


# A base URL of a remote API, checked when read rather than at the first request.
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Secret = Annotated[SecretStr, AfterValidator(_secret)]
Schedule = Annotated[str, AfterValidator(_schedule)]
Channel = Annotated[str, AfterValidator(slack_channel)]
SlackBotToken = Annotated[SecretStr, AfterValidator(_token("a Slack bot token", "xoxb-"))]
SlackAppToken = Annotated[SecretStr, AfterValidator(
    _token("a Slack app-level token (Socket Mode)", "xapp-"))]
# Fine-grained, classic, OAuth, app installation, user-to-server, refresh; or a 40-hex
# token of GitHub Enterprise Server before 3.2.
GitHubToken = Annotated[SecretStr, AfterValidator(_token(
    "a GitHub token", "ghp_", "github_pat_", "gho_", "ghs_", "ghu_", "ghr_",
    legacy=r"[0-9a-f]{40}"))]
Paths = Annotated[str, AfterValidator(_existing_paths)]
SentryToken = Annotated[SecretStr, AfterValidator(_token(
    "a Sentry auth token", "sntrys_", "sntryu_", legacy=r"[0-9a-f]{32,64}"))]

LogLevel = Annotated[str, AfterValidator(_log_level)]
LabelList = Annotated[str, AfterValidator(_label_list)]
ExistingFile = Annotated[str, AfterValidator(_existing_file)]
Regex = Annotated[str, AfterValidator(_regex)]
Host = Annotated[str, AfterValidator(listen_host)]
HostPatterns = Annotated[str, AfterValidator(_host_patterns)]
Origins = Annotated[str, AfterValidator(_origins)]
OneLine = Annotated[str, AfterValidator(_one_line)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
FileInExistingFolder = Annotated[str, AfterValidator(_file_or_its_folder)]
CreatableFolder = Annotated[str, AfterValidator(_creatable_folder)]
LogType = Annotated[str, AfterValidator(_log_type)]
SentryOrg = Annotated[str, AfterValidator(_sentry_org)]
GitHubOrg = Annotated[str, AfterValidator(_github_org)]
UserGroup = Annotated[str, AfterValidator(_user_group)]
