"""Revert remediation: undo exactly the deploy's suspect commits, and prove it helps.

Only commits the deploy shipped are reverted (never older code, never merges' unrelated
halves), and only those whose score stands near the top suspect's, so a revert undoes the
regression and not the rest of the release. The revert runs in a throwaway worktree; a
conflict means no remediation and a message naming the conflicting files. With a test
command, the tests run in the sandbox before and after: the remediation carries both exit
codes, and it counts as verified only when they went from failing to passing.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agents.dev.sandbox import Sandbox
from agents.dev.types import Remediation, SuspectCommit, Verification
from integrations.github.errors import GitError, RevertConflict
from integrations.github.git import Git

log = logging.getLogger(__name__)

NEAR_TOP = 0.6  # a second in-range suspect is reverted too when it scores this share of the top


def revert_targets(suspects: Sequence[SuspectCommit]) -> list[SuspectCommit]:
    """The deploy's commits to revert: the top suspect when it is in range, plus others
    from the range that score nearly as high. Empty when the top suspect is old code."""
    if not suspects or not suspects[0].in_range:
        return []
    top = suspects[0].score
    return [s for s in suspects if s.in_range and s.score >= NEAR_TOP * top]


async def propose_revert(git: Git, deployed: str, suspects: Sequence[SuspectCommit], *,
                         test_command: str | None, sandbox: Sandbox,
                         workdir: Path | None = None) -> Remediation:
    targets = revert_targets(suspects)
    if not targets:
        return Remediation(message="no suspect commit in the deployed range: nothing to revert")
    # Newest first, so each revert applies on top of code that still has its successors.
    order = {c.sha: i for i, c in enumerate(await git.log(deployed, max_count=5000))}
    targets.sort(key=lambda s: order.get(s.commit, len(order)))
    shas = [s.commit for s in targets]
    branch = "nightowl/revert-" + "-".join(s[:10] for s in shas[:3])
    with tempfile.TemporaryDirectory(prefix="nightowl-revert-", dir=workdir) as tmp:
        tree = Path(tmp) / "tree"
        try:
            await git.worktree_add(tree, deployed)
        except GitError as exc:
            return Remediation(message=f"cannot check out {deployed[:12]}: {exc}")
        try:
            before = await sandbox.run(test_command, cwd=tree) if test_command else None
            try:
                await git.revert(tree, shas)
            except RevertConflict as exc:
                return Remediation(message=f"revert of {', '.join(s[:12] for s in shas)} "
                                   f"does not apply cleanly: conflicts in "
                                   f"{', '.join(exc.files)}; no revert proposed",
                                   files=exc.files, commits=tuple(shas))
            except GitError as exc:
                return Remediation(message=f"revert failed: {exc}", commits=tuple(shas))
            after = await sandbox.run(test_command, cwd=tree) if test_command else None
            diff = await git.diff(deployed, "HEAD", cwd=tree)
            names = await git.run("diff", "--name-only", deployed, "HEAD", cwd=tree)
        finally:
            await git.worktree_remove(tree)
    verified = None
    message = ""
    if test_command and before is not None and after is not None:
        verified = Verification(test_command, before.exit_code, after.exit_code)
        if before.timed_out or after.timed_out:
            message = "the test command ran out of time"
        elif not verified.passed:
            message = (f"the tests exit {before.exit_code} before the revert and "
                       f"{after.exit_code} after it: not verified")
        if not sandbox.isolated_network:
            message = (message + "; " if message else "") + (
                "tests ran without network isolation (unshare is unavailable here)")
    else:
        message = "no test command: the revert is not verified"
    return Remediation(kind="revert", branch=branch, diff=diff, verified=verified,
                       message=message, commits=tuple(shas),
                       files=tuple(f for f in names.out.splitlines() if f))
