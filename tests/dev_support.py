"""Shared set-up for the Dev agent's PR tests: the fake GitHub with the orders repository, and
the real road (PyGithub client, git pusher, store) pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agents.dev.policy import marker
from agents.dev.pull_requests import Draft, PullRequestRoad
from integrations.github.client import GitHubClient
from integrations.github.push import BranchPusher
from integrations.github.repos import RepoTarget
from storage.dev import DevStore
from storage.ledger import MODELS_PAUSED, Ledger
from storage.repository import Store
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import ServiceRepo, orders_repo, revert_diff
from tests.fakes.server import ServerThread

TOKEN = "ghp_" + "n" * 36
REPO = "acme/orders"


@dataclass
class World:
    fake: FakeGitHub
    repo: ServiceRepo
    url: str
    tmp: Path

    def client(self) -> GitHubClient:
        return GitHubClient(token=TOKEN, base_url=self.url, seconds_between_requests=0,
                            seconds_between_writes=0, retries=0)

    def road(self, store: Store) -> PullRequestRoad:
        ledger = Ledger.beside(store)

        async def paused() -> bool:
            return await ledger.control(MODELS_PAUSED) == "true"

        return PullRequestRoad(github=self.client(),
                               pusher=BranchPusher(token=TOKEN, workdir=self.tmp / "work"),
                               store=DevStore.beside(store), audit=store, paused=paused,
                               bot_login="nightowl-bot")


@contextmanager
def github_world(tmp: Path) -> Iterator[World]:
    fake = FakeGitHub(root=tmp / "remote", tokens={TOKEN: "nightowl-bot"})
    repo = orders_repo(tmp / "src")
    with ServerThread(fake.app()) as server:
        fake.base_url = server.url
        fake.add_repo(REPO, repo.path)
        fake.logins["dave@example.com"] = "dave-gh"
        yield World(fake, repo, server.url, tmp)


def revert_draft(world: World, *, fingerprint: str = "sentry-42", **changes: object) -> Draft:
    body = f"Reverts the mapper change.\n\n{marker(fingerprint)}\n"
    values: dict[str, object] = dict(
        target=RepoTarget(service="orders", full_name=REPO), kind="revert",
        branch=f"nightowl/revert-{world.repo.bad[:10]}", title="Revert mapper change",
        body=body, commit_message=f"Revert mapper change\n\nThis reverts {world.repo.bad}.",
        diff=revert_diff(world.repo), fingerprint=fingerprint, suspect=world.repo.bad,
        suspect_login="dave-gh", labels=("nightowl", "revert"))
    values.update(changes)
    return Draft(**values)  # type: ignore[arg-type]
