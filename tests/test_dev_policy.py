"""The Dev agent's policy guard, on its own, and a scan proving no code merges, approves or
marks a pull request ready."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.dev.policy import Facts, Proposal, forbidden_path, guard, marker

ROOT = Path(__file__).resolve().parents[1]
DIFF = """diff --git a/orders/mapper.py b/orders/mapper.py
--- a/orders/mapper.py
+++ b/orders/mapper.py
@@ -1,2 +1,2 @@
 def to_dto(order):
-    return {"id": order["order_id"]}
+    return {"id": order["id"]}
"""


def proposal(**changes: object) -> Proposal:
    base = Proposal(repository="acme/orders", default_branch="main",
                    branch="nightowl/revert-abc123", base="main", kind="revert",
                    title="Revert abc123", body=f"Why.\n{marker('fp1')}",
                    commit_message="Revert abc123", diff=DIFF, files=("orders/mapper.py",),
                    changed_lines=2, fingerprint="fp1", suspect="abc123")
    return replace(base, **changes)  # type: ignore[arg-type]


def rules(p: Proposal, facts: Facts | None = None) -> list[str]:
    return [r.rule for r in guard(p, facts or Facts()).refusals]


def test_a_clean_revert_passes() -> None:
    verdict = guard(proposal(), Facts())
    assert verdict.allowed and verdict.refusals == ()


@pytest.mark.parametrize("branch", ["main", "feature/x", "refs/heads/main", "nightowl/../main",
                                    "nightowl/a b"])
def test_only_nightowl_branches_and_never_the_default(branch: str) -> None:
    assert not guard(proposal(branch=branch), Facts()).allowed


def test_base_must_be_the_default_branch_and_always_a_draft() -> None:
    assert "base" in rules(proposal(base="release"))
    assert "draft" in rules(proposal(draft=False))


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", ".github/CODEOWNERS", "CODEOWNERS",
                                  "docs/CODEOWNERS", ".env", ".env.production",
                                  "svc/.env.local", ".gitlab-ci.yml", ".circleci/config.yml",
                                  "Jenkinsfile", "app/migrations/0002_x.py",
                                  "storage/migrations/versions/0004.py", "poetry.lock",
                                  "web/package-lock.json"])
def test_forbidden_paths(path: str) -> None:
    assert forbidden_path(path, kind="revert") is not None
    assert "forbidden_path" in rules(proposal(files=("orders/mapper.py", path)))


def test_lockfiles_only_in_dependency_prs() -> None:
    assert forbidden_path("poetry.lock", kind="dependency") is None
    assert forbidden_path("orders/migrations_helper.py", kind="code") is None
    assert forbidden_path("orders/environment.py", kind="code") is None


def test_model_fixes_are_small_and_keep_their_tests() -> None:
    code = proposal(kind="code", by_model=True)
    assert guard(code, Facts()).allowed
    assert "fix_size" in rules(replace(code, files=("a.py", "b.py", "c.py")))
    assert "fix_size" in rules(replace(code, changed_lines=61))
    deleted = replace(code, files=("orders/mapper.py", "tests/test_mapper.py"),
                      deleted_files=("tests/test_mapper.py",))
    assert "tests" in rules(deleted)
    skip = DIFF + "+@pytest.mark.skip(reason='flaky')\n"
    assert "tests" in rules(replace(code, diff=skip))
    removed = DIFF + "-def test_to_dto():\n"
    assert "tests" in rules(replace(code, diff=removed))
    # A revert may take out the test its commit added: the test rules bind model fixes.
    assert guard(replace(proposal(), diff=removed), Facts()).allowed


def test_secrets_abort_in_the_diff_and_are_masked_in_texts() -> None:
    token = "ghp_" + "A" * 36
    assert "secret_in_diff" in rules(proposal(diff=DIFF + f"+TOKEN = '{token}'\n"))
    verdict = guard(proposal(body=f"see {token}\n{marker('fp1')}",
                             commit_message=f"Revert ({token})", title=f"Revert {token}"),
                    Facts())
    assert verdict.allowed  # masked, not refused
    assert token not in verdict.proposal.body + verdict.proposal.title \
        + verdict.proposal.commit_message
    assert [r.rule for r in verdict.refusals] == ["secret_in_text"] * 3


def test_body_size_and_marker() -> None:
    assert "body_size" in rules(proposal(body="x" * 60_000 + marker("fp1")))
    assert "marker" in rules(proposal(body="no marker"))
    assert "marker" in rules(proposal(fingerprint=""))


def test_rate_limits_per_repository_but_not_for_an_update_in_place() -> None:
    assert "rate_open" in rules(proposal(), Facts(open_prs=3))
    assert "rate_hour" in rules(proposal(), Facts(opened_last_hour=2))
    assert "rate_day" in rules(proposal(), Facts(opened_last_day=5))
    assert guard(proposal(), Facts(open_prs=3, opened_last_hour=2, opened_last_day=5,
                                   updating=True)).allowed


def test_a_human_closed_fix_waits_for_a_new_release() -> None:
    closed = datetime(2026, 1, 8, tzinfo=UTC)
    assert "human_closed" in rules(proposal(), Facts(human_closed_at=closed))
    assert "human_closed" in rules(proposal(), Facts(
        human_closed_at=closed, latest_release_at=closed - timedelta(days=1)))
    assert guard(proposal(), Facts(human_closed_at=closed,
                                   latest_release_at=closed + timedelta(hours=1))).allowed


def test_stop_button_opt_out_and_shadow() -> None:
    assert "paused" in rules(proposal(), Facts(paused=True))
    assert "opted_out" in rules(proposal(), Facts(opted_out=True))
    verdict = guard(proposal(), Facts(shadow=True))
    assert verdict.allowed and verdict.shadow


# ---- nothing in the code base may merge, approve or mark a pull request ready ----------------

FORBIDDEN_CALLS = {"merge", "mark_ready_for_review", "enable_automerge", "create_review",
                   "create_review_comment_reply", "convert_to_draft"}
# "APPROVE" is the review event that approves (reading a review's "APPROVED" state is fine).
FORBIDDEN_EXACT = {"APPROVE"}
FORBIDDEN_TEXT = ("markPullRequestReadyForReview", "enablePullRequestAutoMerge",
                  "mergePullRequest", "/merge")


def product_sources() -> list[Path]:
    # storage/ is left out: SQLAlchemy's `session.merge` is not a pull request.
    return [p for package in ("agents", "bot", "integrations", "scheduler")
            for p in (ROOT / package).rglob("*.py")]


def offences(source: str, name: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in FORBIDDEN_CALLS:
                found.append(f"{name}:{node.lineno} calls .{node.func.attr}()")
            for keyword in node.keywords:
                if keyword.arg == "draft" and isinstance(keyword.value, ast.Constant) \
                        and keyword.value.value is False:
                    found.append(f"{name}:{node.lineno} passes draft=False")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                node.value.strip() in FORBIDDEN_EXACT
                or any(word in node.value for word in FORBIDDEN_TEXT)):
            found.append(f"{name}:{node.lineno} mentions {node.value[:40]!r}")
    return found


def test_no_code_merges_approves_or_marks_ready() -> None:
    sources = product_sources()
    assert any(p.name == "client.py" and p.parent.name == "github" for p in sources)
    found = [o for p in sources for o in offences(p.read_text(), str(p.relative_to(ROOT)))]
    assert found == []


def test_the_scan_catches_what_it_looks_for() -> None:
    bad = ("pr.merge()\npr.create_review(event='APPROVE')\npr.mark_ready_for_review()\n"
           "repo.create_pull(base='main', head='x', draft=False)\n")
    assert len(offences(bad, "bad.py")) == 5
