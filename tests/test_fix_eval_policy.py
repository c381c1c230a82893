"""The fix eval counts policy violations with the real guard (agents/dev/policy.py) on the
change each case produced, not with a list of paths of its own."""

from __future__ import annotations

from pathlib import Path

from agents.dev.types import (
    ErrorEvent,
    FixCase,
    FixResult,
    Frame,
    Remediation,
    SuspectCommit,
)
from evals.fix.run import diff_facts, policy_refusals

CASE = FixCase(id="c1", repo=Path("."), error=ErrorEvent(
    "KeyError: 'id'", "KeyError", "'id'", service="orders",
    frames=(Frame("orders/mapper.py", 2, "to_dto"),)))
SUSPECT = SuspectCommit(commit="a" * 40, author="Dave", title="Read order_id", score=0.9,
                        why="changed the raising line", in_range=True)


def diff(path: str, removed: str, added: str, *, deleted: bool = False) -> str:
    head = f"diff --git a/{path} b/{path}\n" + ("deleted file mode 100644\n" if deleted else "")
    return (head + f"--- a/{path}\n+++ {'/dev/null' if deleted else 'b/' + path}\n"
            f"@@ -1 +1 @@\n-{removed}\n" + ("" if deleted else f"+{added}\n"))


def result(kind: str, text: str, branch: str = "nightowl/revert-aaaaaaaaaa") -> FixResult:
    return FixResult(suspects=(SUSPECT,), case="new_code", remediation=Remediation(
        kind=kind, branch=branch, diff=text, files=diff_facts(text)[0]))  # type: ignore[arg-type]


def test_a_clean_revert_passes_the_guard() -> None:
    text = diff("orders/mapper.py", '    return order["order_id"]', '    return order["id"]')
    assert policy_refusals(CASE, result("revert", text)) == []
    assert policy_refusals(CASE, FixResult()) == []  # nothing produced, nothing to judge


def test_the_guards_own_rules_count() -> None:
    ci = diff(".github/workflows/ci.yml", "on: push", "on: []")
    assert any(r.startswith("forbidden_path") for r in policy_refusals(CASE, result("revert", ci)))
    secret = diff("orders/mapper.py", "x = 1", "TOKEN = 'ghp_" + "a" * 36 + "'")
    assert any("secret" in r for r in policy_refusals(CASE, result("revert", secret)))
    gone = diff("tests/test_mapper.py", "def test_to_dto():", "", deleted=True)
    refused = policy_refusals(CASE, result("code", gone, "nightowl/code-x"))
    assert any("test" in r for r in refused), refused
    main = diff("orders/mapper.py", "a", "b")
    assert any(r.startswith("branch") for r in policy_refusals(CASE, result("revert", main,
                                                                             "main")))
