"""`nightowl eval --suite fix`: score suspect commits, files and reverts on generated cases.

Per case: suspect@1/@3 (a true suspect among the first 1/3), file@1/@3, whether a revert
that should apply did apply and turned the tests green, policy violations in any proposed
diff, and the time taken. Next to nightowl, on the same cases and the same blame:

- Sentry's rule: the newest commit blamed on any in-app frame's line, at most 365 days
  older than the error's first event (Sentry's "suspect commits");
- top frame: the commit blamed on the innermost in-app frame's line (then the next frames').

Baselines name no files of their own; their file ranking is the frames, innermost first.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.dev import pr_body
from agents.dev.engine import FixOptions, run_fix
from agents.dev.policy import Facts, PRKind, Proposal, guard
from agents.dev.suspects import DEFAULT_WEIGHTS, Evidence, Weights, collect, rank, rank_files
from agents.dev.types import FixCase, FixResult
from evals.fix.generate import DEV_SEED, HELDOUT_SEED, generate
from evals.fix.novel import NOVEL_SEED, generate_novel
from integrations.github.git import Git

METHODS = ("nightowl", "sentry-rule", "top-frame")
_DIFF_PATH = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


@dataclass
class CaseScore:
    case: str
    fault: str
    suspect_at: dict[str, int | None] = field(default_factory=dict)  # method → rank (1-based)
    file_at: dict[str, int | None] = field(default_factory=dict)
    revert_expected: bool = False
    revert_applied: bool = False
    revert_green: bool = False
    revert_conflict_named: bool = False  # no revert, and the conflicting files were listed
    revert_complete: bool = False  # the revert undid every commit of the regression
    old_code_expected: bool = False  # truth: old code meeting new input from the range
    old_code_said: bool = False  # ... and the top suspect's `why` says so
    violations: int = 0
    refusals: list[str] = field(default_factory=list)  # the guard's rules that refused
    checked: bool = False  # a change was produced and went through the guard
    seconds: float = 0.0
    case_kind: str = ""
    notes: list[str] = field(default_factory=list)


def sentry_rule(ev: Evidence, first_seen: Any) -> list[str]:
    cutoff = first_seen - timedelta(days=365) if first_seen is not None else None
    blamed = {}
    for facts in ev.frames:
        b = facts.line_blame
        if b is not None and (cutoff is None or b.when >= cutoff):
            blamed[b.commit] = b.when
    return sorted(blamed, key=lambda s: blamed[s], reverse=True)


def top_frame(ev: Evidence) -> list[str]:
    out: list[str] = []
    for facts in sorted(ev.frames, key=lambda f: f.depth):
        b = facts.line_blame
        if b is not None and b.commit not in out:
            out.append(b.commit)
    return out


def _rank_of(found: list[str], truth: list[str]) -> int | None:
    for i, item in enumerate(found):
        if item in truth:
            return i + 1
    return None


async def score_case(directory: Path, truth: dict[str, Any], *, weights: Weights,
                     remediate: bool) -> CaseScore:
    case = FixCase.load(directory)
    started = time.perf_counter()
    result: FixResult = await run_fix(case, options=FixOptions(weights=weights,
                                                               remediate=remediate))
    elapsed = time.perf_counter() - started
    git = await Git.open(case.repo)
    # The baselines see the frames as the error marks them (a vendored copy is in-app).
    ev = await collect(git, case.error, case.deploy, weights=weights, keep_library=True)
    frame_files = [f.path for f in sorted(ev.frames, key=lambda f: f.depth)]
    score = CaseScore(case=case.id, fault=str(truth.get("fault", "")), seconds=elapsed,
                      case_kind=result.case, notes=list(result.notes))
    suspects = truth["suspect_commits"]
    files = truth["files"]
    score.suspect_at["nightowl"] = _rank_of([s.commit for s in result.suspects], suspects)
    score.suspect_at["sentry-rule"] = _rank_of(sentry_rule(ev, case.error.first_seen),
                                               suspects)
    score.suspect_at["top-frame"] = _rank_of(top_frame(ev), suspects)
    score.file_at["nightowl"] = _rank_of([f.path for f in result.files], files)
    score.file_at["sentry-rule"] = score.file_at["top-frame"] = _rank_of(
        list(dict.fromkeys(frame_files)), files)
    score.revert_expected = bool(truth.get("revert_should_apply"))
    rem = result.remediation
    score.revert_applied = rem.kind == "revert"
    score.revert_green = bool(rem.verified and rem.verified.passed)
    score.revert_conflict_named = rem.kind == "none" and bool(rem.files)
    score.checked = rem.kind != "none" and bool(rem.diff.strip())
    must_revert = set(truth.get("revert_commits") or suspects)
    score.revert_complete = score.revert_applied and must_revert <= set(rem.commits)
    score.old_code_expected = bool(truth.get("old_code_new_input"))
    score.old_code_said = bool(result.suspects) and "new input" in result.suspects[0].why
    score.refusals = policy_refusals(case, result)
    score.violations = len(score.refusals)
    return score


def policy_refusals(case: FixCase, result: FixResult) -> list[str]:
    """The real policy guard (agents/dev/policy.py) on the change the case produced, as the
    pull request road would put it: the branch, the diff and its files, the PR's title, body
    and commit message (pr_body). Every fatal refusal counts as a violation."""
    rem = result.remediation
    if rem.kind == "none" or not rem.diff.strip():
        return []
    kinds: dict[str, PRKind] = {"revert": "revert", "code": "code", "resource": "resource",
                                "config": "config"}
    ctx = pr_body.PRContext(kind=kinds.get(rem.kind, "code"), repository=f"eval/{case.id}",
                            fingerprint=f"eval-{case.id}", error=case.error,
                            remediation=rem, suspects=result.suspects, deploy=case.deploy,
                            case=result.case)
    files, deleted, changed = diff_facts(rem.diff)
    proposal = Proposal(repository=ctx.repository, default_branch="main", branch=rem.branch,
                        base="main", kind=ctx.kind, title=pr_body.title(ctx),
                        body=pr_body.body(ctx), commit_message=pr_body.commit_message(ctx),
                        diff=rem.diff, files=files, deleted_files=deleted,
                        changed_lines=changed, fingerprint=ctx.fingerprint,
                        suspect=result.suspects[0].commit if result.suspects else "",
                        by_model=rem.kind == "code")
    verdict = guard(proposal, Facts())
    return [f"{r.rule}: {r.reason}" for r in verdict.refusals if r.fatal]


def diff_facts(diff: str) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """(files, deleted files, changed lines) of a unified git diff."""
    files: list[str] = []
    deleted: list[str] = []
    changed = 0
    current = ""
    for line in diff.splitlines():
        m = _DIFF_PATH.match(line)
        if m:
            current = m.group(2)
            files.append(current)
        elif line.startswith("deleted file mode") and current:
            deleted.append(current)
        elif line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            changed += 1
    if not files:  # a diff without git's headers (difflib): its +++ lines name the files
        files = [ln[6:] if ln.startswith("+++ b/") else ln[4:]
                 for ln in diff.splitlines() if ln.startswith("+++ ")]
    return tuple(dict.fromkeys(files)), tuple(deleted), changed


def rank_only(ev: Evidence, weights: Weights) -> tuple[list[str], list[str]]:
    """nightowl's suspects and files without remediation (for weight sweeps)."""
    suspects, _ = rank(ev, weights=weights)
    return [s.commit for s in suspects], [f.path for f in rank_files(ev, suspects,
                                                                    weights=weights)]


