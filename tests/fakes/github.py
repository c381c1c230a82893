"""A local fake of the GitHub REST API and of git's smart HTTP, backed by real bare repositories.

Pushes and clones go through the real `git http-backend` (CGI), so what nightowl pushes is
what a reviewer would see. A push that touches a protected branch (the default branch) is
answered 403 before git sees it, as GitHub's branch protection does. The REST side keeps
pull requests, labels, review requests, comments, reviews, deployments and releases in
memory, reads refs, commits and file contents (CODEOWNERS) from the bare repository, and
answers with its own base URL in every `url` field, which PyGithub follows.

Test helpers act as humans would on GitHub: `approve`, `merge`, `close`, `push_as_human`.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import itertools
import os
import subprocess
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Json = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                         env=full)
    return out.stdout.strip()


@dataclass
class Pull:
    number: int
    repo: str
    title: str
    body: str
    head: str
    base: str
    draft: bool
    user: str
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    closed_at: str | None = None
    merge_commit_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    team_reviewers: list[str] = field(default_factory=list)
    comments: list[Json] = field(default_factory=list)
    reviews: list[Json] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    head_sha_at_close: str | None = None


@dataclass
class FakeRepo:
    full_name: str
    path: Path  # the bare repository
    default_branch: str = "main"
    protected: set[str] = field(default_factory=set)
    deployments: list[Json] = field(default_factory=list)
    releases: list[Json] = field(default_factory=list)


@dataclass
class FakeGitHub:
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    pulls: dict[str, list[Pull]] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=dict)  # commit email -> login
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    refused_pushes: list[str] = field(default_factory=list)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Seconds POST /pulls waits AFTER creating the pull request and before answering: a
    # client killed meanwhile never learns the number (the crash test's window).
    answer_delay: float = 0.0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1000)

    # ---- set-up, as a repository owner would ---------------------------------------------

    def add_repo(self, full_name: str, source: Path, *, default_branch: str = "main") -> FakeRepo:
        """A bare copy of the working repository `source` (all branches), with the default
        branch protected."""
        bare = self.root / f"{full_name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--bare", "--quiet", str(source), str(bare)],
                       check=True, capture_output=True)
        git(bare, "config", "http.receivepack", "true")
        git(bare, "symbolic-ref", "HEAD", f"refs/heads/{default_branch}")
        repo = FakeRepo(full_name, bare, default_branch, protected={default_branch})
        self.repos[full_name] = repo
        self.pulls[full_name] = []
        return repo

    def clone_url(self, full_name: str) -> str:
        return f"{self.base_url}/git/{full_name}.git"

    def add_deployment(self, full_name: str, *, sha: str, environment: str = "production",
                       created_at: str | None = None, ref: str | None = None) -> Json:
        repo = self.repos[full_name]
        number = next(self._ids)
        item = {"id": number, "sha": sha, "ref": ref or sha, "task": "deploy",
                "environment": environment, "description": f"deploy {sha[:7]}",
                "created_at": created_at or _now(), "updated_at": created_at or _now(),
                "creator": {"login": "deploybot", "id": 7, "type": "Bot"},
                "url": f"{self._repo_url(full_name)}/deployments/{number}",
                "statuses_url": f"{self._repo_url(full_name)}/deployments/{number}/statuses",
                "repository_url": self._repo_url(full_name), "payload": {}}
        repo.deployments.insert(0, item)
        return item

    def add_release(self, full_name: str, *, tag: str, sha: str,
                    published_at: str | None = None) -> Json:
        repo = self.repos[full_name]
        number = next(self._ids)
        item = {"id": number, "tag_name": tag, "target_commitish": sha, "name": tag,
                "draft": False, "prerelease": False, "body": "",
                "created_at": published_at or _now(), "published_at": published_at or _now(),
                "url": f"{self._repo_url(full_name)}/releases/{number}",
                "html_url": f"https://github.example/{full_name}/releases/tag/{tag}",
                "author": {"login": "releaser", "id": 8, "type": "User"}}
        repo.releases.insert(0, item)
        return item

    # ---- humans on GitHub ------------------------------------------------------------------

    def pull(self, full_name: str, number: int) -> Pull:
        return next(p for p in self.pulls[full_name] if p.number == number)

    def approve(self, full_name: str, number: int, *, by: str = "alice") -> None:
        with self.lock:
            self.pull(full_name, number).reviews.append(
                {"id": next(self._ids), "user": {"login": by, "id": 2, "type": "User"},
                 "state": "APPROVED", "body": "", "submitted_at": _now()})

    def merge(self, full_name: str, number: int) -> None:
        with self.lock:
            pr = self.pull(full_name, number)
            pr.state, pr.merged, pr.merged_at = "closed", True, _now()
            pr.closed_at = pr.merged_at
            pr.merge_commit_sha = self.ref_sha(full_name, pr.head)

    def close(self, full_name: str, number: int) -> None:
        with self.lock:
            pr = self.pull(full_name, number)
            pr.state, pr.closed_at = "closed", _now()

    def push_as_human(self, full_name: str, branch: str, *, email: str = "alice@example.com"
                      ) -> str:
        """A reviewer adds a commit to the branch (directly in the bare repository)."""
        bare = self.repos[full_name].path
        parent = git(bare, "rev-parse", f"refs/heads/{branch}")
        tree = git(bare, "rev-parse", f"{parent}^{{tree}}")
        env = {"GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": email}
        sha = git(bare, "commit-tree", tree, "-p", parent, "-m", "reviewer tweak", env=env)
        git(bare, "update-ref", f"refs/heads/{branch}", sha)
        return sha

    def ref_sha(self, full_name: str, branch: str) -> str | None:
        try:
            return git(self.repos[full_name].path, "rev-parse", "--verify", "--quiet",
                       f"refs/heads/{branch}")
        except subprocess.CalledProcessError:
            return None

    def open_pulls(self, full_name: str) -> list[Pull]:
        return [p for p in self.pulls[full_name] if p.state == "open"]

    # ---- JSON shapes --------------------------------------------------------------------------

    def _repo_url(self, full_name: str) -> str:
        return f"{self.base_url}/repos/{full_name}"

    def _user(self, login: str) -> Json:
        return {"login": login, "id": abs(hash(login)) % 100000, "type": "User",
                "url": f"{self.base_url}/users/{login}"}

    def _repo_json(self, repo: FakeRepo) -> Json:
        owner, name = repo.full_name.split("/", 1)
        return {"id": abs(hash(repo.full_name)) % 100000, "name": name,
                "full_name": repo.full_name, "owner": self._user(owner), "private": True,
                "default_branch": repo.default_branch, "url": self._repo_url(repo.full_name),
                "html_url": f"https://github.example/{repo.full_name}",
                "clone_url": self.clone_url(repo.full_name), "archived": False}

    def _pull_json(self, pr: Pull) -> Json:
        repo = self.repos[pr.repo]
        url = f"{self._repo_url(pr.repo)}/pulls/{pr.number}"
        issue = f"{self._repo_url(pr.repo)}/issues/{pr.number}"
        head_sha = self.ref_sha(pr.repo, pr.head) or pr.head_sha_at_close or ""
        owner = pr.repo.split("/")[0]
        return {
            "id": pr.number * 7, "number": pr.number, "url": url, "issue_url": issue,
            "html_url": f"https://github.example/{pr.repo}/pull/{pr.number}",
            "comments_url": f"{issue}/comments", "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments", "state": pr.state, "title": pr.title,
            "body": pr.body, "draft": pr.draft, "merged": pr.merged, "merged_at": pr.merged_at,
            "closed_at": pr.closed_at, "merge_commit_sha": pr.merge_commit_sha,
            "created_at": pr.created_at, "updated_at": pr.updated_at,
            "user": self._user(pr.user),
            "labels": [{"name": n, "id": abs(hash(n)) % 10000,
                        "url": f"{self._repo_url(pr.repo)}/labels/{n}"} for n in pr.labels],
            "requested_reviewers": [self._user(r) for r in pr.reviewers],
            "requested_teams": [{"slug": t, "name": t, "id": 1} for t in pr.team_reviewers],
            "head": {"ref": pr.head, "sha": head_sha, "label": f"{owner}:{pr.head}",
                     "repo": self._repo_json(repo)},
            "base": {"ref": pr.base, "sha": self.ref_sha(pr.repo, pr.base) or "",
                     "label": f"{owner}:{pr.base}", "repo": self._repo_json(repo)},
        }

    def _commit_json(self, full_name: str, sha: str) -> Json:
        bare = self.repos[full_name].path
        fmt = "%H%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%P%x00%B"
        out = git(bare, "show", "-s", f"--format={fmt}", sha)
        h, an, ae, ad, cn, ce, cd, parents, message = out.split("\x00", 8)
        login = self.logins.get(ae)
        return {"sha": h, "url": f"{self._repo_url(full_name)}/commits/{h}",
                "html_url": f"https://github.example/{full_name}/commit/{h}",
                "commit": {"message": message.strip(),
                           "author": {"name": an, "email": ae, "date": ad},
                           "committer": {"name": cn, "email": ce, "date": cd}},
                "author": self._user(login) if login else None,
                "committer": None,
                "parents": [{"sha": p, "url": f"{self._repo_url(full_name)}/commits/{p}"}
                            for p in parents.split()]}

    # ---- the application -----------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/git/{owner}/{name}.git/{rest:path}", self._git,
                  methods=["GET", "POST"]),
            Route("/rate_limit", self._rate_limit),
            Route("/repos/{owner}/{name}", self._repo),
            Route("/repos/{owner}/{name}/pulls", self._pulls, methods=["GET", "POST"]),
            Route("/repos/{owner}/{name}/pulls/{number:int}", self._pull,
                  methods=["GET", "PATCH"]),
            Route("/repos/{owner}/{name}/pulls/{number:int}/requested_reviewers",
                  self._reviewers, methods=["POST"]),
            Route("/repos/{owner}/{name}/pulls/{number:int}/reviews", self._reviews,
                  methods=["GET", "POST"]),
            Route("/repos/{owner}/{name}/pulls/{number:int}/commits", self._pull_commits),
            Route("/repos/{owner}/{name}/pulls/{number:int}/merge", self._merge,
                  methods=["GET", "PUT"]),
            Route("/repos/{owner}/{name}/issues/{number:int}/labels", self._labels,
                  methods=["GET", "POST", "PUT"]),
            Route("/repos/{owner}/{name}/issues/{number:int}/comments", self._comments,
                  methods=["GET", "POST"]),
            Route("/repos/{owner}/{name}/contents/{path:path}", self._contents),
            Route("/repos/{owner}/{name}/commits/{sha}", self._commit),
            Route("/repos/{owner}/{name}/commits/{sha}/pulls", self._commit_pulls),
            Route("/repos/{owner}/{name}/branches/{branch:path}", self._branch),
            Route("/repos/{owner}/{name}/git/ref/{ref:path}", self._git_ref,
                  methods=["GET", "DELETE"]),
            Route("/repos/{owner}/{name}/git/refs/{ref:path}", self._git_ref,
                  methods=["GET", "DELETE"]),
            Route("/repos/{owner}/{name}/deployments", self._deployments),
            Route("/repos/{owner}/{name}/releases", self._releases),
        ])

    def _auth(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer"):
            return self.tokens.get(value.strip())
        if scheme.lower() == "basic":
            try:
                _, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            return self.tokens.get(secret)
        return None

    def _find(self, request: Request) -> tuple[FakeRepo | None, Response | None]:
        with self.lock:
            self.requests.append((request.method, request.url.path))
        if self._auth(request) is None:
            return None, JSONResponse({"message": "Bad credentials"}, status_code=401)
        full = f"{request.path_params['owner']}/{request.path_params['name']}"
        repo = self.repos.get(full)
        if repo is None:
            return None, JSONResponse({"message": "Not Found"}, status_code=404)
        return repo, None

    async def _git(self, request: Request) -> Response:
        user = self._auth(request)
        if user is None:
            return Response("authentication required", status_code=401,
                            headers={"WWW-Authenticate": 'Basic realm="fake github"'})
        full = f"{request.path_params['owner']}/{request.path_params['name']}"
        repo = self.repos.get(full)
        if repo is None:
            return Response("not found", status_code=404)
        rest = request.path_params["rest"]
        body = await request.body()
        if rest == "git-receive-pack":
            plain = body
            encoding = request.headers.get("content-encoding", "")
            if encoding == "gzip":
                plain = gzip.decompress(body)
            elif encoding == "deflate":
                plain = zlib.decompress(body)
            blocked = sorted(set(pushed_refs(plain)) & {f"refs/heads/{b}" for b in repo.protected})
            if blocked:
                with self.lock:
                    self.refused_pushes.extend(blocked)
                return Response(f"push to protected branch refused: {', '.join(blocked)}",
                                status_code=403)
        env = {"GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": f"/{full}.git/{rest}", "REQUEST_METHOD": request.method,
               "QUERY_STRING": request.url.query, "REMOTE_USER": user,
               "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": request.headers.get("content-type", ""),
               "CONTENT_LENGTH": str(len(body)), "PATH": os.environ.get("PATH", "")}
        if request.headers.get("content-encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
        if request.headers.get("git-protocol"):
            env["GIT_PROTOCOL"] = request.headers["git-protocol"]
        process = await asyncio.create_subprocess_exec(
            "git", "http-backend", env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, _ = await process.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _ and b"\n\n" in out:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        return Response(payload, status_code=status, headers=headers)

    async def _rate_limit(self, request: Request) -> Response:
        # GitHub's own "is this token good?" probe: it costs no rate limit.
        if self._auth(request) is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        core = {"limit": 5000, "remaining": 4999, "reset": 1900000000, "used": 1}
        return JSONResponse({"resources": {"core": core}, "rate": core})

    async def _repo(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        return JSONResponse(self._repo_json(repo))

    async def _pulls(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        if request.method == "POST":
            data = await request.json()
            head, base = str(data.get("head", "")), str(data.get("base", ""))
            if ":" in head:
                head = head.split(":", 1)[1]
            if self.ref_sha(repo.full_name, head) is None:
                return JSONResponse({"message": "Validation Failed", "errors": [
                    {"resource": "PullRequest", "field": "head", "code": "invalid"}]},
                    status_code=422)
            with self.lock:
                if any(p.head == head and p.state == "open" for p in self.pulls[repo.full_name]):
                    return JSONResponse({"message": "Validation Failed", "errors": [{
                        "message": f"A pull request already exists for {head}."}]},
                        status_code=422)
                number = len(self.pulls[repo.full_name]) + 1
                pr = Pull(number=number, repo=repo.full_name, title=str(data.get("title", "")),
                          body=str(data.get("body") or ""), head=head, base=base,
                          draft=bool(data.get("draft", False)),
                          user=self._auth(request) or "unknown")
                self.pulls[repo.full_name].append(pr)
            waited = 0.0
            while waited < self.answer_delay:  # setting it to 0 releases the answer
                await asyncio.sleep(0.05)
                waited += 0.05
            return JSONResponse(self._pull_json(pr), status_code=201)
        query = request.query_params
        state = query.get("state", "open")
        head_filter = query.get("head")
        with self.lock:
            items = [p for p in self.pulls[repo.full_name]
                     if (state == "all" or p.state == state)
                     and (head_filter is None
                          or f"{repo.full_name.split('/')[0]}:{p.head}" == head_filter)
                     and (query.get("base") is None or p.base == query.get("base"))]
        items.sort(key=lambda p: p.updated_at if query.get("sort") == "updated" else
                   str(p.number).zfill(8), reverse=query.get("direction", "desc") == "desc"
                   if query.get("sort") else True)
        return JSONResponse([self._pull_json(p) for p in items])

    def _get_pull(self, repo: FakeRepo, number: int) -> Pull | None:
        return next((p for p in self.pulls[repo.full_name] if p.number == number), None)

    def _find_pull(self, request: Request) -> tuple[FakeRepo, Pull] | Response:
        """The repository and pull request a `/pulls/{number}/...` request names, or the
        answer GitHub gives when either is missing (401, 404)."""
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        pr = self._get_pull(repo, request.path_params["number"])
        if pr is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return repo, pr

    async def _pull(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        _, pr = found
        if request.method == "PATCH":
            data = await request.json()
            with self.lock:
                pr.title = str(data.get("title", pr.title))
                pr.body = str(data.get("body", pr.body))
                if data.get("state") == "closed" and pr.state == "open":
                    pr.state, pr.closed_at = "closed", _now()
                    pr.head_sha_at_close = self.ref_sha(pr.repo, pr.head)
                if "draft" in data:
                    pr.draft = bool(data["draft"])
                pr.updated_at = _now()
        return JSONResponse(self._pull_json(pr))

    async def _reviewers(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        _, pr = found
        data = await request.json()
        with self.lock:
            pr.reviewers += [r for r in data.get("reviewers", []) if r not in pr.reviewers]
            pr.team_reviewers += [t for t in data.get("team_reviewers", [])
                                  if t not in pr.team_reviewers]
        return JSONResponse(self._pull_json(pr), status_code=201)

    async def _reviews(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        _, pr = found
        if request.method == "POST":
            # Recorded so a test can prove nightowl never reviews (never approves) anything.
            data = await request.json()
            with self.lock:
                pr.reviews.append({"id": next(self._ids), "state": data.get("event", ""),
                                   "user": self._user(self._auth(request) or "?"),
                                   "body": data.get("body", ""), "submitted_at": _now()})
            return JSONResponse(pr.reviews[-1])
        return JSONResponse(pr.reviews)

    async def _merge(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        repo, pr = found
        if request.method == "PUT":
            self.merge(repo.full_name, pr.number)
            return JSONResponse({"merged": True, "sha": pr.merge_commit_sha})
        return Response(status_code=204 if pr.merged else 404)

    async def _pull_commits(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        repo, pr = found
        head = self.ref_sha(repo.full_name, pr.head) or pr.head_sha_at_close
        if head is None:
            return JSONResponse([])
        shas = git(repo.path, "rev-list", "--reverse", head, f"^refs/heads/{pr.base}").split()
        return JSONResponse([self._commit_json(repo.full_name, s) for s in shas])

    async def _labels(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        _, pr = found
        if request.method in ("POST", "PUT"):
            data = await request.json()
            names = data.get("labels", []) if isinstance(data, dict) else data
            with self.lock:
                if request.method == "PUT":
                    pr.labels = []
                pr.labels += [str(n) for n in names if n not in pr.labels]
        return JSONResponse([{"name": n} for n in pr.labels])

    async def _comments(self, request: Request) -> Response:
        found = self._find_pull(request)
        if isinstance(found, Response):
            return found
        repo, pr = found
        if request.method == "POST":
            data = await request.json()
            number = next(self._ids)
            comment = {"id": number, "body": str(data.get("body", "")),
                       "user": self._user(self._auth(request) or "?"), "created_at": _now(),
                       "url": f"{self._repo_url(repo.full_name)}/issues/comments/{number}"}
            with self.lock:
                pr.comments.append(comment)
            return JSONResponse(comment, status_code=201)
        return JSONResponse(pr.comments)

    async def _contents(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        path = request.path_params["path"]
        ref = request.query_params.get("ref") or repo.default_branch
        try:
            blob = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=repo.path, check=True,
                                  capture_output=True).stdout
        except subprocess.CalledProcessError:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        url = f"{self._repo_url(repo.full_name)}/contents/{path}"
        return JSONResponse({"type": "file", "encoding": "base64", "size": len(blob),
                             "name": path.rsplit("/", 1)[-1], "path": path, "url": url,
                             "sha": git(repo.path, "rev-parse", f"{ref}:{path}"),
                             "content": base64.b64encode(blob).decode()})

    async def _commit(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        try:
            return JSONResponse(self._commit_json(repo.full_name, request.path_params["sha"]))
        except subprocess.CalledProcessError:
            return JSONResponse({"message": "No commit found"}, status_code=422)

    async def _commit_pulls(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        sha = request.path_params["sha"]
        found = [p for p in self.pulls[repo.full_name] if p.merge_commit_sha == sha]
        return JSONResponse([self._pull_json(p) for p in found])

    async def _branch(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        branch = request.path_params["branch"]
        sha = self.ref_sha(repo.full_name, branch)
        if sha is None:
            return JSONResponse({"message": "Branch not found"}, status_code=404)
        return JSONResponse({"name": branch, "protected": branch in repo.protected,
                             "commit": self._commit_json(repo.full_name, sha)})

    async def _git_ref(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        ref = request.path_params["ref"]
        if not ref.startswith("heads/"):
            return JSONResponse({"message": "Not Found"}, status_code=404)
        branch = ref.removeprefix("heads/")
        sha = self.ref_sha(repo.full_name, branch)
        if sha is None:
            return JSONResponse({"message": "Reference does not exist"}, status_code=404)
        if request.method == "DELETE":
            if branch in repo.protected:
                return JSONResponse({"message": "protected branch"}, status_code=422)
            git(repo.path, "update-ref", "-d", f"refs/heads/{branch}")
            return Response(status_code=204)
        return JSONResponse({"ref": f"refs/{ref}", "node_id": "x",
                             "url": f"{self._repo_url(repo.full_name)}/git/refs/{ref}",
                             "object": {"sha": sha, "type": "commit", "url": ""}})

    async def _deployments(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        env = request.query_params.get("environment")
        return JSONResponse([d for d in repo.deployments
                             if env is None or d["environment"] == env])

    async def _releases(self, request: Request) -> Response:
        repo, error = self._find(request)
        if repo is None:
            return error or Response(status_code=500)
        return JSONResponse(repo.releases)


def pushed_refs(body: bytes) -> list[str]:
    """The refs a receive-pack request updates: its pkt-lines up to the first flush
    (`<old> <new> <ref>\\0<capabilities>`)."""
    refs: list[str] = []
    at = 0
    while at + 4 <= len(body):
        try:
            size = int(body[at:at + 4], 16)
        except ValueError:
            break
        if size == 0:
            break
        line = body[at + 4:at + size].split(b"\0", 1)[0].strip()
        parts = line.split(b" ")
        if len(parts) == 3:
            refs.append(parts[2].decode(errors="replace"))
        at += size
    return refs
