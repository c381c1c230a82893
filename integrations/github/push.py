"""Put a change on a branch of a GitHub repository with the real `git` CLI.

`prepare` fetches the base branch into a working copy kept per repository, checks out the
branch at it, applies the change (a unified diff), and commits it as nightowl; it returns what
will be pushed, so the policy guard judges the exact diff. `push` then sends it with
`--force-with-lease` against the sha nightowl pushed last (or "must not exist"), so a commit
a human added to the branch is never overwritten.

The token reaches git through `GIT_CONFIG_*` environment variables (an `http.extraHeader`),
never a command-line argument or a URL, so it does not show in process lists or error text.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from integrations.github.git import auth_env

log = logging.getLogger(__name__)

BOT_NAME = "nightowl"
BOT_EMAIL = "nightowl@users.noreply.github.com"


class PushError(Exception):
    """A git command failed; the message is git's own (no token is ever in it)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    workdir: Path
    branch: str
    base: str
    base_sha: str
    sha: str
    diff: str  # exactly what the branch changes against the base
    files: tuple[str, ...]
    added: int
    deleted: int
    deleted_files: tuple[str, ...]


class BranchPusher:
    def __init__(self, *, token: str, workdir: Path, timeout: float = 120.0,
                 author_name: str = BOT_NAME, author_email: str = BOT_EMAIL) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.author_name, self.author_email = author_name, author_email
        self._env = {
            "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(workdir),
            **auth_env(token),
            "GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }

    async def _git(self, cwd: Path, *args: str, stdin: bytes | None = None,
                   check: bool = True) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "git", *args, cwd=cwd, env=self._env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), self.timeout)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise PushError(f"git {args[0]} took longer than {self.timeout:.0f}s") from exc
        text = out.decode(errors="replace")
        if check and process.returncode != 0:
            raise PushError(f"git {args[0]} failed: {err.decode(errors='replace').strip()[:800]}")
        return process.returncode or 0, text

    def _dir(self, full_name: str) -> Path:
        return self.workdir / re.sub(r"[^A-Za-z0-9_.-]", "_", full_name)

    async def prepare(self, *, full_name: str, clone_url: str, base: str, branch: str,
                      diff: str, message: str) -> Prepared:
        """Raises PushError when the base cannot be fetched or the change does not apply
        (the message lists the files that conflict)."""
        cwd = self._dir(full_name)
        cwd.mkdir(parents=True, exist_ok=True)
        if not (cwd / ".git").exists():
            await self._git(cwd, "init", "-q")
        await self._git(cwd, "fetch", "-q", "--no-tags", "--depth=50", clone_url,
                        f"+refs/heads/{base}:refs/remotes/origin/{base}")
        await self._git(cwd, "checkout", "-q", "-f", "-B", branch, f"refs/remotes/origin/{base}")
        await self._git(cwd, "clean", "-q", "-fdx")
        base_sha = (await self._git(cwd, "rev-parse", "HEAD"))[1].strip()
        patch = diff if diff.endswith("\n") else diff + "\n"
        code, _ = await self._git(cwd, "apply", "--index", "--whitespace=nowarn", "-",
                                  stdin=patch.encode(), check=False)
        if code != 0:
            code, _ = await self._git(cwd, "apply", "--index", "--3way", "--whitespace=nowarn",
                                      "-", stdin=patch.encode(), check=False)
            if code != 0:
                _, listing = await self._git(cwd, "diff", "--name-only", "--diff-filter=U",
                                             check=False)
                await self._git(cwd, "reset", "-q", "--hard", base_sha, check=False)
                names = ", ".join(listing.split()) or ", ".join(_diff_files(diff)) or "?"
                raise PushError(f"the change no longer applies to {base}: conflicts in {names}")
        code, _ = await self._git(cwd, "diff", "--cached", "--quiet", check=False)
        if code == 0:
            raise PushError(f"the change is already in {base}: nothing to commit")
        await self._git(cwd, "commit", "-q", "--no-verify", "-F", "-", stdin=message.encode())
        sha = (await self._git(cwd, "rev-parse", "HEAD"))[1].strip()
        full_diff = (await self._git(cwd, "diff", "--no-color", "--no-ext-diff", base_sha,
                                     sha))[1]
        numstat = (await self._git(cwd, "diff", "--numstat", base_sha, sha))[1]
        deleted_listing = (await self._git(cwd, "diff", "--name-only", "--diff-filter=D",
                                           base_sha, sha))[1]
        files: list[str] = []
        added = deleted = 0
        for line in numstat.splitlines():
            a, d, path = [*line.split("\t", 2), "", "", ""][:3]
            files.append(path)
            added += int(a) if a.isdigit() else 0
            deleted += int(d) if d.isdigit() else 0
        return Prepared(workdir=cwd, branch=branch, base=base, base_sha=base_sha, sha=sha,
                        diff=full_diff, files=tuple(files), added=added, deleted=deleted,
                        deleted_files=tuple(deleted_listing.split()))

    async def push(self, prepared: Prepared, *, clone_url: str, expect: str | None) -> str:
        """Push the prepared branch; `expect` is the sha the remote branch must still have
        (None: it must not exist yet). Raises PushError when refused (protected branch,
        someone else pushed, no permission)."""
        lease = f"--force-with-lease=refs/heads/{prepared.branch}:{expect or ''}"
        await self._git(prepared.workdir, "push", "-q", "--no-verify", lease, clone_url,
                        f"{prepared.sha}:refs/heads/{prepared.branch}")
        return prepared.sha

    async def same_tree(self, prepared: Prepared, remote_sha: str, *, clone_url: str) -> bool:
        """Whether the remote branch already holds exactly the prepared change."""
        await self._git(prepared.workdir, "fetch", "-q", "--no-tags", "--depth=1", clone_url,
                        f"refs/heads/{prepared.branch}")
        _, theirs = await self._git(prepared.workdir, "rev-parse", "FETCH_HEAD^{tree}")
        _, ours = await self._git(prepared.workdir, "rev-parse", f"{prepared.sha}^{{tree}}")
        return theirs.strip() == ours.strip() and bool(remote_sha)


def _diff_files(diff: str) -> list[str]:
    return sorted({m.group(1) for m in re.finditer(r"^\+\+\+ b/(\S+)", diff, re.M)})
