"""The road from a remediation to a draft pull request, against the fake GitHub with real git:
one PR per fingerprint (updated in place), CODEOWNERS reviewers, labels, the suspect's author
cc'd, every refusal audited, and a run SIGKILLed while GitHub creates the PR ends, after a
restart, with exactly one PR."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agents.dev.policy import marker
from storage.db import make_engine, upgrade
from storage.dev import DevStore
from storage.ledger import MODELS_PAUSED, Ledger
from storage.models import AuditEvent, FixProposal
from storage.repository import Store
from tests.dev_support import REPO, World, github_world, revert_draft

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with github_world(tmp_path) as w:
        yield w


async def proposal(store: Store, fingerprint: str = "sentry-42") -> FixProposal:
    return await DevStore.beside(store).save_proposal(FixProposal(
        fingerprint=fingerprint, service="orders", repository=REPO, kind="revert",
        status="confirmed"))


def audits(store: Store) -> list[AuditEvent]:
    from sqlmodel import Session, col, select
    with Session(store.engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


async def test_opens_one_draft_and_updates_it_in_place(world: World, sqlite_store: Store) -> None:
    road = world.road(sqlite_store)
    row = await proposal(sqlite_store)
    opened = await road.open(row, revert_draft(world), actor="U1")
    assert opened.outcome == "opened", opened.reason
    pr = world.fake.pull(REPO, opened.number or 0)
    assert pr.draft and pr.base == "main" and pr.head.startswith("nightowl/")
    assert pr.labels == ["nightowl", "revert"]
    # CODEOWNERS: `orders/ @carol @acme/orders-team` is the last match for orders/mapper.py.
    assert pr.reviewers == ["carol"] and pr.team_reviewers == ["orders-team"]
    assert "@dave-gh" in pr.comments[0]["body"]
    assert marker("sentry-42") in pr.body
    assert world.fake.ref_sha(REPO, "main") == world.repo.head  # main untouched
    # The same error again, even under another branch name: the same PR, updated, never a
    # second one.
    again = await road.open(await proposal(sqlite_store), revert_draft(
        world, title="Revert mapper change (again)", branch="nightowl/revert-other"),
        actor="U2")
    assert again.outcome == "updated" and again.number == opened.number
    assert len(world.fake.pulls[REPO]) == 1
    assert world.fake.pull(REPO, pr.number).title.endswith("(again)")
    actions = [a.action for a in audits(sqlite_store)]
    assert actions == ["pr_opened", "pr_updated"]
    rows = await DevStore.beside(sqlite_store).pulls()
    assert [(r.number, r.state, r.fingerprint) for r in rows] == [(pr.number, "open",
                                                                   "sentry-42")]


async def test_refusals_are_audited_and_nothing_reaches_github(world: World,
                                                               sqlite_store: Store) -> None:
    road = world.road(sqlite_store)
    await Ledger.beside(sqlite_store).set_control(MODELS_PAUSED, "true", by="U9")
    opened = await road.open(await proposal(sqlite_store), revert_draft(world), actor="U1")
    assert opened.outcome == "refused" and "paused" in opened.refusals
    await Ledger.beside(sqlite_store).set_control(MODELS_PAUSED, "false", by="U9")
    target = replace(revert_draft(world).target, pull_requests=False)
    opened = await road.open(await proposal(sqlite_store), revert_draft(world, target=target),
                             actor="U1")
    assert opened.refusals == ("opted_out",)
    shadow = replace(revert_draft(world).target, shadow=True)
    shown = await road.open(await proposal(sqlite_store), revert_draft(world, target=shadow),
                            actor="U1")
    assert shown.outcome == "shadow" and "order_id" in shown.diff
    assert world.fake.pulls[REPO] == []
    assert world.fake.ref_sha(REPO, revert_draft(world).branch) is None
    rules = [a.detail.get("rule") for a in audits(sqlite_store) if a.action == "pr_refused"]
    assert rules == ["paused", "opted_out"]


async def test_a_change_that_no_longer_applies_fails_with_the_files(world: World,
                                                                    sqlite_store: Store) -> None:
    road = world.road(sqlite_store)
    bogus = ("--- a/orders/mapper.py\n+++ b/orders/mapper.py\n@@ -1,2 +1,2 @@\n"
             " def nothing_like_this():\n-    pass\n+    return 1\n")
    opened = await road.open(await proposal(sqlite_store), revert_draft(world, diff=bogus),
                             actor="U1")
    assert opened.outcome == "failed" and "orders/mapper.py" in opened.reason
    assert world.fake.pulls[REPO] == []
    row = (await DevStore.beside(sqlite_store).proposal_for("sentry-42", REPO))
    assert row is not None and row.status == "failed"


def test_sigkill_while_github_creates_the_pr_then_restart_gives_exactly_one(
        world: World, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/crash.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    draft = revert_draft(world)
    crash_store = Store(make_engine(url))
    import asyncio
    asyncio.run(DevStore.beside(crash_store).save_proposal(FixProposal(
        fingerprint="sentry-42", service="orders", repository=REPO, kind="revert",
        status="confirmed", suspect=world.repo.bad, requested_by="U1",
        result={"remediation": {"kind": "revert", "branch": draft.branch, "diff": draft.diff,
                                "commits": [world.repo.bad]},
                "report": {"error": {"title": "KeyError: 'order_id'", "type": "KeyError",
                                     "service": "orders", "frames": []}},
                "suspects": [{"commit": world.repo.bad, "author": "Dave",
                              "title": "Read order_id from the new schema", "score": 1.0,
                              "why": "changed the raising line"}]})))
    crash_store.close()
    world.fake.answer_delay = 30.0  # GitHub creates it, then the answer never comes in time
    command = [sys.executable, "-m", "tests.fakes.dev_pr_process", url, world.url,
               str(tmp_path / "child")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not world.fake.pulls[REPO]:
            assert child.poll() is None, child.stdout.read().decode() if child.stdout else ""
            assert time.monotonic() < deadline, "the child never reached GitHub"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    world.fake.answer_delay = 0.0
    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "resumed 1" in rerun.stdout
    assert len(world.fake.pulls[REPO]) == 1
    pr = world.fake.pulls[REPO][0]
    assert pr.labels == ["nightowl", "revert"] and pr.draft
    store = Store(make_engine(url))
    try:
        rows = asyncio.run(DevStore.beside(store).pulls())
        assert [r.number for r in rows] == [pr.number]
    finally:
        store.close()
