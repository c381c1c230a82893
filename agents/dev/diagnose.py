"""Run the Dev agent's engine on a configured repository: the `Diagnose` the flow calls.

The repository is cloned once into the clone cache (and fetched on each use); the engine
blames the error's frames at the deployed commit and proposes a remediation. An error with
no in-app frame (an alert that blamed a deploy, not a stack trace) has nothing to blame:
then the suspects are the deploy's own commits and the remediation reverts them all.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from agents.dev.engine import FixOptions, run_fix
from agents.dev.flow import Diagnose, ResourceDiagnose
from agents.dev.manifests import resource_bump_in
from agents.dev.resource_need import ResourceFigures
from agents.dev.revert import propose_revert
from agents.dev.sandbox import Sandbox
from agents.dev.types import DeployRange, ErrorEvent, FixCase, FixResult, Remediation, SuspectCommit
from integrations.github.errors import GitError
from integrations.github.git import CloneCache, Git
from integrations.github.repos import RepoTarget
from integrations.llm.base import ModelClient

CloneUrl = Callable[[str], Awaitable[str]]


async def _clone(cache: CloneCache, clone_url: CloneUrl, target: RepoTarget) -> Git | FixResult:
    """The repository from the clone cache, or the result that says it could not be read."""
    url = await clone_url(target.full_name)
    try:
        return await cache.get(url, name=target.full_name)
    except GitError as exc:
        return FixResult(abstained=True, notes=(f"cloning {target.full_name} failed: {exc}",),
                         remediation=Remediation(message="the repository could not be read"))


def engine_diagnose(*, cache: CloneCache, clone_url: CloneUrl,
                    model: ModelClient | None = None, workdir: Path | None = None) -> Diagnose:
    """`cache` holds the token (sent as a header on clone and fetch, never in a URL)."""
    async def diagnose(target: RepoTarget, error: ErrorEvent,
                       deploy: DeployRange | None) -> FixResult:
        started = time.perf_counter()
        git = await _clone(cache, clone_url, target)
        if isinstance(git, FixResult):
            return git
        if any(f.in_app for f in error.frames) or deploy is None:
            case = FixCase(id=target.full_name, error=error, repo=git.path, deploy=deploy,
                           test_command=target.test_command)
            return await run_fix(case, model=model, options=FixOptions(workdir=workdir))
        result = await deploy_revert(git, deploy, workdir=workdir,
                                     test_command=target.test_command)
        return replace(result, elapsed_s=time.perf_counter() - started)

    return diagnose


async def deploy_revert(git: Git, deploy: DeployRange, *, workdir: Path | None,
                        test_command: str | None = None) -> FixResult:
    """No stack trace, but an investigation blamed this deploy: its commits are the suspects
    (newest first) and the remediation reverts exactly them."""
    try:
        commits = await git.range_commits(deploy.from_sha, deploy.to_sha)
    except GitError as exc:
        return FixResult(abstained=True, notes=(f"the deploy range is unusable: {exc}",),
                         remediation=Remediation(message="the deploy range does not exist"))
    commits = [c for c in commits if not c.is_merge]
    if not commits:
        return FixResult(abstained=True, notes=("the deploy shipped no commit",),
                         remediation=Remediation(message="nothing to revert"))
    span = f"{(deploy.from_sha or '')[:10]}..{deploy.to_sha[:10]}"
    suspects = [SuspectCommit(commit=c.sha, author=c.author, title=c.title, score=1.0,
                              why=f"shipped in the deploy {span} that the investigation "
                                  "blamed", when=c.when, pr=c.pr, in_range=True,
                              email=c.email) for c in commits]
    remediation = await propose_revert(git, deploy.to_sha, suspects, test_command=test_command,
                                       sandbox=Sandbox(), workdir=workdir)
    return FixResult(suspects=tuple(suspects), remediation=remediation, case="new_code",
                     notes=("no stack trace: every commit of the blamed deploy is a suspect",))


def engine_resources(*, cache: CloneCache, clone_url: CloneUrl) -> ResourceDiagnose:
    """The flow's resource step: the repository's manifest or Helm values for the container
    the investigation blamed, and the change to its `resources:`."""
    async def diagnose(target: RepoTarget, figures: ResourceFigures) -> FixResult:
        started = time.perf_counter()
        git = await _clone(cache, clone_url, target)
        if isinstance(git, FixResult):
            return git
        result = await resource_bump_in(git, "HEAD", figures, under=target.path)
        return replace(result, elapsed_s=time.perf_counter() - started)

    return diagnose
