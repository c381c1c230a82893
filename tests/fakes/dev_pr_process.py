"""A real process that resumes the Dev agent's pull request flows over a database, against a
GitHub API URL: the crash test SIGKILLs it while GitHub creates the PR, then runs it again.

    python -m tests.fakes.dev_pr_process DATABASE_URL GITHUB_URL WORKDIR
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agents.dev.flow import DevFlow
from agents.dev.pull_requests import PullRequestRoad
from bot.console import ConsoleSurface
from bot.dev import SurfaceNotifier
from integrations.github.client import GitHubClient
from integrations.github.push import BranchPusher
from integrations.github.repos import parse_repos
from storage.db import make_engine
from storage.dev import DevStore
from storage.ledger import MODELS_PAUSED, Ledger
from storage.repository import Store
from tests.dev_support import REPO, TOKEN


async def main(database_url: str, github_url: str, workdir: Path) -> None:
    store = Store(make_engine(database_url))
    ledger = Ledger.beside(store)

    async def paused() -> bool:
        return await ledger.control(MODELS_PAUSED) == "true"

    github = GitHubClient(token=TOKEN, base_url=github_url, seconds_between_requests=0,
                          seconds_between_writes=0, retries=0, timeout=120)
    road = PullRequestRoad(github=github, pusher=BranchPusher(token=TOKEN, workdir=workdir),
                           store=DevStore.beside(store), audit=store, paused=paused)
    flow = DevFlow(repos=parse_repos({"orders": REPO}), store=DevStore.beside(store),
                   notifier=SurfaceNotifier(ConsoleSurface(sys.stdout), html_base=github_url),
                   diagnose=None, road=road, github=github)
    resumed = await flow.resume()
    print(f"resumed {resumed}", flush=True)
    store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
