"""PyGithub and real git against the fake GitHub: what the Dev agent's PR road stands on."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.errors import RemoteError
from integrations.github.client import GitHubClient
from integrations.github.push import BranchPusher, PushError
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import ServiceRepo, orders_repo, revert_diff
from tests.fakes.server import ServerThread

TOKEN = "ghp_" + "t" * 36


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[FakeGitHub, ServiceRepo]]:
    fake = FakeGitHub(root=tmp_path / "remote", tokens={TOKEN: "nightowl-bot"})
    repo = orders_repo(tmp_path / "src")
    with ServerThread(fake.app()) as server:
        fake.base_url = server.url
        fake.add_repo("acme/orders", repo.path)
        fake.logins["dave@example.com"] = "dave-gh"
        yield fake, repo


async def test_pygithub_opens_a_draft_after_a_real_push(github: tuple[FakeGitHub, ServiceRepo],
                                                        tmp_path: Path) -> None:
    fake, repo = github
    client = GitHubClient(token=TOKEN, base_url=fake.base_url, seconds_between_requests=0,
                          seconds_between_writes=0)
    info = await client.repo("acme/orders")
    assert info.default_branch == "main" and info.clone_url.startswith(fake.base_url)
    pusher = BranchPusher(token=TOKEN, workdir=tmp_path / "work")
    prepared = await pusher.prepare(full_name="acme/orders", clone_url=info.clone_url,
                                    base="main", branch="nightowl/revert-x",
                                    diff=revert_diff(repo), message="Revert it")
    assert prepared.files == ("orders/mapper.py",) and prepared.added == 1
    await pusher.push(prepared, clone_url=info.clone_url, expect=None)
    assert fake.ref_sha("acme/orders", "nightowl/revert-x") == prepared.sha
    pr = await client.create_draft("acme/orders", head="nightowl/revert-x", base="main",
                                   title="Revert", body="body")
    assert pr.draft and pr.state == "open" and pr.head_sha == prepared.sha
    await client.add_labels("acme/orders", pr.number, ["nightowl", "revert"])
    await client.request_reviews("acme/orders", pr.number, users=["carol"],
                                 teams=["orders-team"])
    await client.comment("acme/orders", pr.number, "cc @dave-gh")
    found = await client.pulls_for_branch("acme/orders", "nightowl/revert-x")
    assert [p.number for p in found] == [pr.number]
    assert found[0].labels == ("nightowl", "revert") and found[0].reviewers == ("carol",)
    assert fake.pull("acme/orders", pr.number).comments[0]["body"] == "cc @dave-gh"
    codeowners = await client.file_text("acme/orders", ".github/CODEOWNERS")
    assert codeowners is not None and "@acme/orders-team" in codeowners
    assert await client.file_text("acme/orders", "CODEOWNERS") is None
    assert (await client.commit("acme/orders", repo.bad)).login == "dave-gh"
    # A second push with a stale lease is refused: a human's commit is never overwritten.
    fake.push_as_human("acme/orders", "nightowl/revert-x")
    with pytest.raises(PushError):
        await pusher.push(prepared, clone_url=info.clone_url, expect=prepared.sha)
    detail = await client.pull("acme/orders", pr.number, details=True)
    assert "alice@example.com" in detail.commit_emails
    fake.approve("acme/orders", pr.number)
    closed = await client.close("acme/orders", pr.number)
    assert closed.state == "closed" and not closed.merged
    await client.delete_branch("acme/orders", "nightowl/revert-x")
    assert fake.ref_sha("acme/orders", "nightowl/revert-x") is None


async def test_a_push_to_the_protected_default_branch_gets_403(
        github: tuple[FakeGitHub, ServiceRepo], tmp_path: Path) -> None:
    fake, repo = github
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    auth = f"http.extraHeader=Authorization: Bearer {TOKEN}"
    result = subprocess.run(["git", "-c", auth, "push", fake.clone_url("acme/orders"),
                             f"{repo.base}:refs/heads/main", "--force"],
                            cwd=clone, capture_output=True, text=True)
    assert result.returncode != 0 and "403" in result.stderr
    assert fake.refused_pushes == ["refs/heads/main"]
    assert fake.ref_sha("acme/orders", "main") == repo.head


async def test_github_failures_are_remote_errors(github: tuple[FakeGitHub, ServiceRepo]) -> None:
    fake, _ = github
    with pytest.raises(RemoteError, match="401"):
        await GitHubClient(token="wrong", base_url=fake.base_url).repo("acme/orders")
    with pytest.raises(RemoteError, match="404"):
        await GitHubClient(token=TOKEN, base_url=fake.base_url, seconds_between_requests=0,
                          seconds_between_writes=0).repo("acme/nope")
    with pytest.raises(RemoteError):
        await GitHubClient(token=TOKEN, base_url="http://127.0.0.1:9", retries=0).repo("a/b")


def test_nightowl_repos_forms_and_mistakes() -> None:
    from integrations.errors import ConfigurationError
    from integrations.github.repos import parse_repos

    repos = parse_repos({"orders": "acme/orders", "web": "acme/mono:services/web",
                         "billing": {"repo": "acme/billing", "pull_requests": False},
                         "search": {"repo": "acme/search", "shadow": True,
                                    "test_command": "make test"}})
    assert repos.for_service("web").path == "services/web"  # type: ignore[union-attr]
    assert not repos.for_service("billing").pull_requests  # type: ignore[union-attr]
    search = repos.for_service("search")
    assert search is not None and search.shadow and search.test_command == "make test"
    assert repos.for_service("nope") is None
    assert repos.repositories() == ["acme/billing", "acme/mono", "acme/orders", "acme/search"]
    for bad in ({"x": "not-a-repo"}, {"x": 3}, {"x": {"repo": "a/b", "typo": 1}}):
        with pytest.raises(ConfigurationError, match="NIGHTOWL_REPOS: x"):
            parse_repos(bad)
