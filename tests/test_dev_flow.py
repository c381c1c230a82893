"""The Dev agent end to end, every boundary real: the wired service (build(settings)), the Bolt
app driven by signed clicks, the fake Slack, the fake Sentry, the fake GitHub backed by real
git, and the real engine (blame, revert).

1. A Sentry issue with a stack trace → the error scan's finding → suspect commits in its
   thread → Open revert PR (authorized, audited) → a draft PR → the thread follows it.
2. An Alertmanager alert → the investigation blames a deploy GitHub knows → the deploy's
   commits as suspects → Open revert PR → a draft PR.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo.run import alertmanager_payload
from integrations.telemetry.scenario import load_case
from tests.dev_e2e import DEMO, E2E, HOOK, READER, WRITER, dev_stack, until
from tests.dev_support import REPO
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def e2e(tmp_path: Path, fake_slack: tuple[FakeSlack, str]) -> AsyncIterator[E2E]:
    async with dev_stack(tmp_path, *fake_slack,
                         test_command="python -m pytest -x -q -p no:cacheprovider") as stack:
        yield stack


async def test_sentry_finding_to_a_draft_revert_pr_and_the_thread_follows_it(e2e: E2E) -> None:
    run = await e2e.background.runner.run("error_scan", trigger="manual")
    assert run is not None and run.outcome == "ok", run
    texts = e2e.thread_texts()
    assert any("Suspect commits in acme/orders" in t for t in texts), texts
    offer = next(c for c in e2e.slack.of("chat.postMessage")
                 if "Suspect commits" in str(c.args.get("text")))
    shown = json.dumps(offer.args["blocks"])
    assert e2e.world.repo.bad[:7] in shown and "Dave" in shown  # sha and author
    value, channel = e2e.button("dev_open_revert")
    # Someone outside the channel is refused, and the refusal is recorded.
    await e2e.click("dev_open_revert", value, user="U666", channel=channel)
    await until(lambda: any(a.action == "refused:open_pr" for a in e2e.audits()))
    await until(lambda: any("Sorry" in str(c.args.get("text")) for c in e2e.slack.of("respond")))
    assert e2e.world.fake.pulls[REPO] == []
    await e2e.click("dev_open_revert", value, user="U42", channel=channel)
    await until(lambda: any("Draft pull request opened" in t for t in e2e.thread_texts()))
    [pr] = e2e.world.fake.pulls[REPO]
    assert pr.draft and pr.head.startswith("nightowl/revert-") and pr.base == "main"
    assert pr.labels == ["nightowl", "revert"]
    assert pr.reviewers == ["carol"] and pr.team_reviewers == ["orders-team"]
    assert "@dave-gh" in pr.comments[0]["body"]
    # The revert was verified in the sandbox: the repository's tests fail before, pass after.
    assert "| exit 1 | exit 0 |" in pr.body, pr.body
    for expected in ("KeyError", "orders/mapper.py:2 in to_dto", "sentry-42",
                     e2e.world.repo.bad[:10], "Risk and rollback", "slack.com/archives/"):
        assert expected in pr.body, expected
    actions = [a.action for a in e2e.audits()]
    assert "dev_click:revert" in actions and "pr_opened" in actions
    # The revert really reverts: the branch's mapper reads "id" again.
    assert e2e.world.fake.ref_sha(REPO, "main") == e2e.world.repo.head
    # The thread follows the pull request.
    e2e.world.fake.approve(REPO, pr.number, by="carol")
    await e2e.background.runner.run("pr_sync", trigger="manual")
    assert any("approved by carol" in t for t in e2e.thread_texts())
    e2e.world.fake.merge(REPO, pr.number)
    await e2e.background.runner.run("pr_sync", trigger="manual")
    assert any("was merged by a human" in t for t in e2e.thread_texts())
    # A second scan of the same issue opens nothing new.
    await e2e.background.runner.run("error_scan", trigger="manual")
    assert len(e2e.world.fake.pulls[REPO]) == 1


async def test_alertmanager_deploy_regression_to_a_draft_revert_pr(e2e: E2E) -> None:
    case = load_case(DEMO)
    payload = alertmanager_payload(case, status="firing", scenario="frontend-errors")
    response = await e2e.http.post("/webhooks/alertmanager", json=payload,
                                   headers={"Authorization": f"Bearer {HOOK}"})
    assert response.status_code == 202
    await until(lambda: any("Suspect commits" in str(c.args.get("text"))
                            for c in e2e.slack.of("chat.postMessage")), timeout=120)
    value, channel = e2e.button("dev_open_revert")
    await e2e.click("dev_open_revert", value, user="U42", channel=channel)
    await until(lambda: any("Draft pull request opened" in t for t in e2e.thread_texts()))
    [pr] = e2e.world.fake.pulls[REPO]
    assert pr.draft and "deploy regression" not in pr.title
    assert e2e.world.repo.bad[:10] in pr.body and "Chain of evidence" in pr.body
    assert "deploy" in pr.body.lower()


async def test_an_unconfigured_service_says_which_variable_to_set(e2e: E2E) -> None:
    e2e.sentry.issues[0]["project"]["slug"] = "billing"
    await e2e.background.runner.run("error_scan", trigger="manual")
    assert any("NIGHTOWL_REPOS" in t for t in e2e.thread_texts()), e2e.thread_texts()
    assert e2e.world.fake.pulls[REPO] == []


async def test_an_agent_opens_the_offered_pr_through_the_rest_api(e2e: E2E) -> None:
    """POST /api/v1/pull-requests: the same flow as the button (policy guard, audit,
    thread), scoped to `write`, idempotent with a key; never a second PR."""
    run = await e2e.background.runner.run("error_scan", trigger="manual")
    assert run is not None and run.outcome == "ok", run
    listing = await e2e.http.get("/api/v1/findings",
                                 headers={"Authorization": f"Bearer {READER}"})
    finding_id = listing.json()["items"][0]["id"]
    body = {"finding_id": finding_id, "idempotency_key": "page-7"}
    refused = await e2e.http.post("/api/v1/pull-requests", json=body,
                                  headers={"Authorization": f"Bearer {READER}"})
    assert refused.status_code == 403 and "write" in refused.json()["error"]
    missing = await e2e.http.post("/api/v1/pull-requests", json={"incident_id": 999},
                                  headers={"Authorization": f"Bearer {WRITER}"})
    assert missing.status_code == 404
    wrong = await e2e.http.post("/api/v1/pull-requests",
                                json={"finding_id": finding_id, "action": "resource"},
                                headers={"Authorization": f"Bearer {WRITER}"})
    assert wrong.status_code == 422 and "offers a revert" in wrong.json()["error"]
    assert e2e.world.fake.pulls[REPO] == []
    answer = await e2e.http.post("/api/v1/pull-requests", json=body,
                                 headers={"Authorization": f"Bearer {WRITER}"})
    assert answer.status_code == 200, answer.text
    opened = answer.json()
    assert opened["outcome"] == "opened" and opened["kind"] == "revert"
    [pr] = e2e.world.fake.pulls[REPO]
    assert pr.draft and opened["number"] == pr.number and opened["pull_request_id"]
    assert any("Draft pull request opened" in t and "api:oncall-agent" in t
               for t in e2e.thread_texts()), e2e.thread_texts()
    again = await e2e.http.post("/api/v1/pull-requests", json=body,
                                headers={"Authorization": f"Bearer {WRITER}"})
    assert again.status_code == 200 and again.json()["number"] == pr.number
    assert len(e2e.world.fake.pulls[REPO]) == 1
    actions = [a.action for a in e2e.audits()]
    assert actions.count("api_open_pr:revert") == 1 and "pr_opened" in actions
    # The MCP tool is the same capability: asked again, it reports the open PR.
    from mcp import Client

    from bot.capabilities import Principal
    from bot.mcp.server import build_mcp_server

    caps = e2e.wiring.api.caps  # type: ignore[attr-defined]
    async with Client(build_mcp_server(
            caps, local=Principal("desk", frozenset({"read", "write"})))) as client:
        answer_mcp = await client.call_tool("open_pull_request", {"finding_id": finding_id})
        assert not answer_mcp.is_error
        text = getattr(answer_mcp.content[0], "text", "")
        assert json.loads(text)["number"] == pr.number, text
        bad = await client.call_tool("open_pull_request", {})
        assert bad.is_error and "exactly one of incident_id or finding_id" in str(
            getattr(bad.content[0], "text", ""))
    assert len(e2e.world.fake.pulls[REPO]) == 1


async def test_an_error_log_traceback_gets_suspect_commits(e2e: E2E) -> None:
    """A finding from error logs (no Sentry) whose example carries a Python traceback: its
    frames are parsed and the thread shows the suspect commit, as for a Sentry issue."""
    from datetime import UTC, datetime

    from storage.models import Finding

    example = ('ERROR orders.api: GET /orders/7 failed\n'
               'Traceback (most recent call last):\n'
               '  File "/srv/app/server.py", line 10, in handle\n'
               '    return route(request)\n'
               '  File "/srv/app/orders/mapper.py", line 2, in to_dto\n'
               '    return {"id": order["order_id"], "total": order["total"]}\n'
               "KeyError: 'order_id'")
    now = datetime.now(UTC)
    finding = Finding(source="logs", signature="logs-orders-keyerror", service="orders",
                      kind="new", title="GET /orders/<*> failed", example=example, count=12,
                      first_seen=now, last_seen=now, channel="#orders")
    posted = await e2e.wiring.service.surface.post("#orders", "new error", [])
    row = await e2e.wiring.dev.on_finding(finding, posted.channel, posted.ts)
    assert row is not None and row.suspect == e2e.world.repo.bad, row
    texts = e2e.thread_texts()
    assert any("Suspect commits in acme/orders" in t for t in texts), texts
    assert "server.py:10: file not in the repository" in " ".join(
        row.result["fix"]["notes"])
    plain = Finding(source="logs", signature="logs-orders-plain", service="orders",
                    kind="new", title="payment declined", example="payment declined",
                    first_seen=now, last_seen=now, channel="#orders")
    assert await e2e.wiring.dev.on_finding(plain, posted.channel, posted.ts) is None


async def test_the_pr_step_retried_after_its_reply_landed_adds_no_second_line(e2e: E2E) -> None:
    """A worker killed after the PR step's thread reply landed and before Temporal recorded
    the step: the step runs again. Its reply is keyed by flow run and step and found by its
    message metadata, so the thread keeps one line about the pull request; one PR."""
    from bot.flows import FIX_PR, OPEN_PR
    from storage.models import FixProposal

    run = await e2e.background.runner.run("error_scan", trigger="manual")
    assert run is not None and run.outcome == "ok", run
    dev = e2e.wiring.dev
    assert dev is not None
    [proposal] = await dev.store.proposals_of()
    assert isinstance(proposal, FixProposal) and proposal.id is not None
    step = e2e.wiring.service.flows[FIX_PR].step(OPEN_PR)
    state = {"proposal_id": proposal.id, "action": "revert", "user": "U42"}

    def pr_lines() -> list[str]:
        return [t for t in e2e.thread_texts()
                if "pull request" in t or "Already open" in t]

    first = await step.run(dict(state))
    assert first and first["outcome"] == "opened", first
    again = await step.run(dict(state))  # the retried attempt
    assert again and again["number"] == first["number"]
    assert len(pr_lines()) == 1, pr_lines()
    assert len(e2e.world.fake.pulls[REPO]) == 1
    # A person's later click (no flow step) is a new question: it is answered.
    await dev.flow.confirm(proposal.id, "revert", user="U42")
    assert len(pr_lines()) == 2 and "Already open" in pr_lines()[-1], pr_lines()