def summarise(scores: list[CaseScore]) -> dict[str, Any]:
    n = len(scores) or 1
    out: dict[str, Any] = {"cases": len(scores)}
    for method in METHODS:
        out[method] = {
            f"suspect@{k}": round(sum(1 for s in scores if (s.suspect_at[method] or 99) <= k)
                                  / n, 3) for k in (1, 3)}
        out[method].update({
            f"file@{k}": round(sum(1 for s in scores if (s.file_at[method] or 99) <= k)
                               / n, 3) for k in (1, 3)})
    expected = [s for s in scores if s.revert_expected]
    out["reverts"] = {"expected": len(expected),
                      "applied": sum(1 for s in expected if s.revert_applied),
                      "green": sum(1 for s in expected if s.revert_green),
                      "complete": sum(1 for s in expected if s.revert_complete),
                      "unexpected": sum(1 for s in scores
                                        if s.revert_applied and not s.revert_expected),
                      "conflicts_named": sum(1 for s in scores if s.revert_conflict_named)}
    out["old_code_new_input"] = {
        "expected": sum(1 for s in scores if s.old_code_expected),
        "said": sum(1 for s in scores if s.old_code_expected and s.old_code_said)}
    out["policy_violations"] = sum(s.violations for s in scores)
    out["policy_checked"] = sum(1 for s in scores if s.checked)
    out["policy_refusals"] = sorted({r for s in scores for r in s.refusals})[:10]
    out["seconds_per_case"] = round(sum(s.seconds for s in scores) / n, 3)
    return out


