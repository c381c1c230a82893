"""GitHub: an organisation's audit log and its security alerts, through PyGithub.

- Audit log: `GET /orgs/{org}/audit-log?phrase=created:A..B&order=asc` (GitHub Enterprise
  Cloud), following the `Link` header's next pages. PyGithub has no wrapper for it, so it goes
  through PyGithub's own requester (auth, retries and base URL as for every other call). Each
  entry is a `GitHub.Audit` event exactly as the API returns it.
- Security alerts: Dependabot, secret scanning and code scanning alerts of the organisation
  (`Organization.get_dependabot_alerts` / `get_secret_scanning_alerts` /
  `get_codescan_alerts`), newest update first, read until updates fall before the window.
  Each is a `GitHub.SecurityAlert` event: `{"alert_type", "repository", "alert": <raw>}`, so a
  rule can tell the three kinds apart; its time is the alert's `updated_at`.

PyGithub is blocking: everything runs in a worker thread. A refused token or an unreachable
API fails the read (`SourceError`); a 403/404 on one alert kind (the feature is off, or the
token lacks that scope) skips that kind and is named in `problems`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException

from integrations.security.entities import event_time, extract_entities
from integrations.security.errors import SourceError
from integrations.security.types import (
    GITHUB_AUDIT,
    GITHUB_SECURITY_ALERT,
    SecurityEvent,
    format_ts,
    parse_ts,
)

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
ALERT_KINDS = ("dependabot", "secret_scanning", "code_scanning")


class GitHubSecuritySource:
    name = "github"

    def __init__(
        self,
        *,
        org: str,
        token: str,
        base_url: str = "https://api.github.com",
        audit_log: bool = True,
        alerts: Collection[str] = ALERT_KINDS,
        max_pages: int = 100,
        timeout: int = 30,
    ) -> None:
        self.org = org
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.audit_log = audit_log
        self.alerts = tuple(a for a in ALERT_KINDS if a in set(alerts))
        self.max_pages = max_pages
        self.timeout = timeout
        self.problems: list[str] = []

    async def events(
        self,
        *,
        start: datetime,
        end: datetime,
        log_types: Collection[str] | None = None,
        principal: str | None = None,
    ) -> list[SecurityEvent]:
        return await asyncio.to_thread(self._read, start, end, log_types, principal)

    def _client(self) -> Github:
        return Github(
            auth=Auth.Token(self._token),
            base_url=self.base_url,
            timeout=self.timeout,
            per_page=100,
            retry=2,
        )

    def _read(
        self,
        start: datetime,
        end: datetime,
        log_types: Collection[str] | None,
        principal: str | None,
    ) -> list[SecurityEvent]:
        self.problems = []
        gh = self._client()
        out: list[SecurityEvent] = []
        try:
            if self.audit_log and (log_types is None or GITHUB_AUDIT in log_types):
                out.extend(self._audit(gh, start, end, principal))
            if self.alerts and (log_types is None or GITHUB_SECURITY_ALERT in log_types):
                out.extend(self._alerts(gh, start, end))
        except BadCredentialsException as exc:
            raise SourceError(
                "the token was refused (401); check GITHUB_TOKEN", source=self.name
            ) from exc
        except GithubException as exc:
            raise SourceError(
                f"GitHub answered {exc.status}: {_message(exc)}", source=self.name
            ) from exc
        except OSError as exc:  # connection refused, DNS, timeout (requests wraps as OSError)
            raise SourceError(f"cannot reach {self.base_url}: {exc}", source=self.name) from exc
        finally:
            gh.close()
        if principal:
            who = principal.lower()
            out = [
                e
                for e in out
                if (extract_entities(e.log_type, e.event).principal or "").lower() == who
            ]
        out.sort(key=lambda e: e.ts)
        return out

    def _audit(
        self, gh: Github, start: datetime, end: datetime, principal: str | None
    ) -> list[SecurityEvent]:
        phrase = f"created:{format_ts(start)}..{format_ts(end)}"
        if principal:
            phrase += f" actor:{principal}"
        url: str | None = f"/orgs/{self.org}/audit-log"
        params: dict[str, Any] | None = {"phrase": phrase, "order": "asc", "per_page": 100}
        out: list[SecurityEvent] = []
        for _ in range(self.max_pages):
            if url is None:
                break
            headers, data = gh.requester.requestJsonAndCheck("GET", url, parameters=params)
            params = None  # the next link carries them
            if not isinstance(data, list):
                raise SourceError(
                    "the audit log answered something other than a list", source=self.name
                )
            for entry in data:
                if not isinstance(entry, dict):
                    self.problems.append("audit log: an entry that is not an object")
                    continue
                ts = event_time(GITHUB_AUDIT, entry)
                if ts is None:
                    self.problems.append("audit log: an entry without @timestamp/created_at")
                    continue
                if start <= ts < end:
                    ident = str(entry.get("_document_id") or _digest(entry))
                    out.append(SecurityEvent(id=ident, log_type=GITHUB_AUDIT, ts=ts, event=entry))
            link = str(headers.get("link") or headers.get("Link") or "")
            match = _NEXT.search(link)
            url = match.group(1) if match else None
        else:
            if url is not None:
                self.problems.append(f"audit log: stopped after {self.max_pages} pages")
        return out

    def _alerts(self, gh: Github, start: datetime, end: datetime) -> list[SecurityEvent]:
        org = gh.get_organization(self.org)

        def fetch(kind: str) -> Iterable[Any]:
            if kind == "dependabot":
                return org.get_dependabot_alerts(sort="updated", direction="desc")
            if kind == "secret_scanning":
                return org.get_secret_scanning_alerts(sort="updated", direction="desc")
            return org.get_codescan_alerts(sort="updated", direction="desc")

        out: list[SecurityEvent] = []
        for kind in self.alerts:
            try:
                for alert in fetch(kind):
                    raw = alert.raw_data
                    stamp = raw.get("updated_at") or raw.get("created_at")
                    if not stamp:
                        self.problems.append(f"{kind}: alert {raw.get('number')} has no time")
                        continue
                    ts = parse_ts(stamp)
                    if ts < start:
                        break  # newest first: the rest is older still
                    if ts >= end:
                        continue
                    repo = raw.get("repository") if isinstance(raw.get("repository"), dict) else {}
                    event = {
                        "alert_type": kind,
                        "repository": repo.get("full_name", ""),
                        "alert": raw,
                    }
                    ident = f"{kind}:{repo.get('full_name', '')}#{raw.get('number')}@{stamp}"
                    out.append(
                        SecurityEvent(id=ident, log_type=GITHUB_SECURITY_ALERT, ts=ts, event=event)
                    )
            except BadCredentialsException:
                raise
            except GithubException as exc:
                if exc.status in (403, 404):
                    self.problems.append(f"{kind} alerts skipped: {exc.status} {_message(exc)}")
                    continue
                raise
        return out


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:200]
    return str(exc)[:200]


def _digest(entry: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:16]
