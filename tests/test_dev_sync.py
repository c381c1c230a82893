"""After the PR is open: GitHub as a change-event source, the PR sync job (stale PRs closed,
humans' pushes respected, a human's close remembered until the next release), the digest."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.console import ConsoleSurface
from bot.dev import SurfaceNotifier
from integrations.github.events import GitHubChangeSource
from integrations.github.repos import parse_repos
from integrations.telemetry.base import Window
from scheduler.jobs.digest import Digest, Durations, digest_message
from scheduler.jobs.pr_sync import PullRequestSyncJob
from storage.dev import DevStore
from storage.models import FixProposal
from storage.repository import Store
from tests.dev_support import REPO, World, github_world, revert_draft


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with github_world(tmp_path) as w:
        yield w


async def test_deployments_releases_and_merged_prs_become_deploy_events(world: World) -> None:
    fake = world.fake
    fake.add_deployment(REPO, sha=world.repo.base, created_at="2026-01-06T12:00:00Z")
    fake.add_deployment(REPO, sha=world.repo.head, created_at="2026-01-07T12:00:00Z")
    fake.add_deployment(REPO, sha=world.repo.head, created_at="2026-01-07T12:30:00Z",
                        environment="staging")
    fake.add_release(REPO, tag="v1", sha=world.repo.base, published_at="2026-01-06T13:00:00Z")
    fake.add_release(REPO, tag="v2", sha=world.repo.head, published_at="2026-01-07T13:00:00Z")
    source = GitHubChangeSource(world.client(), parse_repos({"orders": REPO, "web": REPO}))
    window = Window(datetime(2026, 1, 7, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC))
    result = await source.events(window, service="orders")
    assert result.info.status == "ok"
    assert [(e.kind, e.service, e.from_sha, e.to_sha) for e in result.events] == [
        ("deploy", "orders", world.repo.base, world.repo.head),  # the production deploy
        ("deploy", "orders", world.repo.base, world.repo.head),  # release v2 after v1
    ]
    assert all(e.repository == REPO for e in result.events)
    broken = GitHubChangeSource(world.client(), parse_repos({"orders": "acme/missing"}))
    failed = await broken.events(window)
    assert failed.info.status == "error" and "404" in (failed.info.error or "")


async def opened_pr(world: World, store: Store) -> tuple[FixProposal, int]:
    dev = DevStore.beside(store)
    row = await dev.save_proposal(FixProposal(
        fingerprint="sentry-42", service="orders", repository=REPO, status="confirmed",
        suspect=world.repo.bad, channel="C1", thread_ts="1.0"))
    opened = await world.road(store).open(row, revert_draft(world), actor="U42")
    assert opened.outcome == "opened" and opened.number is not None
    return row, opened.number


def sync_job(world: World, store: Store, out: io.StringIO, now: datetime) -> PullRequestSyncJob:
    return PullRequestSyncJob(store=DevStore.beside(store), github=world.client(),
                              notifier=SurfaceNotifier(ConsoleSurface(out), html_base="x"),
                              clock=lambda: now, stale_after=timedelta(days=7))


async def test_a_silent_error_closes_its_pr_unless_a_human_pushed(world: World,
                                                                  sqlite_store: Store) -> None:
    _, number = await opened_pr(world, sqlite_store)
    out = io.StringIO()
    soon = datetime.now(UTC) + timedelta(days=1)
    # Reviewers were named when it opened: nothing new to tell yet.
    assert (await sync_job(world, sqlite_store, out, soon).run()).items == 0
    assert out.getvalue() == "" and world.fake.pull(REPO, number).state == "open"
    later = datetime.now(UTC) + timedelta(days=8)
    branch = world.fake.pull(REPO, number).head
    world.fake.push_as_human(REPO, branch)
    await sync_job(world, sqlite_store, out, later).run()
    assert world.fake.pull(REPO, number).state == "open"  # a human's now: left alone
    # Without the human's commit it would have been closed: a fresh PR shows it.
    world.fake.pulls[REPO].clear()
    await DevStore.beside(sqlite_store).record_pull(
        (await DevStore.beside(sqlite_store).pulls())[0].model_copy(update={"state": "closed"}))
    world.fake.add_repo("acme/other", world.repo.path)
    _, number = await opened_pr_elsewhere(world, sqlite_store)
    await sync_job(world, sqlite_store, out, later).run()
    pr = world.fake.pull("acme/other", number)
    assert pr.state == "closed" and "has not been seen for 7 days" in pr.comments[-1]["body"]
    assert world.fake.ref_sha("acme/other", pr.head) is None  # its branch deleted
    assert "Closed" in out.getvalue()


async def opened_pr_elsewhere(world: World, store: Store) -> tuple[FixProposal, int]:
    dev = DevStore.beside(store)
    row = await dev.save_proposal(FixProposal(
        fingerprint="sentry-43", service="orders", repository="acme/other",
        status="confirmed", channel="C1", thread_ts="1.0"))
    draft = revert_draft(world, fingerprint="sentry-43")
    draft = draft.__class__(**{**{k: getattr(draft, k) for k in draft.__slots__},
                               "target": draft.target.__class__("orders", "acme/other")})
    opened = await world.road(store).open(row, draft, actor="U42")
    assert opened.outcome == "opened" and opened.number is not None
    return row, opened.number


async def test_a_human_close_is_remembered_until_the_next_release(world: World,
                                                                  sqlite_store: Store) -> None:
    _, number = await opened_pr(world, sqlite_store)
    world.fake.close(REPO, number)
    out = io.StringIO()
    await sync_job(world, sqlite_store, out, datetime.now(UTC)).run()
    assert "closed without merging" in out.getvalue()
    [row] = await DevStore.beside(sqlite_store).pulls(state="closed")
    assert row.closed_by == "human"
    again = await DevStore.beside(sqlite_store).save_proposal(FixProposal(
        fingerprint="sentry-42", service="orders", repository=REPO, status="confirmed"))
    refused = await world.road(sqlite_store).open(again, revert_draft(world), actor="U42")
    assert refused.outcome == "refused" and "human_closed" in refused.refusals
    world.fake.add_release(REPO, tag="v9", sha=world.repo.head,
                           published_at=(datetime.now(UTC) + timedelta(minutes=5))
                           .strftime("%Y-%m-%dT%H:%M:%SZ"))
    allowed = await world.road(sqlite_store).open(again, revert_draft(world), actor="U42")
    assert allowed.outcome in ("opened", "updated"), allowed


async def test_the_digest_lists_prs_awaiting_review(world: World, sqlite_store: Store) -> None:
    await opened_pr(world, sqlite_store)
    pulls = await DevStore.beside(sqlite_store).pulls()
    none = Durations(0, None, None)
    digest = Digest(channel="#m", day=datetime.now(UTC) - timedelta(days=1), opened=[],
                    resolved=[], still_open=[], ack=none, diagnosis=none, resolution=none,
                    confirmed=0, judged=0, noisiest=[], findings=[], awaiting_review=pulls)
    _, blocks = digest_message(digest)
    text = str(blocks)
    assert "Pull requests awaiting review" in text and f"{REPO}#1" in text


def test_the_dev_agent_is_off_and_silent_without_github_or_repos(sqlite_store: Store) -> None:
    from bot.dev import build_dev
    from bot.errors import StartupError
    from bot.settings import DevSettings, Settings

    base = Settings(database_url="sqlite://")
    off = build_dev(base.model_copy(update={"dev": DevSettings(github_token=None, repos={})}),
                    sqlite_store, ConsoleSurface(io.StringIO()))
    assert not off.enabled
    on = build_dev(base.model_copy(update={"dev": DevSettings(github_token=None,
                                                              repos={"orders": REPO})}),
                   sqlite_store, ConsoleSurface(io.StringIO()))
    assert on.enabled  # and says GITHUB_TOKEN is missing in the thread
    with pytest.raises(StartupError, match="NIGHTOWL_REPOS: orders"):
        build_dev(base.model_copy(update={"dev": DevSettings(repos={"orders": "not a repo"})}),
                  sqlite_store, ConsoleSurface(io.StringIO()))
