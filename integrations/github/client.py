"""GitHub's REST API through PyGithub, run in a worker thread so the event loop never blocks.

Only what the Dev agent needs: repositories, pull requests (find, open as draft, update,
label, request reviews, comment, close), file contents (CODEOWNERS), commits, deployments
and releases. Results are small frozen values, never PyGithub objects, so nothing outside
this module touches PyGithub. Every remote failure becomes `RemoteError` naming what failed
and GitHub's status. This module has no method that merges, approves or marks a pull request
ready for review: `tests/test_dev_policy.py` checks that no code calls one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from github import Auth, Github, GithubException, GithubRetry

from integrations.errors import RemoteError

log = logging.getLogger(__name__)
T = TypeVar("T")

PUBLIC_API = "https://api.github.com"


@dataclass(frozen=True, slots=True)
class RepoInfo:
    full_name: str
    default_branch: str
    clone_url: str
    html_url: str


@dataclass(frozen=True, slots=True)
class Review:
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | ...


@dataclass(frozen=True, slots=True)
class PullInfo:
    number: int
    html_url: str
    state: str  # open | closed
    draft: bool
    merged: bool
    title: str
    body: str
    head: str
    head_sha: str
    base: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    reviews: tuple[Review, ...] = ()
    # Emails of the commits' authors on the branch (who pushed to it), when asked for.
    commit_emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    login: str | None  # the GitHub user the author's email belongs to, when GitHub knows
    author: str
    email: str
    title: str
    when: datetime | None
    parents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Deployment:
    id: int
    sha: str
    environment: str
    created_at: datetime
    description: str


@dataclass(frozen=True, slots=True)
class Release:
    tag: str
    target: str
    published_at: datetime
    url: str


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class GitHubClient:
    """`base_url` is `GITHUB_API_URL` (a local fake in tests); `token` is `GITHUB_TOKEN`."""

    def __init__(self, *, token: str, base_url: str = PUBLIC_API, timeout: float = 15.0,
                 retries: int = 2, seconds_between_requests: float = 0.25,
                 seconds_between_writes: float = 1.0) -> None:
        # The pauses are PyGithub's defaults, which follow GitHub's advice for integrations
        # (secondary rate limits); tests against the local fake set them to 0.
        self.base_url = base_url.rstrip("/")
        self._gh = Github(base_url=self.base_url, auth=Auth.Token(token), timeout=int(timeout),
                          lazy=True,
                          retry=GithubRetry(total=retries, backoff_factor=0.2),
                          per_page=100, seconds_between_requests=seconds_between_requests,
                          seconds_between_writes=seconds_between_writes)

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except GithubException as exc:
            message = exc.message if hasattr(exc, "message") and exc.message else str(exc.data)
            raise RemoteError(f"GitHub: {what}: {exc.status} {message}"[:500]) from exc
        except (OSError, ValueError) as exc:  # connection refused, garbage answers
            raise RemoteError(f"GitHub: {what}: {exc}"[:500]) from exc
        except Exception as exc:  # requests' errors derive from OSError, but be sure
            if type(exc).__module__.startswith(("requests", "urllib3")):
                raise RemoteError(f"GitHub: {what}: {exc}"[:500]) from exc
            raise

    # ---- repositories --------------------------------------------------------------------

    async def repo(self, full_name: str) -> RepoInfo:
        def run() -> RepoInfo:
            r = self._gh.get_repo(full_name)
            return RepoInfo(r.full_name, r.default_branch, r.clone_url, r.html_url)
        return await self._call(f"read {full_name}", run)

    async def file_text(self, full_name: str, path: str, *, ref: str | None = None) -> str | None:
        """A file's text at `ref`, or None when it does not exist."""
        def run() -> str | None:
            try:
                r = self._gh.get_repo(full_name)
                content = r.get_contents(path, ref=ref) if ref else r.get_contents(path)
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
            if isinstance(content, list):
                return None
            return content.decoded_content.decode("utf-8", errors="replace")
        return await self._call(f"read {full_name}/{path}", run)

    async def branch_sha(self, full_name: str, branch: str) -> str | None:
        """The commit a branch points at, or None when there is no such branch."""
        def run() -> str | None:
            try:
                return str(self._gh.get_repo(full_name).get_branch(branch).commit.sha)
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
        return await self._call(f"read branch {branch} of {full_name}", run)

    async def commit(self, full_name: str, sha: str) -> CommitInfo:
        def run() -> CommitInfo:
            c = self._gh.get_repo(full_name).get_commit(sha)
            author = c.commit.author
            return CommitInfo(
                sha=c.sha, login=c.author.login if c.author else None,
                author=author.name if author else "", email=author.email if author else "",
                title=c.commit.message.splitlines()[0] if c.commit.message else "",
                when=_aware(author.date) if author else None,
                parents=tuple(p.sha for p in c.parents))
        return await self._call(f"read commit {sha[:12]} of {full_name}", run)

    # ---- pull requests -------------------------------------------------------------------

    async def pulls_for_branch(self, full_name: str, branch: str) -> list[PullInfo]:
        """Every pull request (open or closed) whose head is `branch` of this repository."""
        def run() -> list[PullInfo]:
            r = self._gh.get_repo(full_name)
            owner = full_name.split("/", 1)[0]
            return [_pull(p) for p in r.get_pulls(state="all", head=f"{owner}:{branch}")]
        return await self._call(f"list pull requests of {full_name}:{branch}", run)

    async def open_pulls(self, full_name: str) -> list[PullInfo]:
        def run() -> list[PullInfo]:
            r = self._gh.get_repo(full_name)
            return [_pull(p) for p in r.get_pulls(state="open")]
        return await self._call(f"list open pull requests of {full_name}", run)

    async def create_draft(self, full_name: str, *, head: str, base: str, title: str,
                           body: str) -> PullInfo:
        """Always a draft: nightowl's pull requests wait for a human to mark them ready."""
        def run() -> PullInfo:
            r = self._gh.get_repo(full_name)
            return _pull(r.create_pull(base=base, head=head, title=title, body=body,
                                       draft=True, maintainer_can_modify=True))
        return await self._call(f"open a draft pull request on {full_name}", run)

    async def update(self, full_name: str, number: int, *, title: str, body: str) -> PullInfo:
        def run() -> PullInfo:
            p = self._gh.get_repo(full_name).get_pull(number)
            p.edit(title=title, body=body)
            return _pull(p)
        return await self._call(f"update {full_name}#{number}", run)

    async def add_labels(self, full_name: str, number: int, labels: list[str]) -> None:
        def run() -> None:
            self._gh.get_repo(full_name).get_pull(number).add_to_labels(*labels)
        await self._call(f"label {full_name}#{number}", run)

    async def request_reviews(self, full_name: str, number: int, *, users: list[str],
                              teams: list[str]) -> None:
        if not users and not teams:
            return

        def run() -> None:
            self._gh.get_repo(full_name).get_pull(number).create_review_request(
                reviewers=users, team_reviewers=teams)
        await self._call(f"request reviews on {full_name}#{number}", run)

    async def comment(self, full_name: str, number: int, body: str) -> None:
        def run() -> None:
            self._gh.get_repo(full_name).get_pull(number).create_issue_comment(body)
        await self._call(f"comment on {full_name}#{number}", run)

    async def pull(self, full_name: str, number: int, *, details: bool = False) -> PullInfo:
        """One pull request; with `details`, its reviews and its commits' authors too."""
        def run() -> PullInfo:
            p = self._gh.get_repo(full_name).get_pull(number)
            info = _pull(p)
            if not details:
                return info
            reviews = tuple(Review(r.user.login if r.user else "", r.state)
                            for r in p.get_reviews())
            emails = tuple(c.commit.author.email if c.commit.author else ""
                           for c in p.get_commits())
            return PullInfo(**{**_fields(info), "reviews": reviews, "commit_emails": emails})
        return await self._call(f"read {full_name}#{number}", run)

    async def close(self, full_name: str, number: int) -> PullInfo:
        def run() -> PullInfo:
            p = self._gh.get_repo(full_name).get_pull(number)
            p.edit(state="closed")
            return _pull(p)
        return await self._call(f"close {full_name}#{number}", run)

    async def delete_branch(self, full_name: str, branch: str) -> None:
        """Only nightowl's own branches: callers go through the policy guard, and this
        refuses anything else as a last line."""
        if not branch.startswith("nightowl/"):
            raise ValueError(f"refusing to delete {branch!r}: not a nightowl/ branch")

        def run() -> None:
            try:
                self._gh.get_repo(full_name).get_git_ref(f"heads/{branch}").delete()
            except GithubException as exc:
                if exc.status != 404:  # already gone
                    raise
        await self._call(f"delete branch {branch} of {full_name}", run)

    # ---- change events -------------------------------------------------------------------

    async def deployments(self, full_name: str, *, limit: int = 30) -> list[Deployment]:
        def run() -> list[Deployment]:
            out: list[Deployment] = []
            for d in itertools.islice(self._gh.get_repo(full_name).get_deployments(), limit):
                created = _aware(d.created_at) or datetime.now(UTC)
                out.append(Deployment(d.id, d.sha, d.environment or "", created,
                                      d.description or ""))
            return out
        return await self._call(f"list deployments of {full_name}", run)

    async def releases(self, full_name: str, *, limit: int = 30) -> list[Release]:
        def run() -> list[Release]:
            out: list[Release] = []
            for r in itertools.islice(self._gh.get_repo(full_name).get_releases(), limit):
                if r.draft:
                    continue
                when = _aware(r.published_at) or _aware(r.created_at) or datetime.now(UTC)
                out.append(Release(r.tag_name, r.target_commitish, when, r.html_url))
            return out
        return await self._call(f"list releases of {full_name}", run)

    async def merged_pulls(self, full_name: str, *, limit: int = 30) -> list[PullInfo]:
        def run() -> list[PullInfo]:
            pulls = self._gh.get_repo(full_name).get_pulls(
                state="closed", sort="updated", direction="desc")
            return [_pull(p) for p in itertools.islice(pulls, limit) if p.merged_at is not None]
        return await self._call(f"list merged pull requests of {full_name}", run)

    async def merge_commit(self, full_name: str, number: int) -> str | None:
        def run() -> str | None:
            sha = self._gh.get_repo(full_name).get_pull(number).merge_commit_sha
            return str(sha) if sha else None
        return await self._call(f"read {full_name}#{number}", run)


def _fields(info: PullInfo) -> dict[str, Any]:
    return {name: getattr(info, name) for name in PullInfo.__slots__}


def _pull(p: Any) -> PullInfo:
    return PullInfo(
        number=p.number, html_url=p.html_url or "", state=p.state, draft=bool(p.draft),
        merged=bool(p.merged), title=p.title or "", body=p.body or "", head=p.head.ref,
        head_sha=p.head.sha or "", base=p.base.ref,
        labels=tuple(label.name for label in p.labels),
        reviewers=tuple(u.login for u in p.requested_reviewers),
        closed_at=_aware(p.closed_at), merged_at=_aware(p.merged_at))
