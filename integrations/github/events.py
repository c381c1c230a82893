"""GitHub as a source of change events: deployments, releases and merged pull requests of
each configured repository become `deploy` events that carry the repository and the commit
range, so an investigation that blames a deploy leads to its commits.

A deployment's range runs from the previous deployment to the same environment; a release's
from the previous release; a merged pull request's from its merge commit's first parent. A
repository GitHub cannot read gives an `error` result naming it; the others still count.
"""

from __future__ import annotations

import logging

from integrations.errors import RemoteError
from integrations.github.client import GitHubClient
from integrations.github.repos import RepoMap
from integrations.telemetry.base import (
    ChangeEvent,
    EventSource,
    EventsResult,
    QueryInfo,
    Status,
    Window,
)

log = logging.getLogger(__name__)


class GitHubChangeSource:
    name = "github"

    def __init__(self, client: GitHubClient, repos: RepoMap, *,
                 environment: str | None = "production", limit: int = 30) -> None:
        self.client = client
        self.repos = repos
        self.environment = environment
        self.limit = limit

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        targets = [t for t in self.repos.targets.values()
                   if service is None or t.service == service]
        by_repo: dict[str, list[str]] = {}
        for t in targets:
            by_repo.setdefault(t.full_name, []).append(t.service)
        events: list[ChangeEvent] = []
        failures: list[str] = []
        for repo, services in sorted(by_repo.items()):
            try:
                found = await self._repo_events(repo, window)
            except RemoteError as exc:
                failures.append(str(exc))
                continue
            for svc in services:
                events += [ChangeEvent(ts=e.ts, service=svc, kind=e.kind, summary=e.summary,
                                       repository=e.repository, from_sha=e.from_sha,
                                       to_sha=e.to_sha, link=e.link) for e in found]
        events.sort(key=lambda e: e.ts)
        query = f"GitHub deployments, releases and merged PRs of {', '.join(sorted(by_repo))}"
        if failures and not events:
            return EventsResult(QueryInfo(query, "error", "; ".join(failures)[:500]))
        info = QueryInfo(query, "ok" if events else "empty",
                         "; ".join(failures)[:500] if failures else None)
        return EventsResult(info, events)

    async def _repo_events(self, repo: str, window: Window) -> list[ChangeEvent]:
        start, end = window.start_s, window.end_s
        out: list[ChangeEvent] = []
        deployments = [d for d in await self.client.deployments(repo, limit=self.limit)
                       if self.environment is None or d.environment == self.environment]
        deployments.sort(key=lambda d: d.created_at)
        for before, d in zip([None, *deployments][:len(deployments)], deployments, strict=True):
            ts = d.created_at.timestamp()
            if start <= ts <= end:
                span = f"{before.sha[:7]}..{d.sha[:7]}" if before else d.sha[:7]
                out.append(ChangeEvent(ts, "", "deploy",
                                       f"deployed {repo} {span} to {d.environment}",
                                       repository=repo, from_sha=before.sha if before else None,
                                       to_sha=d.sha))
        releases = sorted(await self.client.releases(repo, limit=self.limit),
                          key=lambda r: r.published_at)
        for before_r, r in zip([None, *releases][:len(releases)], releases, strict=True):
            ts = r.published_at.timestamp()
            if start <= ts <= end:
                out.append(ChangeEvent(ts, "", "deploy", f"released {repo} {r.tag}",
                                       repository=repo,
                                       from_sha=before_r.target if before_r else None,
                                       to_sha=r.target, link=r.url))
        for pull in await self.client.merged_pulls(repo, limit=self.limit):
            if pull.merged_at is None or not start <= pull.merged_at.timestamp() <= end:
                continue
            sha = await self.client.merge_commit(repo, pull.number)
            if not sha:
                continue
            parents = (await self.client.commit(repo, sha)).parents
            out.append(ChangeEvent(pull.merged_at.timestamp(), "", "deploy",
                                   f"merged {repo}#{pull.number}: {pull.title[:80]}",
                                   repository=repo, from_sha=parents[0] if parents else None,
                                   to_sha=sha, link=pull.html_url))
        return out


class ChainedEvents:
    """Change events from several sources at once (a scenario's file and GitHub, say)."""

    name = "events"

    def __init__(self, *sources: EventSource) -> None:
        self.sources = sources

    async def events(self, window: Window, *, service: str | None = None) -> EventsResult:
        events: list[ChangeEvent] = []
        infos: list[QueryInfo] = []
        for source in self.sources:
            result = await source.events(window, service=service)
            infos.append(result.info)
            events += result.events
        events.sort(key=lambda e: e.ts)
        status: Status = "ok" if events else ("error" if infos and all(
            i.status == "error" for i in infos) else "empty")
        errors = "; ".join(i.error for i in infos if i.error)
        return EventsResult(QueryInfo(" + ".join(i.query for i in infos), status,
                                      errors or None), events)
