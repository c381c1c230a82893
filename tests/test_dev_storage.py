"""The Dev agent's storage on SQLite and PostgreSQL: proposals, pull requests, the
per-repository counts and the "closed by a human" lookup the policy reads."""

from __future__ import annotations

from datetime import timedelta

from storage.dev import DevStore
from storage.models import FixProposal, PullRequest, utcnow
from storage.repository import Store


async def test_proposals_and_pull_requests(store: Store) -> None:
    dev = DevStore.beside(store)
    row = await dev.save_proposal(FixProposal(fingerprint="fp", service="orders",
                                              repository="acme/orders", status="confirmed",
                                              result={"k": [1]}))
    assert row.id is not None
    assert [r.id for r in await dev.resumable()] == [row.id]
    row.status, row.progress = "opened", {"number": 7}
    await dev.save_proposal(row)
    assert await dev.resumable() == []
    assert (await dev.proposal_for("fp", "acme/orders")).progress == {"number": 7}  # type: ignore[union-attr]
    now = utcnow()
    await dev.record_pull(PullRequest(proposal_id=row.id, repository="acme/orders", number=7,
                                      branch="nightowl/x", fingerprint="fp", suspect="abc"))
    await dev.record_pull(PullRequest(repository="acme/orders", number=3, branch="nightowl/y",
                                      fingerprint="old", suspect="def", state="closed",
                                      opened_at=now - timedelta(hours=5)))
    assert await dev.rate("acme/orders") == (1, 1, 2)
    assert (await dev.open_pull("acme/orders", "fp")).number == 7  # type: ignore[union-attr]
    assert await dev.human_closed("acme/orders", "fp", "abc") is None
    closed = (await dev.pulls())[0].model_copy(update={"state": "closed", "closed_by": "human",
                                                       "closed_at": now})
    await dev.record_pull(closed)
    when = await dev.human_closed("acme/orders", "fp", "abc")
    assert when is not None and abs((when.replace(tzinfo=None) - now.replace(tzinfo=None))
                                    .total_seconds()) < 1
    assert await dev.pulls() == []
    assert len(await dev.pulls(state=None)) == 2
