"""The clone cache reaches a private repository of the fake GitHub (real git over HTTP, 401
without the token) with the token sent as a header from the environment: the token is in no
git command line and not in the clone's config; a clone an older version left with the token
in its remote URL is scrubbed on the next use."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from integrations.github.errors import GitError
from integrations.github.git import CloneCache
from tests.dev_support import REPO, TOKEN, github_world


def argv_logger(tmp: Path) -> tuple[Path, Path]:
    """A `git` that appends its command line to a log, then runs the real git."""
    log = tmp / "argv.log"
    script = tmp / "git-logged"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec git "$@"\n')
    script.chmod(0o755)
    return script, log


async def test_clone_and_fetch_send_the_token_as_a_header_only(tmp_path: Path) -> None:
    with github_world(tmp_path) as world:
        url = world.fake.clone_url(REPO)
        git_bin, log = argv_logger(tmp_path)
        # Without the token the fake answers 401, so the header is what gets us in.
        with pytest.raises(GitError):
            await CloneCache(tmp_path / "anon", git=str(git_bin)).get(url, name=REPO)
        cache = CloneCache(tmp_path / "cache", git=str(git_bin), token=TOKEN)
        clone = await cache.get(url, name=REPO)
        assert await clone.resolve("main") == world.repo.head
        await cache.get(url, name=REPO)  # the fetch path
        commands = log.read_text()
        assert "clone --bare" in commands and "fetch --quiet --prune" in commands
        assert TOKEN not in commands and "x-access-token" not in commands
        config = (clone.path / "config").read_text()
        assert TOKEN not in config and "extraheader" not in config.lower()
        assert url in config  # the plain URL is kept, as git does


async def test_a_token_left_in_an_old_clones_url_is_scrubbed(tmp_path: Path) -> None:
    with github_world(tmp_path) as world:
        url = world.fake.clone_url(REPO)
        cache = CloneCache(tmp_path / "cache", token=TOKEN)
        path = cache.path_for(REPO)
        leaky = url.replace("://", f"://x-access-token:{TOKEN}@")
        subprocess.run(["git", "clone", "--bare", "-q", leaky, str(path)], check=True,
                       capture_output=True)
        assert TOKEN in (path / "config").read_text()
        clone = await cache.get(url, name=REPO)
        assert TOKEN not in (clone.path / "config").read_text()
        assert await clone.resolve("main") == world.repo.head
