"""The fix-novel generator (evals/fix/novel.py): its cases are what they claim to be, in real
repositories with errors from running the code, and the engine handles the hardest shape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agents.dev.engine import FixOptions, run_fix
from agents.dev.types import FixCase
from evals.fix.novel import build_novel_case
from evals.fix.novel_services import NOVEL

SHAPES = {f.shape: f for f in NOVEL}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def load(directory: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    return (json.loads((directory / "case.json").read_text()),
            json.loads((directory / "truth.json").read_text()))


def test_every_shape_is_distinct_and_named() -> None:
    assert set(SHAPES) == {"deep-callee", "default-arg", "serializer-key", "merge",
                           "two-commits", "caller-input", "renamed", "vendored"}


def test_merge_case_blames_a_branch_commit_older_than_the_range(tmp_path: Path) -> None:
    case, truth = load(build_novel_case(tmp_path, SHAPES["merge"], seed=3, variant=0))
    repo = tmp_path / case["id"] / "repo"
    [culprit] = truth["suspect_commits"]
    start, end = case["deploy"]["from"], case["deploy"]["to"]
    assert culprit in git(repo, "rev-list", f"{start}..{end}").split()
    assert int(git(repo, "log", "-1", "--format=%at", culprit)) < \
        int(git(repo, "log", "-1", "--format=%at", start))  # authored before the range began
    merges = git(repo, "rev-list", "--merges", f"{start}..{end}").split()
    assert any(culprit in git(repo, "rev-list", f"{m}^2").split() for m in merges)
    assert case["error"]["type"] == "KeyError" and truth["revert_should_apply"]


def test_renamed_case_names_the_new_path(tmp_path: Path) -> None:
    case, truth = load(build_novel_case(tmp_path, SHAPES["renamed"], seed=3, variant=1))
    assert truth["files"] == ["billing/metering.py"]
    assert case["error"]["frames"][-1]["filename"] == "billing/metering.py"
    repo = tmp_path / case["id"] / "repo"
    renames = git(repo, "log", "--diff-filter=R", "--format=%H",
                  f"{case['deploy']['from']}..{case['deploy']['to']}")
    assert renames  # the rename is inside the range, after the fault


async def test_two_commit_change_is_reverted_whole_and_green(tmp_path: Path) -> None:
    directory = build_novel_case(tmp_path, SHAPES["two-commits"], seed=3, variant=1)
    _, truth = load(directory)
    assert len(truth["revert_commits"]) == 2 and truth["revert_should_apply"]
    result = await run_fix(FixCase.load(directory), options=FixOptions(workdir=tmp_path))
    assert {s.commit for s in result.suspects[:2]} == set(truth["revert_commits"])
    rem = result.remediation
    assert rem.kind == "revert" and set(rem.commits) == set(truth["revert_commits"])
    assert rem.verified is not None and rem.verified.passed