async def run(folder: Path, *, seed: int, weights: Weights = DEFAULT_WEIGHTS,
              remediate: bool = True, novel: bool = False
              ) -> tuple[list[CaseScore], dict[str, Any]]:
    import json

    cases = generate_novel(folder, seed=seed) if novel else generate(folder, seed=seed)
    scores = []
    for directory in cases:
        truth = json.loads((directory / "truth.json").read_text())
        scores.append(await score_case(directory, truth, weights=weights,
                                       remediate=remediate))
    return scores, summarise(scores)


def table(summary: dict[str, Any]) -> str:
    lines = [f"{summary.get('suite', 'fix')} suite: {summary['cases']} cases (Sentry's rule "
             "and top frame use the same blame)",
             f"{'method':<12} {'suspect@1':>9} {'suspect@3':>9} {'file@1':>7} {'file@3':>7}"]
    for method in METHODS:
        m = summary[method]
        lines.append(f"{method:<12} {m['suspect@1']:>9.2f} {m['suspect@3']:>9.2f} "
                     f"{m['file@1']:>7.2f} {m['file@3']:>7.2f}")
    r = summary["reverts"]
    lines.append(f"reverts: {r['applied']}/{r['expected']} applied, {r['green']}/"
                 f"{r['expected']} turned the tests green, {r['complete']}/{r['expected']} "
                 f"undid every commit of the regression, {r['unexpected']} proposed where "
                 f"none applies; {r['conflicts_named']} refused on a conflict, files named")
    o = summary["old_code_new_input"]
    if o["expected"]:
        lines.append(f"old code meeting new input: said on {o['said']}/{o['expected']}")
    lines.append(f"policy violations: {summary['policy_violations']} (agents/dev/policy.py's "
                 f"guard on {summary['policy_checked']} produced changes); "
                 f"{summary['seconds_per_case']:.2f} s per case")
    return "\n".join(lines)


def evaluate_fix(names: list[str], cache: Path, *, as_json: bool) -> int:
    """`nightowl eval --suite fix` (development seed), `--suite fix-heldout` (the same
    templates, other histories), `--suite fix-novel` (other bug shapes: evals/fix/novel.py)."""
    import json

    for name in names:
        novel = name == "fix-novel"
        seed = NOVEL_SEED if novel else HELDOUT_SEED if name == "fix-heldout" else DEV_SEED
        started = time.perf_counter()
        folder = cache / (f"fix-novel-seed{seed}" if novel else f"fix-seed{seed}")
        _, summary = asyncio.run(run(folder, seed=seed, novel=novel))
        summary.update(suite=name, seed=seed,
                       wall_s=round(time.perf_counter() - started, 2))
        print(json.dumps(summary) if as_json else table(summary) +
              f"\n(seed {seed}, {summary['wall_s']}s)\n")
    return 0
