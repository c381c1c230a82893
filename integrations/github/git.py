"""The real `git` CLI, driven asynchronously: clones, blame, log, revert and worktrees.

Why the CLI and not a library: blame that follows renames and moved code (`-C -C`), line
history (`log -L`) and revert with conflict detection are git's own algorithms; re-implementing
them would be wrong in the cases that matter. Every command runs with a time limit, a neutral
locale and no terminal prompts, and every failure is a named exception (errors.py) whose
message says what was asked and what git answered.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from integrations.github.errors import (
    GitError,
    GitTimeout,
    MissingFile,
    NotARepository,
    RevertConflict,
    ShallowClone,
    UnknownRevision,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
# Commits nightowl itself makes (reverts, fixes) in its own worktrees.
IDENTITY = ("-c", "user.name=nightowl", "-c", "user.email=nightowl@localhost",
            "-c", "commit.gpgsign=false")
_FIELD = "\x1f"
_RECORD = "\x1e"
_LOG_FORMAT = _FIELD.join(("%H", "%P", "%an", "%ae", "%at", "%s")) + _RECORD
_PR_RE = re.compile(r"(?:\(#(\d+)\)\s*$|^Merge pull request #(\d+))")
_URL_SECRET_RE = re.compile(r"//[^/@\s]+@")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
FILE_CACHE = 64  # files kept per repository handle


def auth_env(token: str) -> dict[str, str]:
    """Git configuration, through the environment, that sends the token as an HTTP header.

    Never in the URL: git writes a clone's URL into its config (`remote.origin.url`) and
    every process list shows it. `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`
    live only in the environment of the one git process (and its own children), and an
    empty `credential.helper` keeps a machine's helper from storing the token anywhere.
    """
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            "GIT_CONFIG_KEY_1": "credential.helper", "GIT_CONFIG_VALUE_1": "",
            "GIT_ASKPASS": "true"}


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    when: datetime
    title: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def pr(self) -> int | None:
        """The pull request number GitHub puts in squash and merge titles, when there is one."""
        m = _PR_RE.search(self.title)
        return int(m.group(1) or m.group(2)) if m else None


@dataclass(frozen=True, slots=True)
class BlameLine:
    """Who last changed one line of a file at a commit, and where that line came from."""

    line: int            # line number in the blamed revision
    commit: str
    orig_path: str       # path in `commit` (differs after a rename or a move)
    orig_line: int
    author: str
    email: str
    when: datetime
    summary: str
    boundary: bool       # the commit is the root (or the range's boundary): nothing older
    text: str = ""       # the line's content at the blamed revision
    has_previous: bool = True  # False: the file did not exist before `commit`


@dataclass(frozen=True, slots=True)
class RunResult:
    code: int
    out: str
    err: str


class Git:
    """One repository (a checkout or a bare clone) and the git commands run against it."""

    def __init__(self, path: Path, *, git: str = "git",
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.path = path
        self._git = git
        self._timeout_s = timeout_s
        self._files: dict[tuple[str, str], str] = {}

    @classmethod
    async def open(cls, path: Path, *, git: str = "git",
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> Git:
        """The repository at `path`; NotARepository when there is none."""
        if not path.is_dir():
            raise NotARepository(f"{path}: no such directory")
        repo = cls(path, git=git, timeout_s=timeout_s)
        res = await repo.run("rev-parse", "--git-dir", check=False)
        if res.code != 0:
            raise NotARepository(f"{path}: not a git repository", stderr=res.err)
        return repo

    async def run(self, *args: str, cwd: Path | None = None, check: bool = True,
                  stdin: bytes | None = None, timeout_s: float | None = None,
                  env: dict[str, str] | None = None) -> RunResult:
        """`env`: extra variables for this one command (the clone cache's auth_env)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        base.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
        base.update(env or {})
        env = base
        proc = await asyncio.create_subprocess_exec(
            self._git, *args, cwd=str(cwd or self.path), env=env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin),
                                              timeout_s or self._timeout_s)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise GitTimeout(f"git {_show(args)} in {self.path}: no answer after "
                             f"{timeout_s or self._timeout_s:.0f}s") from exc
        res = RunResult(proc.returncode or 0, out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace"))
        if check and res.code != 0:
            raise GitError(f"git {_show(args)} failed in {self.path}: "
                           f"{res.err.strip()[:400]}", stderr=res.err)
        return res

    async def write_commit_graph(self) -> None:
        """Refresh the commit-graph with changed-path Bloom filters (as `git maintenance`
        does): blame and path-limited log then skip most commits without reading trees."""
        await self.run("commit-graph", "write", "--reachable", "--changed-paths", check=False)

    # -- revisions -------------------------------------------------------------------------

    async def is_shallow(self) -> bool:
        res = await self.run("rev-parse", "--is-shallow-repository", check=False)
        return res.out.strip() == "true"

    async def resolve(self, rev: str) -> str:
        """The full sha of a commit; UnknownRevision (or ShallowClone) when it is not here."""
        res = await self.run("rev-parse", "--verify", "--quiet", "--end-of-options",
                             f"{rev}^{{commit}}", check=False)
        if res.code != 0 or not res.out.strip():
            if await self.is_shallow():
                raise ShallowClone(f"{rev}: not in {self.path}, a shallow clone; "
                                   "fetch the full history (git fetch --unshallow)")
            raise UnknownRevision(f"{rev}: no such commit in {self.path}")
        return res.out.strip()

    async def is_ancestor(self, older: str, newer: str) -> bool:
        res = await self.run("merge-base", "--is-ancestor", older, newer, check=False)
        return res.code == 0

    async def commit(self, rev: str) -> Commit:
        commits = await self.log(rev, max_count=1)
        if not commits:
            raise UnknownRevision(f"{rev}: no such commit in {self.path}")
        return commits[0]

    async def commits(self, shas: Sequence[str]) -> list[Commit]:
        """Several commits in one call (unknown ones are left out)."""
        if not shas:
            return []
        res = await self.run("log", "--no-walk=unsorted", f"--format={_LOG_FORMAT}",
                             "--stdin", stdin="\n".join(shas).encode() + b"\n", check=False)
        if res.code == 0:
            return _parse_log(res.out)
        found = []
        for sha in shas:  # one bad sha fails the batch: fall back to one at a time
            try:
                found.append(await self.commit(sha))
            except GitError:
                continue
        return found

    async def log(self, *revs: str, paths: Sequence[str] = (), max_count: int | None = None,
                  no_merges: bool = False, follow: bool = False) -> list[Commit]:
        """Commits reachable as `git log REVS -- PATHS` lists them, newest first."""
        args = ["log", f"--format={_LOG_FORMAT}"]
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        if no_merges:
            args.append("--no-merges")
        if follow:
            args.append("--follow")
        args += [*revs, "--", *paths]
        res = await self.run(*args, check=False)
        if res.code != 0:
            raise await self._revision_error(revs, res.err)
        return _parse_log(res.out)

    async def range_commits(self, from_sha: str | None, to_sha: str) -> list[Commit]:
        """The commits a deploy shipped: `from..to` (everything up to `to` when no `from`)."""
        to_full = await self.resolve(to_sha)
        if from_sha is None:
            return await self.log(to_full)
        from_full = await self.resolve(from_sha)
        return await self.log(f"{from_full}..{to_full}")

    async def log_follow(self, rev: str, path: str, *,
                         max_count: int | None = None) -> list[Commit]:
        """Commits that changed `path` up to `rev`, following the file across renames."""
        await self.require_file(rev, path)
        return await self.log(rev, paths=[path], follow=True, max_count=max_count)

    async def line_log(self, revs: str, path: str, start: int, end: int) -> list[str]:
        """Shas in `revs` whose changes touched lines start..end of `path` (as of the tip).

        `git log -L` traces the range back through edits, so a commit that deleted lines
        inside it (a removed guard, say) is found too, which blame cannot show.
        """
        res = await self.run("log", "--format=%H", "-s", f"-L{start},{end}:{path}", revs,
                             check=False)
        if res.code != 0:
            if "There is no path" in res.err or "has only" in res.err:
                raise MissingFile(f"{path}: lines {start}-{end} not in {revs}", stderr=res.err)
            raise await self._revision_error((revs,), res.err)
        return [ln.strip() for ln in res.out.splitlines() if ln.strip()]

    # -- files and blame -------------------------------------------------------------------

    async def file_exists(self, rev: str, path: str) -> bool:
        res = await self.run("cat-file", "-e", f"{rev}:{path}", check=False)
        return res.code == 0

    async def require_file(self, rev: str, path: str) -> None:
        if not await self.file_exists(rev, path):
            await self.resolve(rev)
            raise MissingFile(f"{path}: not in the repository at {rev[:12]}")

    async def show_file(self, rev: str, path: str) -> str:
        # A file at a full sha never changes: blame and suspect-finding both read each frame's
        # file, so keep it (bounded; a branch name or HEAD is read afresh every time).
        key = (rev, path)
        if key in self._files:
            return self._files[key]
        res = await self.run("show", f"{rev}:{path}", check=False)
        if res.code != 0:
            await self.resolve(rev)
            raise MissingFile(f"{path}: not in the repository at {rev[:12]}", stderr=res.err)
        if _FULL_SHA.match(rev):
            if len(self._files) >= FILE_CACHE:
                self._files.pop(next(iter(self._files)))
            self._files[key] = res.out
        return res.out

    async def blame(self, rev: str, path: str, ranges: Sequence[tuple[int, int]], *,
                    copies: bool = True) -> list[BlameLine]:
        """Who last changed each line in `ranges` of `path` at `rev`.

        `-w` ignores whitespace-only changes (a reindent is not a cause), and renames are
        followed. With `copies`, lines that arrive with the file's creation (a move of code
        from another module) are traced further with `-C -C` from that commit: a second,
        short walk for those lines only, since `-C -C` over the whole history costs several
        times a plain blame on a long history. Ranges past the end of the file are clipped.
        """
        if not ranges:
            return []
        text = await self.show_file(rev, path)
        n_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        spans = [(max(1, lo), min(hi, n_lines)) for lo, hi in ranges]
        spans = [(lo, hi) for lo, hi in spans if lo <= hi]
        if not spans:
            return []
        lines = await self._blame(rev, path, spans, copies=False)
        if not copies:
            return lines
        created: dict[tuple[str, str], list[BlameLine]] = {}
        for b in lines:
            if not b.has_previous and not b.boundary:
                created.setdefault((b.commit, b.orig_path), []).append(b)
        for (sha, orig_path), group in created.items():
            try:
                traced = await self._blame(sha, orig_path,
                                           [(b.orig_line, b.orig_line) for b in group],
                                           copies=True)
            except GitError:
                continue
            by_orig = {t.line: t for t in traced}
            for i, b in enumerate(lines):
                t = by_orig.get(b.orig_line) if (b.commit, b.orig_path) == (sha, orig_path) \
                    else None
                if t is not None and t.commit != sha:
                    lines[i] = replace(t, line=b.line)
        return lines

    async def _blame(self, rev: str, path: str, spans: Sequence[tuple[int, int]], *,
                     copies: bool) -> list[BlameLine]:
        args = ["blame", "--porcelain", "-w", *(("-C", "-C") if copies else ())]
        for lo, hi in spans:
            args += ["-L", f"{lo},{hi}"]
        res = await self.run(*args, rev, "--", path, check=False)
        if res.code != 0:
            if "no such path" in res.err:
                raise MissingFile(f"{path}: not in the repository at {rev[:12]}",
                                  stderr=res.err)
            raise await self._revision_error((rev,), res.err)
        return _parse_blame(res.out)

    # -- worktrees, revert, diff -----------------------------------------------------------

    async def worktree_add(self, path: Path, rev: str) -> Path:
        """A detached checkout of `rev` at `path`, sharing this repository's objects."""
        sha = await self.resolve(rev)
        await self.run("worktree", "add", "--detach", "--force", str(path), sha)
        return path

    async def worktree_remove(self, path: Path) -> None:
        await self.run("worktree", "remove", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        await self.run("worktree", "prune", check=False)

    async def revert(self, worktree: Path, shas: Sequence[str]) -> str:
        """Revert `shas` (newest first) in `worktree`, one commit each; the new HEAD.

        A conflict aborts the whole revert, leaves the worktree as it was and raises
        RevertConflict listing the conflicting files.
        """
        for sha in shas:
            args = [*IDENTITY, "revert", "--no-edit"]
            commit = await self.commit(sha)
            if commit.is_merge:
                args += ["-m", "1"]  # undo what the merge brought into the mainline
            res = await self.run(*args, sha, cwd=worktree, check=False)
            if res.code != 0:
                unmerged = await self.run("diff", "--name-only", "--diff-filter=U",
                                          cwd=worktree, check=False)
                files = tuple(sorted({f for f in unmerged.out.splitlines() if f}))
                await self.run("revert", "--abort", cwd=worktree, check=False)
                if not files:
                    raise GitError(f"git revert {sha[:12]} failed: {res.err.strip()[:300]}",
                                   stderr=res.err)
                raise RevertConflict(f"reverting {sha[:12]} conflicts in "
                                     f"{', '.join(files)}", files=files)
        return (await self.run("rev-parse", "HEAD", cwd=worktree)).out.strip()

    async def diff(self, base: str, head: str = "HEAD", *, cwd: Path | None = None) -> str:
        return (await self.run("diff", "--no-color", "--no-ext-diff", base, head,
                               cwd=cwd)).out

    async def commit_all(self, worktree: Path, message: str) -> str:
        await self.run("add", "-A", cwd=worktree)
        await self.run(*IDENTITY, "commit", "-q", "--no-verify", "-m", message, cwd=worktree)
        return (await self.run("rev-parse", "HEAD", cwd=worktree)).out.strip()

    async def _revision_error(self, revs: Sequence[str], err: str) -> GitError:
        for rev in revs:
            for end in rev.split(".."):
                if end and not end.startswith("-"):
                    try:
                        await self.resolve(end)
                    except GitError as exc:
                        return exc
        return GitError(f"git failed in {self.path}: {err.strip()[:400]}", stderr=err)


class CloneCache:
    """Bare clones of remote repositories under one directory, fetched again on each use.

    Worktrees for reverts and fixes are checked out of these clones, so a repository is
    downloaded once per host and each piece of work still gets a clean tree.
    """

    def __init__(self, root: Path, *, git: str = "git",
                 timeout_s: float = DEFAULT_TIMEOUT_S, token: str | None = None) -> None:
        self.root = root
        self._git = git
        self._timeout_s = timeout_s
        self._locks: dict[str, asyncio.Lock] = {}
        # The token goes to clone and fetch only, as a header (auth_env), never in a URL.
        self._env = auth_env(token) if token else {}

    def path_for(self, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "__", name).strip("_.") or "repo"
        return self.root / f"{safe}.git"

    async def get(self, url: str, *, name: str, fetch: bool = True) -> Git:
        """The clone of `url` (cloned on first use, fetched again when `fetch`)."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            path = self.path_for(name)
            repo = Git(path, git=self._git, timeout_s=self._timeout_s)
            if not (path / "HEAD").exists():
                self.root.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".partial")
                shutil.rmtree(tmp, ignore_errors=True)
                log.info("cloning %s into %s", _redact_url(url), path)
                try:
                    await Git(self.root, git=self._git, timeout_s=self._timeout_s).run(
                        "clone", "--bare", "--quiet", url, str(tmp), env=self._env)
                except GitError as exc:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise GitError(f"cloning {_redact_url(url)} failed: "
                                   f"{_redact_url(exc.stderr.strip())[:300]}") from None
                tmp.rename(path)
                await repo.write_commit_graph()
            elif fetch:
                await _scrub_remote(repo, url)
                try:
                    await repo.run("fetch", "--quiet", "--prune", url,
                                   "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
                                   env=self._env)
                except GitError as exc:
                    raise GitError(f"fetching {_redact_url(url)} failed: "
                                   f"{_redact_url(exc.stderr.strip())[:300]}") from None
                await repo.write_commit_graph()
            return repo


async def _scrub_remote(repo: Git, url: str) -> None:
    """A clone made by an older nightowl kept `https://x-access-token:…@host/…` as its
    remote URL: replace it with the plain one so the token leaves the config file."""
    config = repo.path / "config"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if _URL_SECRET_RE.search(text):
        await repo.run("config", "remote.origin.url", _URL_SECRET_RE.sub("//", url),
                       check=False)


def _parse_log(out: str) -> list[Commit]:
    commits = []
    for record in out.split(_RECORD):
        record = record.strip("\n")
        if not record:
            continue
        parts = record.split(_FIELD)
        if len(parts) < 6:
            continue
        sha, parents, author, email, at, title = parts[:6]
        commits.append(Commit(sha=sha, parents=tuple(parents.split()), author=author,
                              email=email, when=datetime.fromtimestamp(int(at), tz=UTC),
                              title=title))
    return commits


def _parse_blame(out: str) -> list[BlameLine]:
    """Parse `git blame --porcelain`: headers appear only the first time a commit does."""
    info: dict[str, dict[str, str]] = {}
    lines: list[BlameLine] = []
    current: dict[str, str] = {}
    sha = ""
    orig = final = 0
    for raw in out.splitlines():
        if raw.startswith("\t"):
            meta = info.setdefault(sha, {})
            meta.update(current)
            lines.append(BlameLine(
                line=final, commit=sha, orig_path=meta.get("filename", ""), orig_line=orig,
                author=meta.get("author", ""), email=meta.get("author-mail", "").strip("<>"),
                when=datetime.fromtimestamp(int(meta.get("author-time", "0")), tz=UTC),
                summary=meta.get("summary", ""), boundary="boundary" in meta, text=raw[1:],
                has_previous="previous" in meta))
            current = {}
            continue
        head = raw.split(" ")
        if len(head) >= 3 and len(head[0]) >= 40 and all(c in "0123456789abcdef"
                                                         for c in head[0]):
            sha, orig, final = head[0], int(head[1]), int(head[2])
            current = {}
            continue
        key, _, value = raw.partition(" ")
        current[key] = value
    return lines


def _show(args: Sequence[str]) -> str:
    return _redact_url(" ".join(a for a in args if not a.startswith("user.")))[:200]


def _redact_url(text: str) -> str:
    """Drop credentials embedded in URLs (https://token@host/...) before logging them."""
    return _URL_SECRET_RE.sub("//***@", text)
